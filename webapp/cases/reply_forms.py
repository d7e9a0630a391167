"""Forms of the reply to the resident (记录回音) and of the public receipt lookup (回执查询).

The reply form carries the problem's ``version`` and a client ``token`` (a double submit records
one reply). The callback time is typed in the district's local time (``datetime-local``) and
stored in UTC. The receipt form asks for the receipt number (10 characters, case-insensitive,
spaces ignored) and the last four digits of the resident's phone.
"""

import re
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import AnyOf, Length, StopValidation

from ..core import clock
from .fields import strip as _strip
from .handling_models import ReplyMethod, Verdict
from .triage_forms import Needed, _Versioned

CONTENT_MAX = 2000
WORDS_MAX = 1000
RECEIPT_LENGTH = 10
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(DateTimeLocalField):
    """``<input type=datetime-local>`` read in Asia/Shanghai; ``utc`` gives the stored instant."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=[LOCAL_FORMAT, LOCAL_FORMAT + ":%S"], tz=clock.LOCAL_TZ,
                         invalid_value_message=_l("请输入有效的日期和时间。"), **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not (valuelist[0] or "").strip():
            self.data = None
            return
        super().process_formdata(valuelist)

    @property
    def utc(self) -> datetime | None:
        return self.data.astimezone(UTC) if self.data is not None else None


def local_now_minute() -> datetime:
    """Now in the district, to the minute (what the time field shows by default)."""
    return clock.local(clock.now()).replace(second=0, microsecond=0)


class ReplyForm(_Versioned):
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


def normalise_receipt(value: str | None) -> str:
    """回执号 as stored: spaces of any kind removed, upper case."""
    return "".join((value or "").split()).upper()


class ReceiptForm(FlaskForm):
    """The public lookup: 回执号 and the last four digits of the phone given at registration."""

    receipt_no = StringField(_l("回执号"), filters=[normalise_receipt], validators=[
        Needed(_l("请输入回执号。"))])
    phone_last4 = StringField(_l("手机号后四位"), filters=[_strip], validators=[
        Needed(_l("请输入登记时所留手机号码的后四位。"))])

    def validate_receipt_no(self, field):
        if len(field.data or "") != RECEIPT_LENGTH or not field.data.isalnum() or not field.data.isascii():
            raise StopValidation(str(_l("回执号为 10 位字母和数字，请对照回执填写。")))

    def validate_phone_last4(self, field):
        if not re.fullmatch(r"[0-9]{4}", field.data or ""):
            raise StopValidation(str(_l("请输入 4 位数字。")))
