"""Forms of the unit administration. Unit references are ids; the operations check them."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import record_id
from .models import ALLOWED_PARENTS, UnitKind
from .queries import COVERED_KINDS, LEAD_KINDS, PARENT_KINDS, active_units_of


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


def unit_choices(units, *, blank: str | None = None) -> list[SelectChoice]:
    """Select choices grouped by unit kind (``<optgroup>``)."""
    choices = [SelectChoice("", blank)] if blank is not None else []
    for unit in units:
        label = unit.name if unit.is_active else _("%(name)s（已停用）", name=unit.name)
        choices.append(SelectChoice(unit.id, label, optgroup=str(unit.kind_label)))
    return choices


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (easier than a multi-select on a phone)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _UnitFields(FlaskForm):
    name = StringField(_l("名称"), filters=[_strip],
                       validators=[InputRequired(_l("请填写单位名称。")), Length(max=64)])
    code = StringField(_l("统计代码"), filters=[_strip], validators=[
        Optional(), Length(max=32), Regexp(r"^[0-9]*$", message=_l("统计代码只能由数字组成。"))])
    short_name = StringField(_l("简称"), filters=[_strip], validators=[Optional(), Length(max=32)])
    note = StringField(_l("备注"), filters=[_strip], validators=[Optional(), Length(max=255)])
    # Work groups only (the operation refuses them on other kinds).
    lead_unit = SelectField(_l("牵头单位"), coerce=_int_or_none, validate_choice=False)
    covered_units = MultiCheckboxField(_l("覆盖单位"), coerce=record_id, validate_choice=False)

    def load_work_group_choices(self) -> None:
        self.lead_unit.choices = unit_choices(active_units_of(LEAD_KINDS), blank=_("（请选择）"))
        self.covered_units.choices = [
            SelectChoice(u.id, u.name) for u in active_units_of(COVERED_KINDS)
        ]


class UnitCreateForm(_UnitFields):
    kind = SelectField(_l("类型"), validators=[InputRequired(_l("请选择单位类型。"))])
    parent = SelectField(_l("上级单位"), coerce=_int_or_none, validate_choice=False,
                         validators=[InputRequired(_l("请选择上级单位。"))])

    def load_choices(self) -> None:
        self.kind.choices = [SelectChoice(k.value, str(k.label)) for k in UnitKind if k != UnitKind.district]
        self.parent.choices = unit_choices(active_units_of(PARENT_KINDS), blank=_("（请选择）"))
        self.load_work_group_choices()


class UnitEditForm(_UnitFields):
    version = HiddenField()


class UnitMoveForm(FlaskForm):
    version = HiddenField()
    parent = SelectField(_l("新的上级单位"), coerce=_int_or_none, validate_choice=False,
                         validators=[InputRequired(_l("请选择上级单位。"))])

    def load_choices(self, unit) -> None:
        self.parent.choices = unit_choices(active_units_of(ALLOWED_PARENTS[unit.kind]), blank=_("（请选择）"))


class VersionForm(FlaskForm):
    """The buttons (deactivate, reactivate) carry the version they were shown with."""

    version = HiddenField()


class ImportForm(FlaskForm):
    file = FileField(_l("Excel 文件（.xlsx）"), validators=[
        FileRequired(_l("请选择要导入的文件。")),
        FileAllowed(["xlsx"], _l("只能导入 .xlsx 格式的 Excel 文件。")),
    ])
