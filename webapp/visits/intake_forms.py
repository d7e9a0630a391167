"""The intake form: one visit and zero or more problem blocks on one screen (works without JS).

Resident phone numbers: mainland mobile (11 digits, 1[3-9]…) or landline with area code
(010/02x: 3 digits, others 4; 7–8 digit number, optional extension), stored normalised
("13812345678", "0516-87012345"). ID numbers: 18-character resident ID (GB 11643) with a valid
birth date and ISO 7064 MOD 11-2 check character, stored with a capital X.
"""

import re
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..core import clock
from ..core.forms import LocalDateField as BoundedDateField
from ..core.forms import int_or_none as _int_or_none
from .models import HouseholdKind

_SPACES = re.compile(r"[\s\u3000]+")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^(0(?:10|2\d|[3-9]\d{2}))-?([2-9]\d{6,7})(?:-(\d{1,6}))?$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MAX_BLOCKS = 20  # problems per visit form


def _strip(value):
    return _SPACES.sub(" ", value).strip() if isinstance(value, str) else value


def normalise_phone(raw: str | None) -> str | None:
    """The phone number in its stored form, or None when it is not a mainland number."""
    if not raw:
        return None
    s = _SPACES.sub("", raw).replace("－", "-").replace("—", "-").replace("（", "(").replace("）", ")")
    s = re.sub(r"^\((0\d{2,3})\)", r"\1-", s)  # (0516)87012345
    if s.startswith("+86"):
        s = s[3:].lstrip("-")
    elif s.startswith("0086"):
        s = s[4:].lstrip("-")
    digits = s.replace("-", "")
    if MOBILE.match(digits):
        return digits
    m = LANDLINE.match(s)
    if m:
        area, number, ext = m.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    return None


def valid_id_number(raw: str | None) -> str | None:
    """The ID number (upper-case X) when its birth date and check character are valid, else None."""
    if not raw:
        return None
    s = _SPACES.sub("", raw).upper()
    if not re.fullmatch(r"\d{17}[\dX]", s):
        return None
    try:
        born = datetime.strptime(s[6:14], "%Y%m%d").date()
    except ValueError:
        return None
    if born.year < 1900 or born > clock.today():
        return None
    total = sum(int(d) * w for d, w in zip(s[:17], ID_WEIGHTS, strict=True))
    return s if ID_CHECK[total % 11] == s[17] else None


def _phone_check(form, field):
    if not field.data:
        return
    normal = normalise_phone(field.data)
    if normal is None:
        raise ValidationError(_("请填写正确的手机号（11位）或带区号的固定电话，如 0516-87012345。"))
    field.data = normal


def _id_check(form, field):
    if not field.data:
        field.data = None
        return
    normal = valid_id_number(field.data)
    if normal is None:
        raise ValidationError(_("身份证号码不正确：应为18位，出生日期和最后一位校验码须有效。"))
    field.data = normal


class LocalDateField(BoundedDateField):
    """A date field with a Chinese message for unreadable input (bounded like every date)."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_("请填写正确的日期，如 2026-05-01。")) from exc


def _not_future(form, field):
    if field.data and field.data > clock.today():
        raise ValidationError(_("走访日期不能晚于今天。"))


class ProblemForm(Form):
    """One problem raised during the visit (a block of the intake form)."""

    resident_name = StringField(_l("群众姓名"), filters=[_strip], validators=[
        InputRequired(_l("请填写反映问题的群众姓名。")), Length(max=64, message=_l("姓名不能超过64个字。"))])
    resident_phone = StringField(_l("联系电话"), filters=[_strip], validators=[
        InputRequired(_l("请填写联系电话，便于回访。")), _phone_check])
    resident_id_number = StringField(_l("身份证号码（选填）"), filters=[_strip], validators=[
        Optional(), _id_check])
    village = SelectField(_l("所在村（社区）"), coerce=_int_or_none, validate_choice=False)
    address = StringField(_l("详细地址"), filters=[_strip], validators=[
        Optional(), Length(max=255, message=_l("地址不能超过255个字。"))])
    category = SelectField(_l("问题类别"), coerce=_int_or_none, validate_choice=False,
                           validators=[InputRequired(_l("请选择问题类别。"))])
    title = StringField(_l("问题标题"), filters=[_strip], validators=[
        InputRequired(_l("请用一句话概括问题。")), Length(max=80, message=_l("标题不能超过80个字。"))])
    description = TextAreaField(_l("问题描述"), filters=[_strip], validators=[
        InputRequired(_l("请描述群众反映的问题和诉求。")), Length(max=4000, message=_l("描述不能超过4000个字。"))])
    photos = MultipleFileField(_l("照片或材料（可多选）"))

    TEXT_FIELDS = ("resident_name", "resident_phone", "resident_id_number", "address", "title", "description")

    def is_blank(self) -> bool:
        """Nothing typed and no file chosen (the category and village selects do not count)."""
        if any((getattr(self, n).raw_data or [""])[0].strip() for n in self.TEXT_FIELDS):
            return False
        return not any(getattr(f, "filename", "") for f in (self.photos.data or []))

    def chosen_files(self) -> list:
        return [f for f in (self.photos.data or []) if getattr(f, "filename", "")]


class VisitForm(FlaskForm):
    """The visit (走访记录) and its problem blocks."""

    token = HiddenField()
    visited_on = LocalDateField(_l("走访日期"), validators=[InputRequired(_l("请填写走访日期。")), _not_future])
    village = SelectField(_l("走访地点（村、社区）"), coerce=_int_or_none, validate_choice=False,
                          validators=[InputRequired(_l("请选择走访的村（社区）。"))])
    household_kind = RadioField(_l("走访对象"), choices=[
        SelectChoice(HouseholdKind.household.value, _l("户")),
        SelectChoice(HouseholdKind.enterprise.value, _l("企"))],
        default=HouseholdKind.household.value, validators=[InputRequired(_l("请选择户或企。"))])
    household_name = StringField(_l("户主或企业名称"), filters=[_strip], validators=[
        InputRequired(_l("请填写户主姓名或企业名称。")), Length(max=64, message=_l("不能超过64个字。"))])
    visitors = StringField(_l("走访人员"), filters=[_strip], validators=[
        InputRequired(_l("请填写走访人员。")), Length(max=255, message=_l("不能超过255个字。"))])
    situation = TextAreaField(_l("家庭（企业）基本情况"), filters=[_strip], validators=[
        Optional(), Length(max=4000, message=_l("不能超过4000个字。"))])
    demands = TextAreaField(_l("困难和诉求"), filters=[_strip], validators=[
        Optional(), Length(max=4000, message=_l("不能超过4000个字。"))])
    # The register entry visited, when the cadre came from 我的包户 (checked against the village).
    household = HiddenField(filters=[_int_or_none])
    unregistered_reason = StringField(_l("不在台账中的原因"), filters=[_strip], validators=[
        Optional(), Length(max=255, message=_l("不能超过255个字。"))])
    problems = FieldList(FormField(ProblemForm), min_entries=0, max_entries=MAX_BLOCKS)

    VISIT_FIELDS = ("visited_on", "village", "household_kind", "household_name", "visitors", "situation", "demands",
                    "unregistered_reason")

    def entry_title(self, list_name: str, index: int) -> str:
        """How the error summary names a problem block (as its legend does)."""
        return _("问题 %(n)d", n=index + 1)

    def load_choices(self, village_choices: list[SelectChoice], category_choices: list[SelectChoice]) -> None:
        self._village_choices = village_choices
        self._category_choices = category_choices
        self.village.choices = [SelectChoice("", _("（请选择）")), *village_choices]
        for entry in self.problems:
            self.load_block_choices(entry.form)

    def load_block_choices(self, pf: ProblemForm) -> None:
        pf.village.choices = [SelectChoice("", _("同走访地点")), *self._village_choices]
        pf.category.choices = [SelectChoice("", _("（请选择）")), *self._category_choices]

    def add_block(self) -> ProblemForm:
        entry = self.problems.append_entry()
        self.load_block_choices(entry.form)
        return entry.form

    def validate_visit(self) -> bool:
        """Validate the visit's own fields only (for a visit without problems)."""
        ok = True
        for name in self.VISIT_FIELDS:
            ok = getattr(self, name).validate(self) and ok
        return ok


def block_form(index: int, village_choices, category_choices) -> ProblemForm:
    """A fresh problem block named like entry ``index`` of ``VisitForm.problems`` (htmx fragment)."""
    pf = ProblemForm(prefix=f"problems-{index}-")
    pf.village.choices = [SelectChoice("", _("同走访地点")), *village_choices]
    pf.category.choices = [SelectChoice("", _("（请选择）")), *category_choices]
    return pf


def today() -> date:
    return clock.today()
