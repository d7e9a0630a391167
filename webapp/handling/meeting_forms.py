"""Forms of the joint meetings (协商会办): convene, record the minutes (会议纪要), cancel.

No field carries the browser's ``required`` flag (``Needed``): the server answers every empty
field in Chinese and keeps the rest of the input. The minutes form works without JavaScript:
decisions are rows (``decisions-<i>-…``), a "再加一项" button draws the form again with one
more row, and empty rows are ignored.
"""

from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, Optional
from wtforms.widgets import HiddenInput

from ..core.clock import LOCAL_TZ
from ..core.forms import DEADLINE_YEARS, Filled, LocalDateField, LocalTimeField, Needed, new_token
from ..core.forms import int_or_none as _int_or_none
from ..core.forms import strip as _strip
from ..org.forms import MultiCheckboxField
from ..org.models import TERRITORIAL, UnitKind
from ..org.queries import active_units_of
from .models import MeetingKind
from .operations import MAX_STEPS

SUMMARY_MAX = 5000
REASON_MAX = 500
MIN_DECISION_ROWS = 4
MAX_DECISION_ROWS = MAX_STEPS
INVITABLE = TERRITORIAL | {UnitKind.department, UnitKind.desk}
# Convened here; a 调度会 is held on its agenda (supervision).
CONVENED = (MeetingKind.consultation, MeetingKind.joint)


class IdsField(MultiCheckboxField):
    """Checkboxes of ids; a tampered value is dropped, never a 400 or an English message."""

    def process_formdata(self, valuelist):
        self.data = [i for i in (_int_or_none(v) for v in valuelist) if i is not None]

    def pre_validate(self, form):
        pass


class ConveneForm(FlaskForm):
    """召集协商会/会办会: kind, title, local date and time, place, host, invited units, agenda."""

    kind = RadioField(_l("会议类型"), choices=[SelectChoice(k.value, k.label) for k in CONVENED],
                      validate_choice=False, default=MeetingKind.consultation.value,
                      validators=[AnyOf([k.value for k in CONVENED], message=_l("请选择协商会或会办会。"))])
    title = StringField(_l("会议名称"), filters=[_strip], validators=[
        Needed(_l("请填写会议名称。")), Length(max=128, message=_l("会议名称最多 128 个字。"))])
    day = LocalDateField(_l("会议日期"), validators=[Filled(_l("请填写会议日期。"))])
    time = LocalTimeField(_l("开始时间"), format=["%H:%M", "%H:%M:%S"], validators=[Filled(_l("请填写开始时间。"))])
    place = StringField(_l("会议地点"), filters=[_strip], validators=[
        Needed(_l("请填写会议地点。")), Length(max=128, message=_l("会议地点最多 128 个字。"))])
    host = StringField(_l("主持人"), filters=[_strip], validators=[
        Needed(_l("请填写主持人。")), Length(max=64, message=_l("主持人最多 64 个字。"))])
    unit_ids = IdsField(_l("参会单位"), validators=[Needed(_l("请选择参会单位。"))])
    problem_ids = IdsField(_l("会议议题（问题）"), validators=[Needed(_l("请至少选择一个议题（问题）。"))])
    token = HiddenField(filters=[_strip], validators=[Optional(), Length(max=48)])

    # FieldsInvalid keys of handling.convene_meeting → the field that shows the message.
    ERROR_FIELDS = {"problem_ids": "problem_ids", "unit_ids": "unit_ids", "starts_at": "day", "title": "title",
                    "place": "place", "host": "host"}

    def load_choices(self) -> None:
        units = active_units_of(INVITABLE)
        self.unit_ids.choices = [SelectChoice(u.id, u.name) for u in units]
        self.unit_groups = [
            (_l("镇（街道、功能区）"), [(u.id, u.name) for u in units if u.kind in TERRITORIAL]),
            (_l("区级部门"), [(u.id, u.name) for u in units if u.kind == UnitKind.department]),
            (_l("12345专席"), [(u.id, u.name) for u in units if u.kind == UnitKind.desk]),
        ]
        self.unit_groups = [(label, items) for label, items in self.unit_groups if items]

    def ensure_token(self) -> None:
        if not self.token.data:
            self.token.data = new_token()

    def starts_at(self) -> datetime | None:
        """The local date and time as an aware UTC instant (None while either is missing)."""
        if self.day.data is None or self.time.data is None:
            return None
        return datetime.combine(self.day.data, self.time.data, tzinfo=LOCAL_TZ).astimezone(UTC)

    def set_errors(self, errors: dict) -> None:
        for key, message in errors.items():
            field = self._fields[self.ERROR_FIELDS.get(key, "title")]
            field.errors = [*field.errors, str(message)]


class AttendanceEntry(Form):
    """One invited unit: attended or not, and who came."""

    unit_id = IntegerField(widget=HiddenInput(), validators=[Optional()])
    attended = BooleanField(_l("出席"))
    attendees = StringField(_l("参会人员（缺席的填缺席原因）"), filters=[_strip], validators=[
        Length(max=255, message=_l("参会人员最多 255 个字。"))])


class DecisionEntry(Form):
    """One decision: the agenda problem, the responsible unit, what is to be done, by when."""

    problem = SelectField(_l("问题"), coerce=_int_or_none, validate_choice=False)
    unit = SelectField(_l("责任单位"), coerce=_int_or_none, validate_choice=False)
    text = StringField(_l("事项"), filters=[_strip], validators=[Length(max=255, message=_l("事项最多 255 个字。"))])
    due_on = LocalDateField(_l("完成时限"), validators=[Optional()], ahead_years=DEADLINE_YEARS)

    @property
    def blank(self) -> bool:
        """Nothing entered (the problem alone does not count: it is preset when there is one)."""
        return not (self.unit.data or self.text.data or self.due_on.data
                    or self.due_on.raw_data and any(self.due_on.raw_data))


class MinutesForm(FlaskForm):
    """会议纪要: summary, attendance per invited unit, decisions (each becomes a dated step)."""

    version = IntegerField(widget=HiddenInput(), validators=[Needed(_l("表单缺少版本号，请刷新页面。"))])
    summary = TextAreaField(_l("会议纪要"), filters=[_strip], validators=[
        Needed(_l("请填写会议纪要。")), Length(max=SUMMARY_MAX, message=_l("会议纪要最多 5000 个字。"))])
    attendance = FieldList(FormField(AttendanceEntry))
    decisions = FieldList(FormField(DecisionEntry), min_entries=MIN_DECISION_ROWS, max_entries=MAX_DECISION_ROWS)

    def load_choices(self, problem_choices: list, unit_choices: list) -> None:
        blank = [SelectChoice("", str(_l("（请选择）")))]
        only = problem_choices[0][0] if len(problem_choices) == 1 else None
        for entry in self.decisions:
            entry.form.problem.choices = blank + problem_choices
            entry.form.unit.choices = blank + unit_choices
            if only is not None and entry.form.problem.data is None:
                entry.form.problem.data = only  # one problem on the agenda: every decision is on it

    @property
    def hidden_errors(self) -> list[str]:
        return [e for name in ("csrf_token", "version") if name in self._fields for e in self._fields[name].errors]


class CancelForm(FlaskForm):
    version = IntegerField(widget=HiddenInput(), validators=[Needed(_l("表单缺少版本号，请刷新页面。"))])
    reason = TextAreaField(_l("取消原因"), filters=[_strip], validators=[
        Needed(_l("请填写取消原因。")), Length(max=REASON_MAX, message=_l("取消原因最多 500 个字。"))])
