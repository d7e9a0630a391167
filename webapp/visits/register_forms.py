"""Forms of the registers, the rounds and the quick visit: each field's errors in Chinese."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import (
    Filled,
    LocalDateField,
    Needed,
    VersionedForm,
    WholeNumberField,
    int_or_none,
    strip,
)
from . import credit_code
from .intake_forms import normalise_phone
from .models import SIZE_BAND_LABELS, VISIT_MODE_LABELS, SizeBand, VisitMode


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _phone(form, field):
    if field.data:
        normal = normalise_phone(field.data)
        if normal is None:
            raise ValidationError(_l("请输入有效的手机号或带区号的固定电话。"))
        field.data = normal


def _code(form, field):
    if field.data:
        normal = credit_code.normalise(field.data)
        if normal is None:
            raise ValidationError(_l("统一社会信用代码无效：应为 18 位，且校验位正确（GB 32100-2015）。"))
        field.data = normal


class HouseholdForm(VersionedForm):
    """A household of the register (户)."""

    village = SelectField(_l("村（社区）"), coerce=int_or_none, validate_choice=False,
                          validators=[Needed(_l("请选择村（社区）。"))])
    number = StringField(_l("户号"), filters=[strip], validators=[
        Needed(_l("请填写户号。")), Length(max=32, message=_l("户号不超过 32 个字符。"))])
    head_name = StringField(_l("户主姓名"), filters=[strip], validators=[
        Needed(_l("请填写户主姓名。")), Length(max=64, message=_l("姓名不超过 64 个字符。"))])
    address = StringField(_l("住址（组、门牌）"), filters=[strip], validators=[
        Optional(), Length(max=255, message=_l("住址不超过 255 个字符。"))])
    members = WholeNumberField(_l("家庭人口"), default=1, validators=[
        Filled(_l("请填写家庭人口。")), NumberRange(min=0, max=99, message=_l("家庭人口应在 0 到 99 之间。"))])
    phone = StringField(_l("联系电话"), filters=[strip], validators=[Optional(), _phone])
    marks = MultiCheckboxField(_l("关注标记"), coerce=int, validate_choice=False)
    cadre = SelectField(_l("包户干部"), coerce=int_or_none, validate_choice=False,
                        validators=[Needed(_l("请选择包户干部。"))])


class EnterpriseForm(VersionedForm):
    """An enterprise or individual business of the register (企业/个体工商户)."""

    name = StringField(_l("企业名称"), filters=[strip], validators=[
        Needed(_l("请填写企业名称。")), Length(max=128, message=_l("名称不超过 128 个字符。"))])
    credit_code = StringField(_l("统一社会信用代码"), filters=[strip], validators=[Optional(), _code])
    is_individual = BooleanField(_l("个体工商户（无统一社会信用代码）"))
    town = SelectField(_l("所属镇（街道、功能区）"), coerce=int_or_none, validate_choice=False,
                       validators=[Needed(_l("请选择镇、街道或功能区。"))])
    address = StringField(_l("地址"), filters=[strip], validators=[
        Optional(), Length(max=255, message=_l("地址不超过 255 个字符。"))])
    contact_name = StringField(_l("联系人"), filters=[strip], validators=[
        Optional(), Length(max=64, message=_l("联系人不超过 64 个字符。"))])
    phone = StringField(_l("联系电话"), filters=[strip], validators=[Optional(), _phone])
    size_band = SelectField(_l("规模"), choices=[SelectChoice(b.value, SIZE_BAND_LABELS[b]) for b in SizeBand],
                            default=SizeBand.small.value)
    industry = StringField(_l("行业"), filters=[strip], validators=[
        Optional(), Length(max=64, message=_l("行业不超过 64 个字符。"))])
    cadre = SelectField(_l("包企干部"), coerce=int_or_none, validate_choice=False,
                        validators=[Needed(_l("请选择包企干部。"))])


class CloseForm(VersionedForm):
    reason = StringField(_l("注销原因"), filters=[strip], validators=[
        Needed(_l("请填写注销原因。")), Length(max=255, message=_l("原因不超过 255 个字符。"))])


class ReassignForm(FlaskForm):
    from_cadre = SelectField(_l("原包户干部"), coerce=int_or_none, validate_choice=False,
                             validators=[Needed(_l("请选择原包户干部。"))])
    to_cadre = SelectField(_l("新包户干部"), coerce=int_or_none, validate_choice=False,
                           validators=[Needed(_l("请选择新包户干部。"))])


class RoundForm(FlaskForm):
    name = StringField(_l("轮次名称"), filters=[strip], validators=[
        Needed(_l("请填写轮次名称。")), Length(max=64, message=_l("名称不超过 64 个字符。"))])
    starts_on = LocalDateField(_l("开始日期"), validators=[Filled(_l("请填写开始日期。"))])
    ends_on = LocalDateField(_l("结束日期"), validators=[Filled(_l("请填写结束日期。"))])


class QuickVisitForm(FlaskForm):
    """A visit to one register entry, recorded from "my households" on a phone."""

    token = HiddenField(filters=[strip], validators=[Optional(), Length(max=48)])
    visited_on = LocalDateField(_l("走访日期"), validators=[Filled(_l("请填写走访日期。"))])
    mode = SelectField(_l("走访方式"), choices=[SelectChoice(m.value, VISIT_MODE_LABELS[m]) for m in VisitMode],
                       default=VisitMode.home.value)
    met = StringField(_l("见到的人"), filters=[strip], validators=[
        Optional(), Length(max=64, message=_l("不超过 64 个字符。"))])
    situation = TextAreaField(_l("了解到的情况"), filters=[strip], validators=[
        Optional(), Length(max=4000, message=_l("不超过 4000 个字符。"))])
    demands = TextAreaField(_l("反映的诉求"), filters=[strip], validators=[
        Optional(), Length(max=4000, message=_l("不超过 4000 个字符。"))])
    follow_up = TextAreaField(_l("下一步打算"), filters=[strip], validators=[
        Optional(), Length(max=2000, message=_l("不超过 2000 个字符。"))])
    photos = MultipleFileField(_l("照片（可多选，可直接拍照）"))

    def chosen_files(self) -> list:
        return [f for f in (self.photos.data or []) if getattr(f, "filename", "")]
