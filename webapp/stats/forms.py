"""Forms of the half-month reports: issue a period's report, and issue a correction."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from .reports import REASON_MAX


class IssueForm(FlaskForm):
    """出具: the office picks an ended period not issued yet (value: the period's first day)."""

    period = SelectField(_l("统计期间"), choices=[], validate_choice=False,
                         validators=[InputRequired(_l("请选择统计期间。"))])


class ReissueForm(FlaskForm):
    """重新出具（更正）: a new version with the reason; carries the version it corrects."""

    reason = TextAreaField(_l("更正原因"), validators=[
        InputRequired(_l("请填写更正原因。")),
        Length(max=REASON_MAX, message=_l("更正原因不能超过%(max)d字。")),
    ])
    version = HiddenField(validators=[InputRequired(_l("表单缺少版本号，请刷新页面。"))])
