"""The system admin's form for a new API key."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import Needed, strip
from .models import Scope

SCOPE_LABELS = {Scope.create: _l("提交工单（create）"), Scope.read: _l("查询工单（read）")}


class KeyForm(FlaskForm):
    name = StringField(_l("接入系统名称"), filters=[strip], validators=[Needed(_l("请填写接入系统名称。"))])
    scopes = SelectMultipleField(
        _l("权限"), choices=[SelectChoice(s.value, SCOPE_LABELS[s]) for s in Scope], default=[s.value for s in Scope],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[Needed(_l("请至少选择一项权限。"))])
    webhook_url = StringField(_l("状态回调地址（webhook）"), filters=[strip])


class RevokeForm(FlaskForm):
    version = HiddenField()
