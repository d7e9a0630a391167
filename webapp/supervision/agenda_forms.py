"""The form of a scheduling meeting's agenda: kind, work group (group kind), meeting date, note."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from ..core.forms import LocalDateField, LocalTimeField, int_or_none, strip
from .models import AgendaKind

NOTE_MAX = 500


class AgendaForm(FlaskForm):
    """生成议程. The GET preview reads the same fields from the query string (no CSRF there)."""

    kind = SelectField(_l("会议类型"), choices=[
        SelectChoice(AgendaKind.group.value, _l("工作组调度会（每半月）")),
        SelectChoice(AgendaKind.office.value, _l("活动办调度会（每月）")),
    ], validators=[InputRequired(_l("请选择会议类型。"))])
    work_group = SelectField(_l("工作组"), coerce=int_or_none, choices=[], validate_choice=False)
    meeting_on = LocalDateField(_l("会议日期"), validators=[InputRequired(_l("请填写会议日期。"))])
    note = TextAreaField(_l("备注"), filters=[strip], validators=[
        Optional(), Length(max=NOTE_MAX, message=_l("备注不能超过%(max)d字。"))])
    again = BooleanField(_l("该次会议已生成过议程，仍按现在的情况重新生成"))


class HoldForm(FlaskForm):
    """召开调度会: when and where it met, who chaired (its minutes are recorded next)."""

    day = LocalDateField(_l("会议日期"), validators=[Optional()])
    time = LocalTimeField(_l("开始时间"), format=["%H:%M", "%H:%M:%S"], validators=[Optional()])
    place = StringField(_l("会议地点"), filters=[strip])
    host = StringField(_l("主持人"), filters=[strip])


class ProposalForm(FlaskForm):
    """提请调度会: one of the group's open problems and the reason."""

    problem_id = SelectField(_l("问题"), coerce=int_or_none, choices=[], validate_choice=False)
    reason = TextAreaField(_l("提请理由"), filters=[strip])
