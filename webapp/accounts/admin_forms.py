"""Forms of the user administration. There is no role field: roles are the security
administrator's to assign."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from ..org.forms import unit_choices
from .admin_queries import units_for_users


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return int(value)


class _UserFields(FlaskForm):
    full_name = StringField(_l("姓名"), filters=[_strip],
                            validators=[InputRequired(_l("请填写姓名。")), Length(max=64)])
    phone = StringField(_l("电话"), filters=[_strip], validators=[Optional(), Length(max=32)])
    unit = SelectField(_l("所在单位"), coerce=_int_or_none, validate_choice=False,
                       validators=[InputRequired(_l("请选择所在单位。"))])

    def load_choices(self, current_unit=None) -> None:
        self.unit.choices = unit_choices(units_for_users(current_unit), blank=_("（请选择）"))


class UserCreateForm(_UserFields):
    username = StringField(_l("用户名"), filters=[_strip],
                           validators=[InputRequired(_l("请填写用户名。")), Length(max=64)])


class UserEditForm(_UserFields):
    version = HiddenField()


class VersionForm(FlaskForm):
    """The action buttons (deactivate, reactivate, reset password) carry the shown version."""

    version = HiddenField()
