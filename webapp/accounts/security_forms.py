"""Forms of the security admin: a user's role and the security policy."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

# (field, lowest, highest): the bounds of each policy number (DOMAIN §3, the brief).
POLICY_BOUNDS = {
    "min_length": (8, 64),
    "min_classes": (1, 4),
    "max_age_days": (0, 365),
    "lockout_threshold": (3, 20),
    "lockout_minutes": (1, 1440),
    "idle_minutes": (5, 240),
    "absolute_hours": (1, 24),
}
POLICY_FIELDS = (*POLICY_BOUNDS, "forbid_username", "totp_roles")


class WholeNumberField(IntegerField):
    """An integer field whose "not a number" message is Chinese and whose input is kept."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("请输入整数。")) from exc


def within(low: int, high: int):
    """Required, and between ``low`` and ``high`` inclusive (one message per problem)."""

    def check(form, field):
        if field.data is None:
            if field.process_errors:  # "请输入整数。" already says it
                raise StopValidation()
            raise StopValidation(_l("请填写此项。"))
        if not low <= field.data <= high:
            raise ValidationError(_l("请输入 %(low)s 到 %(high)s 之间的整数。", low=low, high=high))

    return check


def _bounded(label, name, hint=None):
    low, high = POLICY_BOUNDS[name]
    return WholeNumberField(label, validators=[within(low, high)], description=hint)


class PolicyForm(FlaskForm):
    min_length = _bounded(_l("密码最短长度（字符）"), "min_length", _l("8 到 64"))
    min_classes = _bounded(
        _l("密码至少包含的字符类别数"), "min_classes", _l("1 到 4；类别为小写字母、大写字母、数字、符号")
    )
    forbid_username = BooleanField(_l("密码不得包含用户名"))
    max_age_days = _bounded(_l("密码有效期（天）"), "max_age_days", _l("0 到 365；0 表示永不过期"))
    lockout_threshold = _bounded(
        _l("开始限速前允许的连续登录失败次数"), "lockout_threshold",
        _l("3 到 20；此后同一地址每次失败，再次尝试前的等待时间加倍（15秒起）")
    )
    lockout_minutes = _bounded(_l("最长等待时间（分钟）"), "lockout_minutes",
                               _l("1 到 1440；账号不会被锁定，只会放慢尝试"))
    idle_minutes = _bounded(_l("会话空闲超时（分钟）"), "idle_minutes", _l("5 到 240"))
    absolute_hours = _bounded(_l("会话最长时间（小时）"), "absolute_hours", _l("1 到 24"))
    # Choices (the casework roles) are set by the view; the admin roles always need TOTP.
    totp_roles = SelectMultipleField(
        _l("还须使用双因素认证的角色"), option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
        description=_l("系统管理员、安全管理员、审计管理员始终须使用；勾选的角色在下次登录时须绑定认证器。"),
    )
    version = HiddenField()

    def validate_idle_minutes(self, field):
        hours = self.absolute_hours.data
        if field.data is not None and hours is not None and field.data > hours * 60:
            raise ValidationError(_l("会话空闲超时不能长于会话最长时间。"))


class RoleForm(FlaskForm):
    """The role select; its choices are the roles fitting the user's unit (set by the view)."""

    # The view checks the choice itself (role_fits_unit), with a message naming the unit kind.
    role = SelectField(_l("角色"), validate_choice=False)
    version = HiddenField()
