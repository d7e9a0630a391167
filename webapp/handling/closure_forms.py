"""Forms of sign-off (申请销号), its review by the unit leader, verification (核销) and 暂难解决.

Each form carries the problem's ``version`` (optimistic locking). The forms check only what
can be read from the input (lengths, dates, choices, a reason where a refusal needs one); the
business rules (a result, a date not after today, evidence or a reason why none, a reason for
open cooperating parts) are the operation's (``handling.request_signoff`` raises ``FieldsInvalid``
with the field names of this form). No field carries the browser's ``required`` flag: a page
with two forms (approve / send back) must never block one button with the other's field.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from ..cases.workflow import Action
from ..core.forms import LocalDateField, Needed, VersionedForm
from ..core.forms import strip as _strip
from .models import CannotSolveReason

TEXT_MAX = 2000
NOTE_MAX = 1000


class SignoffForm(VersionedForm):
    """申请销号: result, completion date, evidence files or why none can exist, open parts' reason."""

    result = TextAreaField(_l("办理结果"), filters=[_strip], validators=[Length(max=TEXT_MAX)])
    completed_on = LocalDateField(_l("办结日期"), validators=[Optional()])
    evidence = MultipleFileField(_l("佐证材料（照片或 PDF）"))
    no_evidence_reason = TextAreaField(_l("无法提供佐证材料的原因"), filters=[_strip],
                                       validators=[Length(max=NOTE_MAX)])
    open_parts_reason = TextAreaField(_l("配合单位尚未反馈完成的原因"), filters=[_strip],
                                      validators=[Length(max=NOTE_MAX)])


class _Decision(VersionedForm):
    """Two outcomes on one page: ``action`` (a hidden field of each of the two forms) picks one;
    ``note`` goes with the approval (optional), ``reason`` with the refusal (required)."""

    APPROVE: Action
    REJECT: Action
    REASON_MESSAGE = _l("请填写原因。")

    action = HiddenField(filters=[_strip])
    # Each page names its own ``note`` and ``reason`` fields (labels differ).

    def validate_action(self, field):
        if field.data not in (self.APPROVE.value, self.REJECT.value):
            raise ValidationError(str(_l("请选择一种处理结果。")))

    def validate_reason(self, field):
        if self.action.data == self.REJECT.value and not (field.data or "").strip():
            raise ValidationError(str(self.REASON_MESSAGE))

    @property
    def chosen(self) -> Action | None:
        try:
            return Action(self.action.data)
        except ValueError:
            return None

    @property
    def approving(self) -> bool:
        return self.action.data == self.APPROVE.value


class LeaderReviewForm(_Decision):
    """The unit leader: 同意销号 (optional note) or 退回销号申请 (reason)."""

    APPROVE, REJECT = Action.approve_signoff, Action.reject_signoff
    REASON_MESSAGE = _l("请填写退回原因。")

    note = TextAreaField(_l("审核意见（可选）"), filters=[_strip], validators=[Length(max=NOTE_MAX)])
    reason = TextAreaField(_l("退回原因"), filters=[_strip], validators=[Length(max=NOTE_MAX)])


class VerifyForm(_Decision):
    """Whoever assigned it: 核销通过 (opinion) or 退回重办 (reason, counted against the unit)."""

    APPROVE, REJECT = Action.verify, Action.reject_verification
    REASON_MESSAGE = _l("请填写退回重办的原因。")

    note = TextAreaField(_l("核销意见"), filters=[_strip], validators=[Length(max=NOTE_MAX)])
    reason = TextAreaField(_l("退回重办原因"), filters=[_strip], validators=[Length(max=NOTE_MAX)])


class CannotSolveDecisionForm(_Decision):
    """The office: 批准暂难解决 (optional note) or 驳回 (reason; back to 办理中)."""

    APPROVE, REJECT = Action.approve_cannot_solve, Action.reject_cannot_solve
    REASON_MESSAGE = _l("请填写驳回理由。")

    note = TextAreaField(_l("审批意见（可选）"), filters=[_strip], validators=[Length(max=NOTE_MAX)])
    reason = TextAreaField(_l("驳回理由"), filters=[_strip], validators=[Length(max=NOTE_MAX)])


class CannotSolveForm(VersionedForm):
    """申请暂难解决: the kind of reason and the explanation (what the resident will be told too)."""

    reason_kind = RadioField(
        _l("原因类别"), choices=[SelectChoice(r.value, r.label) for r in CannotSolveReason], validate_choice=False,
        validators=[AnyOf([r.value for r in CannotSolveReason], message=_l("请选择原因类别。"))])
    explanation = TextAreaField(_l("情况说明"), filters=[_strip], validators=[
        Needed(_l("请说明暂难解决的原因和已做的工作。")), Length(max=TEXT_MAX)])

    @property
    def reason(self) -> CannotSolveReason | None:
        try:
            return CannotSolveReason(self.reason_kind.data)
        except ValueError:
            return None
