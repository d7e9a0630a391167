"""Forms of the 问责 records: choose the unit first (its flags decide the second step), then the
record itself. Problems are typed by number; the page resolves them entry by entry."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, StopValidation
from wtforms.widgets import HiddenInput

from ..core import clock
from ..core.forms import LocalDateField, Needed, record_id
from ..core.forms import int_or_none as _int_or_none
from ..core.forms import strip as _strip
from ..org.forms import MultiCheckboxField
from .accountability import DECIDED_BY_MAX, FACTS_MAX
from .models import Measure

MEASURE_LABELS = {
    Measure.talk: _l("约谈"),
    Measure.criticism: _l("通报批评"),
    Measure.admonish: _l("诫勉谈话"),
    Measure.rectify: _l("责令整改"),
    Measure.other: _l("其他"),
}


class UnitForm(FlaskForm):
    """Step 1 (GET): the unit the record is against."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    unit_id = SelectField(_l("被问责单位"), coerce=_int_or_none, validate_choice=False,
                          validators=[Needed(_l("请选择被问责的单位。"))])


class RecordForm(FlaskForm):
    """Step 2: the record against the chosen unit."""

    unit_id = IntegerField(widget=HiddenInput(), validators=[Needed(_l("请选择被问责的单位。"))])
    measure = RadioField(_l("问责方式"), choices=[SelectChoice(m.value, MEASURE_LABELS[m]) for m in Measure],
                         validate_choice=False,
                         validators=[AnyOf([m.value for m in Measure], message=_l("请选择问责方式。"))])
    facts = TextAreaField(_l("问责事由"), filters=[_strip], validators=[
        Needed(_l("请填写问责事由。")), Length(max=FACTS_MAX, message=_l("问责事由不能超过%(max)d字。"))])
    decided_on = LocalDateField(_l("决定日期"), validators=[Needed(_l("请填写决定日期。"))])
    decided_by = StringField(_l("决定机关（人）"), filters=[_strip], validators=[
        Needed(_l("请填写作出决定的机关或领导。")),
        Length(max=DECIDED_BY_MAX, message=_l("决定机关（人）不能超过%(max)d字。"))])
    problems = TextAreaField(_l("涉及的问题编号"), filters=[_strip])
    flags = MultiCheckboxField(_l("关联的线索"), coerce=record_id, validate_choice=False)
    persons = TextAreaField(_l("被问责人员"), filters=[_strip])

    def validate_decided_on(self, field):
        # The operation says the same; here it lands at the field with the others at once.
        if field.data is not None and field.data > clock.today():
            raise StopValidation(str(_l("决定日期不能晚于今天。")))
