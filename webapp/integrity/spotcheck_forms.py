"""Forms of the spot checks: draw a period's sample, record one callback.

The callback time is typed in the district's local time and stored in UTC; the form carries the
item's ``version`` (a stale form → 409).
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import AnyOf, Length, StopValidation
from wtforms.widgets import HiddenInput

from ..core import clock
from ..core.forms import LocalDateTimeField, Needed, WholeNumberField, local_now_minute
from ..core.forms import strip as _strip
from ..handling.models import ReplyMethod
from .models import CallbackResult
from .spotchecks import NOTE_MAX, RATE_DEFAULT, RATE_MAX, RATE_MIN, RECORDABLE

RESULT_LABELS = {
    CallbackResult.pending: _l("待回访"),
    CallbackResult.confirmed: _l("属实（问题确已解决）"),
    CallbackResult.contradicted: _l("不属实（群众反映未解决）"),
    CallbackResult.unreachable: _l("无法联系"),
}
RESULT_SHORT = {
    CallbackResult.pending: _l("待回访"),
    CallbackResult.confirmed: _l("属实"),
    CallbackResult.contradicted: _l("不属实"),
    CallbackResult.unreachable: _l("无法联系"),
}


class DrawForm(FlaskForm):
    """抽取: an ended period without a draw yet (value: its first day) and the rate in percent."""

    period = SelectField(_l("抽查期间"), choices=[], validate_choice=False,
                         validators=[Needed(_l("请选择抽查期间。"))])
    rate = WholeNumberField(_l("抽查比例（%）"), default=RATE_DEFAULT)

    def validate_rate(self, field):
        if not (field.raw_data and (field.raw_data[0] or "").strip()):
            field.errors[:] = []
            raise StopValidation(str(_l("请填写抽查比例。")))
        if field.process_errors or field.data is None:
            raise StopValidation()  # not a whole number: the message is there already
        if not RATE_MIN <= field.data <= RATE_MAX:
            raise StopValidation(str(_l("抽查比例应为 %(min)s 至 %(max)s 之间的整数。", min=RATE_MIN, max=RATE_MAX)))


class RecordForm(FlaskForm):
    """记录回访结果 for one sampled sign-off."""

    result = RadioField(_l("回访结果"), choices=[SelectChoice(r.value, RESULT_LABELS[r]) for r in RECORDABLE],
                        validate_choice=False,
                        validators=[AnyOf([r.value for r in RECORDABLE], message=_l("请选择回访结果。"))])
    method = RadioField(_l("回访方式"), choices=[SelectChoice(m.value, m.label) for m in ReplyMethod],
                        validate_choice=False, default=ReplyMethod.phone.value,
                        validators=[AnyOf([m.value for m in ReplyMethod], message=_l("请选择回访方式。"))])
    called_at = LocalDateTimeField(_l("回访时间"))
    note = TextAreaField(_l("群众反映的情况"), filters=[_strip], validators=[
        Length(max=NOTE_MAX, message=_l("回访情况不能超过%(max)d字。"))])
    version = IntegerField(widget=HiddenInput(), validators=[Needed(_l("表单缺少版本号，请刷新页面。"))])

    def validate_called_at(self, field):
        if field.data is None:
            raise StopValidation() if field.process_errors else StopValidation(str(_l("请填写回访时间。")))
        if field.utc > clock.now():
            raise StopValidation(str(_l("回访时间不能晚于现在。")))

    def validate_note(self, field):
        if self.result.data == CallbackResult.contradicted.value and not (field.data or "").strip():
            raise StopValidation(str(_l("回访不属实时请记录群众反映的情况。")))

    def fill(self, item) -> None:
        """A fresh form for ``item``: its recorded values (a correction) or now, by phone."""
        self.version.data = item.version
        if item.result != CallbackResult.pending:
            self.result.data = item.result.value
            self.method.data = item.method.value if item.method else ReplyMethod.phone.value
            self.called_at.data = clock.local(item.called_at).replace(tzinfo=None) if item.called_at else None
            self.note.data = item.note or ""
        if self.called_at.data is None:
            self.called_at.data = local_now_minute()

    @property
    def hidden_errors(self) -> list[str]:
        return [e for name in ("csrf_token", "version") for e in self._fields[name].errors]
