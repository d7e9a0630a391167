"""The reply to the resident (回音) and the queue of replies owed (待回音).

The registering cadre, the 12345 desk (for problems it leads) and the office record how and
when the resident was called back, what they were told (shown on the public receipt page) and
the resident's verdict. Who may reply is the workflow's ``Action.reply`` / ``reply_reopen``;
the write is ``handling.reply`` run by ``pages.perform`` (one commit, 409/403/field errors).
The problem page shows the replies in a panel (``panels``).
"""

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts import nav
from ..accounts.gates import role_may, roles_required
from ..accounts.roles import Role
from ..cases import pages, panels, queries
from ..cases.access import relations, scope, sees_full_contact, shown_phone
from ..cases.deadlines import due_soon_cutoff
from ..cases.models import Problem
from ..cases.workflow import OWES_REPLY, Action, Status, may
from ..core import clock
from ..core.deadlines import time_left
from ..core.extensions import db
from ..core.render import render
from . import operations as handling
from .models import Closure, ClosureStatus, Reply, Verdict
from .reply_forms import ReplyForm

bp = Blueprint("replies", __name__)
repliers = roles_required(Role.cadre, Role.desk, Role.office)

PAGE_SIZE = 25


@bp.record_once
def _menu(_state) -> None:
    # Added when the blueprint is registered (after the queues' 工作台), not on import.
    nav.register("replies.queue", _l("待回音"))


# ---------------------------------------------------------------- reads


def replies_of(problem: Problem) -> list[Reply]:
    return db.session.scalars(
        select(Reply).where(Reply.problem_id == problem.id)
        .options(joinedload(Reply.replied_by), joinedload(Reply.unit))
        .order_by(Reply.replied_at, Reply.id)).all()


def reply_owed(problem: Problem) -> bool:
    """The status owes a reply and none has been recorded since (as ``handling.reply`` decides)."""
    return problem.status in OWES_REPLY and not (problem.reply_due is None and problem.replied_at is not None)


def may_ever_reply(user, problem: Problem) -> bool:
    """Whether the user stands to the problem as one who replies (whatever its status now)."""
    rels = relations(user, problem)
    return any(may(s, Action.reply, user.role, rels) for s in OWES_REPLY)


def may_reply_now(user, problem: Problem) -> bool:
    return reply_owed(problem) and may(problem.status, Action.reply, user.role, relations(user, problem))


def outcome(problem: Problem) -> dict:
    """What the cadre tells the resident: the verified result, or why the problem ended."""
    closure = db.session.scalar(
        select(Closure).where(Closure.problem_id == problem.id,
                              Closure.status.in_((ClosureStatus.verified, ClosureStatus.approved)))
        .order_by(Closure.id.desc()).limit(1))
    out = {"closure": closure, "end_reason": problem.end_reason, "merged_into": None}
    if problem.status == Status.merged and problem.merged_into_id:
        out["merged_into"] = db.session.get(Problem, problem.merged_into_id)
    return out


# ---------------------------------------------------------------- the panel on the problem page


def panel(user, problem: Problem) -> dict | None:
    replies = replies_of(problem)
    due = problem.reply_due
    if not replies and due is None:
        return None
    return {"replies": replies, "due": due, "left": time_left(due) if due else None}


panels.register("replies", "handling/replies/_panel.html", panel)


# ---------------------------------------------------------------- 记录回音


def _page(problem: Problem, form: ReplyForm, *, status: int = 200, error: str | None = None):
    user = current_user
    can_reply = may_reply_now(user, problem)
    can_reveal = sees_full_contact(user, problem) and role_may(user.role, "intake.reveal_contact")
    ctx = {
        "problem": problem,
        "form": form,
        "can_reply": can_reply,
        "can_reopen": can_reply and may(problem.status, Action.reply_reopen, user.role, relations(user, problem)),
        "replies": replies_of(problem),
        "outcome": outcome(problem),
        "phone": shown_phone(problem),
        "can_reveal": can_reveal,
        "left": time_left(problem.reply_due) if problem.reply_due else None,
        "error": error,
        "unsaved": [] if can_reply else _unsaved(form),
    }
    return render("handling/replies/record.html", status=status, **ctx)


def _unsaved(form: ReplyForm) -> list[tuple[str, str]]:
    """What the user typed when the form cannot be drawn any more (someone replied first)."""
    out = []
    for f in (form.content, form.resident_words):
        if isinstance(f.data, str) and f.data.strip():
            out.append((str(f.label.text), f.data))
    return out


def _rerender(form: ReplyForm):
    def rerender(problem, *, status=200, error=None, field_errors=None):
        for name, message in (field_errors or {}).items():
            target = form._fields.get(name)
            if target is not None:
                target.errors = [*target.errors, str(message)]
            else:
                error = str(message) if error is None else error
        if status == 409:
            form.version.data = problem.version  # they have now seen the current state
        return _page(problem, form, status=status, error=error)

    return rerender


@bp.route("/cases/<int:problem_id>/reply", methods=["GET", "POST"])
@repliers
def record(problem_id: int):
    """记录回音: the callback to the resident, what they were told, and their verdict."""
    problem = pages.load(problem_id, for_update=request.method == "POST")
    if not may_ever_reply(current_user, problem):
        abort(403)  # e.g. the desk on a problem it only cooperates on
    if request.method == "GET":
        form = ReplyForm(formdata=None, data={"version": problem.version})
        form.prepare()
        return _page(problem, form)

    form = ReplyForm()
    if not form.validate():
        if not may_reply_now(current_user, problem) and not form.hidden_errors:
            return _page(problem, form, status=409, error=_("该问题已经回音或当前不需要回音，未再次记录。"))
        return _page(problem, form)
    token = form.token.data or None
    reopen = (form.verdict_value == Verdict.unsatisfied and form.substantive.data
              and problem.status == Status.signed_off)

    def work() -> str:
        repeat = token is not None and db.session.scalar(select(Reply.id).where(Reply.client_token == token))
        record = handling.reply(
            problem, current_user, method=form.method_value, replied_at=form.replied_at.utc,
            content=form.content.data or "", verdict=form.verdict_value,
            resident_words=form.resident_words.data, substantive=bool(form.substantive.data),
            version=form.version.data, token=token)
        if repeat:
            return _("这条回音已经记录过（重复提交），未再次记录。")
        if record.reopened and problem.status == Status.registered:
            return _("已记录回音。群众因实质性问题不满意，当场解决的问题已退回工作组重新研判交办。")
        if record.reopened:
            return _("已记录回音。群众因实质性问题不满意，问题已重新办理（第 %(n)d 次），新的办理时限 %(d)s。",
                     n=problem.reopen_count, d=problem.deadline.isoformat() if problem.deadline else "—")
        if problem.status == Status.closed:
            return _("已记录回音，问题已办结。")
        return _("已记录回音。")

    return pages.perform(problem_id, work, _rerender(form),
                         action=Action.reply_reopen if reopen else Action.reply)


# ---------------------------------------------------------------- 待回音


@bp.get("/replies")
@repliers
def queue():
    """待回音: the problems of the user's scope that owe the resident a reply, soonest due first."""
    user = current_user
    today = clock.today()
    owes = queries.tab_conditions(user, today, due_soon_cutoff(today)).get("owes_reply")
    if owes is None:
        abort(403)
    conds = [scope(user), owes]
    total = db.session.scalar(select(func.count()).select_from(Problem).where(*conds))
    pages_n = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages_n)
    items = db.session.scalars(
        select(Problem).where(*conds)
        .options(selectinload(Problem.village), selectinload(Problem.town))
        .order_by(Problem.reply_due.asc(), Problem.id.asc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    now = clock.now()
    rows = [(p, time_left(p.reply_due, now)) for p in items]
    return render("handling/replies/queue.html", rows=rows, total=total, page=page, pages=pages_n)
