"""The public receipt lookup (回执查询): a resident follows their problem without an account.

The resident types the receipt number (回执号) and the last four digits of the phone they gave.
The answer shows only what is meant for them: the status in plain words, the dates of
registration and of the end, the progress the unit marked 可以告知群众, and what they were told in
the replies (``Reply.content``) — no names, no units, no internal notes, no phone. A wrong number and a wrong phone get the same
answer. Attempts are limited per client address, counted in the database
(``LookupAttempt``) so that every process sees them: ``RECEIPT_LOOKUP_LIMIT`` lookups per
``RECEIPT_LOOKUP_WINDOW_SECONDS``, then HTTP 429.
"""

import hmac
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import Status
from ..core import clock
from ..core.extensions import db
from ..core.gates import public
from ..core.render import render
from ..handling.models import Reply
from .forms import RECEIPT_LENGTH, ReceiptForm, normalise_receipt
from .models import LookupAttempt

bp = Blueprint("receipt", __name__)

DEFAULT_LIMIT = 10
DEFAULT_WINDOW_SECONDS = 600
PRUNE_EVERY = 50  # every this many attempts (by id), old rows of every client go too

NOT_FOUND = _l("未查到相关信息，请核对回执号和手机号后四位。")

# The status in words for a resident: (short, explanation).
_RECEIVED = (_l("已受理"), _l("您反映的问题已登记，正在研究交办。"))
_HANDLING = (_l("办理中"), _l("问题已交有关单位办理。"))
RESIDENT_STATUS = {
    Status.registered: _RECEIVED,
    Status.returned: _RECEIVED,
    Status.listed: _RECEIVED,
    Status.assigned: _HANDLING,
    Status.accepted: _HANDLING,
    Status.plan_review: _HANDLING,
    Status.in_progress: _HANDLING,
    Status.signoff_review: _HANDLING,
    Status.pending_verification: _HANDLING,
    Status.cannot_solve_review: _HANDLING,
    Status.signed_off: (_l("已办结"), _l("问题已办理完毕，工作人员将与您联系回访。")),
    Status.closed: (_l("已办结"), _l("问题已办理完毕。")),
    Status.not_accepted: (_l("不予受理"), _l("该问题不在受理范围内，工作人员将向您说明原因。")),
    Status.merged: (_l("已合并办理"), _l("该问题与反映的相同问题合并办理。")),
    Status.cannot_solve: (_l("暂难解决"), _l("该问题目前暂时难以解决，工作人员将向您说明情况。")),
}
# Statuses ended by an action whose date is the end date (besides sign-off: ``solved_at``).
_ENDED_BY_EVENT = (Status.not_accepted, Status.merged, Status.cannot_solve)


@dataclass
class ReceiptView:
    """What the resident sees: nothing else of the problem leaves this module."""

    status: str
    explanation: str
    registered_on: date
    ended_on: date | None
    replies: list[tuple[date, str]]
    progress: list[tuple[date, str]]  # what the unit marked 可以告知群众, oldest first


def _limit() -> int:
    return int(current_app.config.get("RECEIPT_LOOKUP_LIMIT", DEFAULT_LIMIT))


def _window() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("RECEIPT_LOOKUP_WINDOW_SECONDS", DEFAULT_WINDOW_SECONDS)))


def _client() -> str:
    # ProxyFix (PROXY_COUNT) has already put the client's address here when behind a proxy.
    return (request.remote_addr or "unknown")[:64]


def attempts_in_window(client: str) -> int:
    since = clock.now() - _window()
    return db.session.scalar(select(func.count()).select_from(LookupAttempt).where(
        LookupAttempt.client == client, LookupAttempt.created_at > since)) or 0


def record_attempt(client: str, found: bool) -> None:
    """Count this lookup; drop this client's old rows, and now and then everyone's."""
    now = clock.now()
    cutoff = now - _window()
    attempt = LookupAttempt(client=client, created_at=now, found=found)
    db.session.add(attempt)
    db.session.flush()
    db.session.execute(delete(LookupAttempt).where(
        LookupAttempt.client == client, LookupAttempt.created_at <= cutoff))
    if attempt.id % PRUNE_EVERY == 0:
        db.session.execute(delete(LookupAttempt).where(LookupAttempt.created_at <= cutoff))


def _phone_matches(phone: str | None, last4: str) -> bool:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    return len(digits) >= 4 and hmac.compare_digest(digits[-4:], last4)


def find(receipt_no: str, last4: str) -> Problem | None:
    problem = db.session.scalar(select(Problem).where(Problem.receipt_no == receipt_no))
    if problem is None or not _phone_matches(problem.resident_phone, last4):
        return None
    return problem


def _ended_on(problem: Problem) -> date | None:
    if problem.status in (Status.signed_off, Status.closed) and problem.solved_at is not None:
        return clock.local(problem.solved_at).date()
    if problem.status in _ENDED_BY_EVENT:
        when = db.session.scalar(select(func.max(ProblemEvent.created_at)).where(
            ProblemEvent.problem_id == problem.id, ProblemEvent.to_status == problem.status,
            ProblemEvent.from_status != problem.status))
        return clock.local(when).date() if when is not None else None
    return None


def view_of(problem: Problem) -> ReceiptView:
    short, explanation = RESIDENT_STATUS[problem.status]
    replies = db.session.execute(
        select(Reply.replied_at, Reply.content).where(Reply.problem_id == problem.id)
        .order_by(Reply.replied_at, Reply.id)).all()
    # Only progress written for the resident: status changes, approvals and notes stay inside.
    progress = db.session.execute(
        select(ProblemEvent.created_at, ProblemEvent.note).where(
            ProblemEvent.problem_id == problem.id, ProblemEvent.action == "progress",
            ProblemEvent.is_public.is_(True), ProblemEvent.note.is_not(None))
        .order_by(ProblemEvent.created_at, ProblemEvent.id)).all()
    return ReceiptView(
        status=str(short), explanation=str(explanation),
        registered_on=clock.local(problem.registered_at).date(), ended_on=_ended_on(problem),
        replies=[(clock.local(at).date(), content) for at, content in replies],
        progress=[(clock.local(at).date(), note) for at, note in progress],
    )


def _page(form: ReceiptForm, *, status: int = 200, **ctx):
    return render("receipt/lookup.html", status=status, form=form, **ctx)


@bp.route("/receipt", methods=["GET", "POST"])
@public
def lookup():
    """回执查询: status, dates and the replies of one problem, for its resident (no login)."""
    form = ReceiptForm()
    if request.method == "GET":
        # The QR code on the printed receipt carries the receipt number (``?no=``): filled in.
        form.receipt_no.data = normalise_receipt(request.args.get("no", ""))[:RECEIPT_LENGTH] or None
        return _page(form)
    client = _client()
    if attempts_in_window(client) >= _limit():
        minutes = max(1, int(_window().total_seconds()) // 60)
        response = _page(ReceiptForm(formdata=None), status=429,
                         limited=_("查询次数过多，请 %(n)d 分钟后再试。", n=minutes))
        response.headers["Retry-After"] = str(int(_window().total_seconds()))
        return response
    if not form.validate():
        return _page(form)
    problem = find(form.receipt_no.data, form.phone_last4.data)
    record_attempt(client, problem is not None)
    result = view_of(problem) if problem is not None else None
    db.session.commit()
    # Not found: the same page whatever was wrong (nothing typed is echoed back).
    return _page(ReceiptForm(formdata=None), result=result, not_found=None if result else str(NOT_FOUND))
