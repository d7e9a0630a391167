"""Forms of triage (研判), assignment (转办交办) and the coordinated lists.

The triage page draws several HTML forms: the main one (triage fields, then assign / transfer /
add to list / resolve on the spot, each with its own submit button and endpoint), and small
ones for merge, not accepted and the office's assignment to district departments. Each endpoint
validates only the fields its action needs (:meth:`TriageForm.validate_for`), so no field carries
the browser's ``required`` attribute: a button of one action must never be blocked by an empty
field of another. Every action form carries the problem's ``version`` and a client ``token``.
"""

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, NumberRange, Optional, StopValidation, ValidationError
from wtforms.widgets import HiddenInput

from ..core.forms import (
    DEADLINE_YEARS,
    ActionForm,
    LocalDateField,
    Needed,
    WholeNumberField,
    record_id,
)
from ..core.forms import int_or_none as _int_or_none
from ..core.forms import strip as _strip
from ..core.settings import get_settings
from ..org.forms import MultiCheckboxField, unit_choices
from ..org.models import TERRITORIAL, UnitKind
from ..org.queries import active_units_of
from .models import Category
from .workflow import Kind, Level, Tier

REASON_MAX = 500
TEXT_MAX = 1000


def _tier_choices():
    return [SelectChoice(t.value, t.label) for t in Tier]


def category_choices():
    from sqlalchemy import select

    from ..core.extensions import db

    cats = db.session.scalars(
        select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order, Category.id)
    ).all()
    return [SelectChoice(c.id, c.name) for c in cats]


class TriageFields(ActionForm):
    """研判: 个性/共性, 镇级/区级, the tier (and 难事联办's working days), the category."""

    kind = RadioField(_l("问题性质"), choices=[SelectChoice(k.value, k.label) for k in Kind], validate_choice=False,
                      validators=[AnyOf([k.value for k in Kind], message=_l("请选择个性问题或共性问题。"))])
    level = RadioField(_l("问题层级"), choices=[SelectChoice(v.value, v.label) for v in Level], validate_choice=False,
                       validators=[AnyOf([v.value for v in Level], message=_l("请选择镇级或区级层面。"))])
    tier = RadioField(_l("办理方式"), choices=_tier_choices(), validate_choice=False,
                      validators=[AnyOf([t.value for t in Tier], message=_l("请选择办理方式。"))])
    workdays = WholeNumberField(_l("难事联办时限（工作日）"), validators=[Optional(), NumberRange(
        min=1, message=_l("工作日数至少为 1。"))])
    category = SelectField(_l("问题类别"), coerce=_int_or_none, validate_choice=False,
                           validators=[Needed(_l("请选择问题类别。"))])

    TRIAGE_FIELDS = ("kind", "level", "tier", "workdays", "category")

    def validate_workdays(self, field):
        if field.data is None:
            return
        ceiling = get_settings().tier_joint_max_days
        if field.data > ceiling:
            raise ValidationError(str(_l("难事联办时限最长 %(n)d 个工作日（区活动办设置）。", n=ceiling)))

    def load_triage_choices(self) -> None:
        self.category.choices = category_choices()

    def fill_triage(self, problem) -> None:
        """Preset the triage fields from what the problem already has (or sensible defaults)."""
        self.kind.data = (problem.kind or Kind.individual).value
        self.level.data = (problem.level or Level.town).value
        self.tier.data = (problem.tier or Tier.quick).value
        self.category.data = problem.category_id
        if problem.category is not None and not problem.category.is_active:
            self.category.data = None  # deactivated by the office: to be chosen again

    def _validate_fields(self, names, extra=None) -> bool:
        extra = extra or {}
        ok = True
        for name in ("csrf_token", "version", "token", *names):
            field = self._fields.get(name)
            if field is None:
                continue
            inline = getattr(type(self), f"validate_{name}", None)
            chain = [inline] if inline else []
            if not field.validate(self, chain + list(extra.get(name, []))):
                ok = False
        return ok


class TriageForm(TriageFields):
    """The main form of the triage page: triage fields and four actions, each its own endpoint."""

    # assign by sheet (问题交办单)
    lead = SelectField(_l("牵头单位"), coerce=_int_or_none, validate_choice=False,
                       validators=[Needed(_l("请选择牵头的镇（街道、功能区）。"))])
    cooperating = MultiCheckboxField(_l("配合单位（可选）"), coerce=record_id, validate_choice=False)
    requirements = TextAreaField(_l("办理要求"), filters=[_strip], validators=[Length(max=TEXT_MAX)])
    # transfer to the 12345 desk
    desk_requirements = TextAreaField(_l("转办说明"), filters=[_strip], validators=[Length(max=TEXT_MAX)])
    # resolve on the spot (好事即办)
    result = TextAreaField(_l("当场解决情况"), filters=[_strip], validators=[
        Needed(_l("请说明当场解决的情况。")), Length(max=TEXT_MAX)])
    evidence = MultipleFileField(_l("证明材料（照片或 PDF）"))

    ACTION_FIELDS = {
        "assign": ("lead", "cooperating", "requirements"),
        "transfer": ("desk_requirements",),
        "list": (),
        "resolve": ("result",),
    }

    def load_choices(self, problem) -> None:
        self.load_triage_choices()
        if problem.category is not None and not problem.category.is_active:
            # Not offered any more, and not silently replaced by the first option either.
            self.category.choices = [SelectChoice("", str(_l(
                "（原类别“%(name)s”已停用，请重新选择）", name=problem.category.name))), *self.category.choices]
        self.lead.choices = unit_choices(active_units_of(TERRITORIAL), blank=str(_l("（请选择）")))
        units = active_units_of(TERRITORIAL | {UnitKind.department})
        self.cooperating.choices = [SelectChoice(u.id, u.name) for u in units]
        self.cooperating_groups = [
            (_l("镇（街道、功能区）"), [(u.id, u.name) for u in units if u.kind in TERRITORIAL]),
            (_l("区级部门"), [(u.id, u.name) for u in units if u.kind == UnitKind.department]),
        ]

    def fill(self, problem) -> None:
        self.fill_triage(problem)
        self.lead.data = problem.town_id
        self.cooperating.data = []

    def validate_for(self, action: str) -> bool:
        return self._validate_fields((*self.TRIAGE_FIELDS, *self.ACTION_FIELDS[action]))


class MergeForm(ActionForm):
    into = StringField(_l("合并到的问题编号"), filters=[_strip], validators=[
        Needed(_l("请填写要合并到的问题编号。")), Length(max=40)])
    # Both forms sit on the triage page and post ``reason``: each box has an id of its own.
    reason = TextAreaField(_l("合并原因"), id="merge-reason", filters=[_strip], validators=[
        Needed(_l("请填写合并原因。")), Length(max=REASON_MAX)])

    def validate_for(self) -> bool:
        return self.validate()


class NotAcceptForm(ActionForm):
    reason = TextAreaField(_l("不予受理的理由"), id="not-accept-reason", filters=[_strip], validators=[
        Needed(_l("请填写不予受理的理由（仍需向群众回音）。")), Length(max=REASON_MAX)])


class RemoveForm(ActionForm):
    """移出统筹清单 (from the list page, or the problem page's one-click button)."""

    origin = HiddenField(validators=[Optional(), AnyOf(["list", "problem"])])


class SubmitListForm(FlaskForm):
    version = IntegerField(widget=HiddenInput(), validators=[Needed(_l("表单缺少版本号，请刷新页面。"))])


class DepartmentsForm(ActionForm):
    """The office assigns district departments: one lead, any cooperating, a deadline."""

    dept_lead = SelectField(_l("牵头部门"), coerce=_int_or_none, validate_choice=False,
                            validators=[Needed(_l("请选择牵头的区级部门。"))])
    dept_cooperating = MultiCheckboxField(_l("配合部门（可选）"), coerce=record_id, validate_choice=False)
    deadline = LocalDateField(_l("办理时限"), validators=[Needed(_l("请填写办理时限。"))],
                              ahead_years=DEADLINE_YEARS)
    dept_requirements = TextAreaField(_l("办理要求"), filters=[_strip], validators=[Length(max=TEXT_MAX)])

    def load_choices(self) -> None:
        departments = active_units_of({UnitKind.department})
        self.dept_lead.choices = unit_choices(departments, blank=str(_l("（请选择）")))
        self.dept_cooperating.choices = [SelectChoice(u.id, u.name) for u in departments]
        self.dept_groups = [(_l("区级部门"), [(u.id, u.name) for u in departments])]

    def validate_deadline(self, field):
        from ..core import clock

        if isinstance(field.data, date) and field.data < clock.today():
            raise ValidationError(str(_l("办理时限不能早于今天。")))


class BatchForm(TriageFields):
    """Several problems of the queue at once: the same triage and one action for all."""

    version = None  # each row carries its problem's version (``v<id>``)

    category = SelectField(_l("问题类别"), coerce=_int_or_none, validate_choice=False)
    lead = SelectField(_l("交办到"), coerce=_int_or_none, validate_choice=False)
    requirements = TextAreaField(_l("办理要求"), filters=[_strip], validators=[Length(max=TEXT_MAX)])
    # Set by the submit button pressed (name="action"); never drawn as a field of its own.
    action = StringField(validators=[AnyOf(["assign", "transfer", "list"], message=_l("请选择一种处理方式。"))])

    def load_choices(self) -> None:
        self.category.choices = [SelectChoice("", str(_l("（保持各问题原类别）")))] + category_choices()
        self.lead.choices = unit_choices(active_units_of(TERRITORIAL), blank=str(_l("（请选择）")))

    def validate_lead(self, field):
        if self.action.data == "assign" and not field.data:
            raise StopValidation(str(_l("批量交办请选择牵头的镇（街道、功能区）。")))

    def validate_batch(self) -> bool:
        return self._validate_fields(("kind", "level", "tier", "workdays", "category", "lead",
                                      "requirements", "action"))
