"""The form of the reply to the resident (记录回音).

It carries the problem's ``version`` and a client ``token`` (a double submit records one reply).
The callback time is typed in the district's local time (``datetime-local``) and stored in UTC.
"""


from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import AnyOf, Length, StopValidation

from ..core import clock
from ..core.forms import ActionForm, LocalDateTimeField, Needed, local_now_minute
from ..core.forms import strip as _strip
from .models import ReplyMethod, Verdict

CONTENT_MAX = 2000
WORDS_MAX = 1000


class ReplyForm(ActionForm):
    """记录回音: how and when the resident was called back, what they were told, their verdict."""

    method = RadioField(_l("回访方式"), choices=[SelectChoice(m.value, m.label) for m in ReplyMethod],
                        validate_choice=False, default=ReplyMethod.phone.value,
                        validators=[AnyOf([m.value for m in ReplyMethod], message=_l("请选择回访方式。"))])
    replied_at = LocalDateTimeField(_l("回访时间"))
    content = TextAreaField(_l("答复群众的内容"), filters=[_strip], validators=[
        Needed(_l("请填写向群众答复的内容。")), Length(max=CONTENT_MAX)])
    verdict = RadioField(_l("群众评价"), choices=[SelectChoice(v.value, v.label) for v in Verdict],
                         validate_choice=False,
                         validators=[AnyOf([v.value for v in Verdict], message=_l("请选择群众的评价。"))])
    resident_words = TextAreaField(_l("群众的意见"), filters=[_strip], validators=[Length(max=WORDS_MAX)])
    substantive = BooleanField(_l("因实质性问题未解决，重新办理"))

    def validate_resident_words(self, field):
        # The operation says the same; here it lands at the field before anything is attempted.
        if self.verdict.data == Verdict.unsatisfied.value and not (field.data or "").strip():
            field.errors[:] = []
            raise StopValidation(str(_l("群众不满意时请记录群众的意见。")))

    def validate_replied_at(self, field):
        if field.data is None:
            # A value that does not parse already carries its message.
            raise StopValidation() if field.process_errors else StopValidation(str(_l("请填写回访时间。")))
        if field.utc > clock.now():
            raise StopValidation(str(_l("回访时间不能晚于现在。")))

    def prepare(self) -> None:
        """Defaults of a fresh form: now (to the minute), a new client token."""
        if self.replied_at.data is None and not self.replied_at.raw_data:
            self.replied_at.data = local_now_minute()
        self.ensure_token()

    @property
    def method_value(self) -> ReplyMethod:
        return ReplyMethod(self.method.data)

    @property
    def verdict_value(self) -> Verdict:
        return Verdict(self.verdict.data)
