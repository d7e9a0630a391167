"""The public lookup's form: the receipt number (10 characters, case-insensitive, spaces ignored)
and the last four digits of the resident's phone."""

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import StopValidation

from ..core.forms import Needed, strip

RECEIPT_LENGTH = 10


def normalise_receipt(value: str | None) -> str:
    """回执号 as stored: spaces of any kind removed, upper case."""
    return "".join((value or "").split()).upper()


class ReceiptForm(FlaskForm):
    """The public lookup: 回执号 and the last four digits of the phone given at registration."""

    receipt_no = StringField(_l("回执号"), filters=[normalise_receipt], validators=[
        Needed(_l("请输入回执号。"))])
    phone_last4 = StringField(_l("手机号后四位"), filters=[strip], validators=[
        Needed(_l("请输入登记时所留手机号码的后四位。"))])

    def validate_receipt_no(self, field):
        if len(field.data or "") != RECEIPT_LENGTH or not field.data.isalnum() or not field.data.isascii():
            raise StopValidation(str(_l("回执号为 10 位字母和数字，请对照回执填写。")))

    def validate_phone_last4(self, field):
        if not re.fullmatch(r"[0-9]{4}", field.data or ""):
            raise StopValidation(str(_l("请输入 4 位数字。")))
