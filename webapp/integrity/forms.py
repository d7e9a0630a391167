"""Forms of the integrity pages: reviewing a flag (核查属实 / 核查排除)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length

from ..core.forms import strip
from .models import FlagStatus
from .operations import NOTE_MAX


class ReviewForm(FlaskForm):
    """The office's conclusion on a flag; carries the flag's version (optimistic locking).

    The rules (a note to dismiss, no dismissing a flag an accountability record rests on) are
    ``operations.review``'s; it answers with the field names of this form."""

    status = RadioField(_l("核查结论"), choices=[SelectChoice(FlagStatus.confirmed.value, _l("核查属实")),
                                             SelectChoice(FlagStatus.dismissed.value, _l("核查排除"))],
                        validate_choice=False, validators=[InputRequired(_l("请选择核查结论。"))])
    note = TextAreaField(_l("核查情况说明"), filters=[strip],
                         validators=[Length(max=NOTE_MAX, message=_l("核查情况说明不能超过%(max)d字。"))])
    version = HiddenField(validators=[InputRequired(_l("表单缺少版本号，请刷新页面。"))])
