"""Forms of the 督办单: issue one (存在问题, 督办要求, 反馈时限) and answer it (办理情况反馈).

The forms check only what can be read from the input (lengths, a parsable date); the rules
(required text, a reply-by date from today on) are ``supervision.notices``'s, which raises
``FieldsInvalid`` with these field names. No field carries the browser's ``required`` flag.
"""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from ..core.forms import DEADLINE_YEARS, Filled, LocalDateField, Needed, VersionedForm, new_token
from ..core.forms import strip as _strip
from .notices import TEXT_MAX, reply_by_error

TOO_LONG = _l("不能超过 %(max)d 个字。")


class IssueForm(VersionedForm):
    """下发督办单: the problem's version, a client token, what is late, what is required, by when."""

    token = HiddenField(filters=[_strip], validators=[Optional(), Length(max=48)])
    lateness = TextAreaField(_l("存在问题"), filters=[_strip], validators=[
        Needed(_l("请写明存在的问题（什么事项逾期或滞后）。")), Length(max=TEXT_MAX, message=TOO_LONG)])
    requirement = TextAreaField(_l("督办要求"), filters=[_strip], validators=[
        Needed(_l("请写明督办要求。")), Length(max=TEXT_MAX, message=TOO_LONG)])
    reply_by = LocalDateField(_l("反馈时限"), validators=[Filled(_l("请填写反馈时限。"))],
                              ahead_years=DEADLINE_YEARS)

    def validate_reply_by(self, field):
        # The operation's own rule, so that every message shows at once.
        if (message := reply_by_error(field.data)) is not None:
            raise ValidationError(str(message))

    def ensure_token(self) -> None:
        if not self.token.data:
            self.token.data = new_token()


class AnswerForm(VersionedForm):
    """办理情况反馈 on the notice (the notice's version)."""

    answer = TextAreaField(_l("办理情况反馈"), filters=[_strip], validators=[
        Needed(_l("请填写办理情况反馈。")), Length(max=TEXT_MAX, message=TOO_LONG)])
