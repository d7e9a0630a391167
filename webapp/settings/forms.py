"""Forms of the office's campaign settings (活动设置): time limits, categories, calendar overrides.

The forms only parse what the browser sent (present, a whole number, a date); the rules about
the values (ranges, one limit not shorter than another, unique names) live with the data in
``core.settings``, ``settings.categories`` and ``core.calendar``, and their messages are put back on
the fields by the views.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, StringField
from wtforms.validators import AnyOf, Length, Optional, StopValidation

from ..core.forms import LocalDateField, WholeNumberField, new_token
from ..core.settings import DAY_FIELDS, LABELS, MAX_DAYS, MINIMUM
from .categories import NAME_MAX
from .choices import SORT_MAX, SORT_MIN
from .marks import NAME_MAX as MARK_NAME_MAX

# What each limit controls (shown under the field).
EXPLAIN = {
    "sign_for_days": _l("问题交办后，责任单位须在多少个工作日内签收。签收截止日在交办时算出。"),
    "return_within_days": _l("责任单位认为交办有误时，须在交办后多少个工作日内说明理由退回。"),
    "tier_immediate_days": _l("研判为“好事即办”的问题，自交办起多少个工作日内办结。"),
    "tier_quick_days": _l("研判为“实事快办”的问题，自交办起多少个工作日内办结。"),
    "tier_joint_max_days": _l("“难事联办”的期限在研判和任务书中确定，但最长不超过这么多个工作日。"),
    "extension_min_days_before": _l("申请延期须至少在截止日前多少个工作日提出；0 表示截止当天仍可申请。"),
    "reply_after_signoff_days": _l("问题销号后，须在多少个工作日内向群众回音（回访）。"),
    "remind_after_days": _l("超过截止日多少个工作日后催办；1 表示截止日后的第一个工作日。"),
    "notice_after_overdue_days": _l("超过截止日多少个工作日后通报；不能早于催办。"),
    "due_soon_days": _l("剩余不超过多少个工作日时，问题列入“即将到期”；0 表示只在到期当天提醒。"),
    "verify_within_days": _l("责任领导同意销号后，交办单位须在多少个工作日内核验。"),
    "campaign_deadline": _l("本次走访活动的截止日期。留空表示每年 9 月 30 日。"),
}

# The limits in groups, in the order the page shows them.
GROUPS = (
    (_l("交办与签收"), ("sign_for_days", "return_within_days")),
    (_l("办理时限"), ("tier_immediate_days", "tier_quick_days", "tier_joint_max_days")),
    (_l("延期、核验与回音"), ("extension_min_days_before", "verify_within_days", "reply_after_signoff_days")),
    (_l("提醒、催办与通报"), ("due_soon_days", "remind_after_days", "notice_after_overdue_days")),
    (_l("活动"), ("campaign_deadline",)),
)


def _strip(value):
    return " ".join(value.split()) if isinstance(value, str) else value


class Required:
    """Present (without the browser's ``required`` flag); quiet when the parse already failed."""

    def __init__(self, message=None):
        self.message = message or _l("请填写此项。")

    def __call__(self, form, field):
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            field.errors[:] = []
            if field.process_errors:
                field.errors.extend(field.process_errors)
                raise StopValidation()
            raise StopValidation(str(self.message))


class DaysField(WholeNumberField):
    """A whole number; blank is "missing" (``Required`` says so), not "not a number"."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        super().process_formdata([str(valuelist[0]).strip()])


class DayField(LocalDateField):
    """An ``<input type=date>``; blank is "missing" (``Required`` / ``Optional``), not "invalid"."""

    def process_formdata(self, valuelist):
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class Within:
    """Between ``lo`` and ``hi`` (the bounds ``core.settings`` enforces, with its message)."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def __call__(self, form, field):
        if not self.lo <= field.data <= self.hi:
            raise StopValidation(str(_l("应在 %(lo)d 到 %(hi)d 之间。", lo=self.lo, hi=self.hi)))


def _limit(name):
    return DaysField(LABELS[name], validators=[Required(), Within(MINIMUM[name], MAX_DAYS)],
                            description=EXPLAIN[name],
                            render_kw={"inputmode": "numeric", "min": MINIMUM[name], "max": MAX_DAYS})


class LimitsForm(FlaskForm):
    """Every value of ``core.settings.Settings`` and the version the form was drawn with."""

    version = HiddenField()
    campaign_deadline = DayField(LABELS["campaign_deadline"], validators=[Optional()],
                                       description=EXPLAIN["campaign_deadline"])

    def fields_of(self, names):
        return [self._fields[n] for n in names]


for _name in DAY_FIELDS:
    setattr(LimitsForm, _name, _limit(_name))


class ChoiceForm(FlaskForm):
    """A new entry of one of the office's lists (categories, attention marks), or an entry's new
    name and place in the list; each list's form adds its ``name`` field."""

    sort_order = DaysField(_l("排序"), validators=[Optional()],
                           description=_l("数字小的排在前面；新建时留空则排在最后。"),
                           render_kw={"inputmode": "numeric", "min": SORT_MIN, "max": SORT_MAX})
    version = HiddenField()
    token = HiddenField()

    def ensure_token(self):
        if not self.token.data:
            self.token.data = new_token()


class CategoryForm(ChoiceForm):
    """A new category, or a category's new name and place in the list."""

    name = StringField(_l("类别名称"), filters=[_strip], validators=[
        Required(_l("请填写类别名称。")), Length(max=NAME_MAX, message=_l("类别名称最多 %(max)d 个字。"))],
        render_kw={"maxlength": NAME_MAX, "autocomplete": "off"})


class CategoryStateForm(FlaskForm):
    """Deactivate or reactivate: only the fingerprint the button was drawn with."""

    version = HiddenField()


KIND_CHOICES = [SelectChoice("off", _l("休息日（放假）")), SelectChoice("workday", _l("调休工作日（上班）"))]


class MarkForm(ChoiceForm):
    """A new attention mark, or a mark's new name and place in the list."""

    name = StringField(_l("标记名称"), filters=[_strip], validators=[
        Required(_l("请填写标记名称。")), Length(max=MARK_NAME_MAX, message=_l("标记名称最多 %(max)d 个字。"))],
        render_kw={"maxlength": MARK_NAME_MAX, "autocomplete": "off"})


class CalendarDayForm(FlaskForm):
    """An office override for one date."""

    day = DayField(_l("日期"), validators=[Required(_l("请选择日期。"))])
    kind = RadioField(_l("设为"), choices=KIND_CHOICES, validate_choice=False,
                      validators=[AnyOf(["off", "workday"], message=_l("请选择休息日或调休工作日。"))])
    note = StringField(_l("说明"), filters=[_strip], validators=[
        Required(_l("请填写说明，例如“国庆节”或“国庆节调休上班”。")),
        Length(max=200, message=_l("说明最多 %(max)d 个字。"))],
        description=_l("例如“元旦”“春节调休上班”“区里统一放假”。"), render_kw={"maxlength": 200})


class RemoveDayForm(FlaskForm):
    """Drop the override of a date; ``version`` is what the row read when the button was drawn."""

    day = DayField(validators=[Required(_l("请选择日期。"))])
    version = HiddenField()
