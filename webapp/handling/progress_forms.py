"""Forms of 报送进展, 内部备注, 配合单位反馈 and 延期 (request and decision).

Required fields use ``Needed`` (no browser ``required`` flag: the server answers in Chinese and
keeps the input). The extension forms carry the problem's ``version`` (optimistic locking); the
work that does not move the status (progress, notes, feedback) does not conflict with others.
"""

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, Length, StopValidation

from ..core.forms import DEADLINE_YEARS, LocalDateField, Needed, VersionedForm
from ..core.forms import strip as _strip

TEXT_MAX = 2000
REASON_MAX = 1000


def _text(label, needed, max_len=TEXT_MAX):
    return TextAreaField(label, filters=[_strip], validators=[
        Needed(needed), Length(max=max_len, message=_l("最多 %(max)d 个字。", max=max_len))])


class _Tokened(FlaskForm):
    """A client token drawn with the form: a double submit is recorded once."""

    token = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.token.data:
            self.token.data = uuid.uuid4().hex


class ProgressForm(_Tokened):
    """报送进展 (the lead unit)."""

    text = _text(_l("进展情况"), _l("请填写进展情况。"))
    is_public = BooleanField(_l("可以告知群众"), default=False)
    files = MultipleFileField(_l("附件（照片或 PDF，可选）"))


class NoteForm(_Tokened):
    """内部备注 (anyone working on the problem; never shown to the resident)."""

    text = _text(_l("备注内容"), _l("请填写备注内容。"))


class PartFeedbackForm(_Tokened):
    """配合单位反馈: a cooperating unit reports on its own part."""

    text = _text(_l("配合办理情况"), _l("请填写配合办理情况。"))
    done = BooleanField(_l("本单位配合任务已完成"), default=False)
    files = MultipleFileField(_l("附件（照片或 PDF，可选）"))


class ExtensionForm(VersionedForm):
    """申请延期: the new deadline, the reason, the progress so far."""

    new_deadline = LocalDateField(_l("申请延期至"), validators=[Needed(_l("请填写新的办理时限。"))],
                                  ahead_years=DEADLINE_YEARS)
    reason = _text(_l("延期原因"), _l("请填写延期原因。"), REASON_MAX)
    progress = _text(_l("目前办理进展"), _l("请说明目前的办理进展。"))


DECISIONS = ("approve", "reject")


class ExtensionDecisionForm(VersionedForm):
    """审批延期: approve or reject (a rejection needs the reason)."""

    # Sent by the button pressed (同意延期 / 驳回).
    decision = StringField(_l("审批意见"), filters=[_strip],
                           validators=[AnyOf(DECISIONS, message=_l("请选择同意或驳回。"))])
    note = TextAreaField(_l("审批说明"), filters=[_strip], validators=[
        Length(max=REASON_MAX, message=_l("最多 %(max)d 个字。", max=REASON_MAX))])

    def validate_note(self, field):
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise StopValidation(str(_l("驳回延期申请请说明理由。")))
