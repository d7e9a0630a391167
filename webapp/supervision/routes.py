"""The 督查督办 page: overdue problems, the 催办/通报 sent per unit, and running the sweep now.

The office runs it; the leader reads it. Units see their own 催办/通报 on the problem page's
timeline, not here.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from ..accounts import home, nav
from ..accounts.gates import roles_required
from ..accounts.roles import UNIT_ROLES, Role
from ..cases.models import AssignmentUnit, Problem, ProblemEvent
from ..cases.workflow import HANDLING
from ..core import clock
from ..core.deadlines import time_left
from ..core.extensions import db
from ..core.render import render
from ..org.models import Unit
from . import limits, sweep
from .models import NoticeStatus, PaperRecipient, SupervisionNotice

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
readers = roles_required(Role.office, Role.leader)
office = roles_required(Role.office)

NOTICED_SHOWN = 200  # the page lists at most this many noticed problems (most overdue first)


@bp.record_once
def _menu(_state) -> None:
    nav.register("supervision.index", _l("督查督办"))


def _per_unit(today):
    """Per lead unit: problems overdue now, 催办 and 通报 ever sent (three grouped queries)."""
    overdue = dict(db.session.execute(
        select(Problem.lead_unit_id, func.count())
        .where(Problem.status.in_(HANDLING), Problem.deadline < today)
        .group_by(Problem.lead_unit_id)).all())
    sent: dict[tuple[int, str], int] = {
        (unit_id, action): n for unit_id, action, n in db.session.execute(
            select(ProblemEvent.unit_id, ProblemEvent.action, func.count())
            .where(ProblemEvent.action.in_((sweep.REMIND, sweep.NOTICE)),
                   ProblemEvent.unit_id.is_not(None))
            .group_by(ProblemEvent.unit_id, ProblemEvent.action)).all()}
    unit_ids = set(overdue) | {u for u, _a in sent}
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    rows = [
        {"unit": units[uid], "overdue": overdue.get(uid, 0),
         "reminded": sent.get((uid, sweep.REMIND), 0), "noticed": sent.get((uid, sweep.NOTICE), 0)}
        for uid in unit_ids if uid in units
    ]
    rows.sort(key=lambda r: (-r["overdue"], -r["noticed"], r["unit"].name))
    return rows


def _noticed(today):
    """Overdue problems still being handled that have had a 通报 (most overdue first)."""
    last_notice = (
        select(ProblemEvent.problem_id, func.max(ProblemEvent.created_at).label("at"),
               func.count().label("n"))
        .where(ProblemEvent.action == sweep.NOTICE)
        .group_by(ProblemEvent.problem_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Problem, Unit.name, last_notice.c.at)
        .join(last_notice, last_notice.c.problem_id == Problem.id)
        .join(Unit, Unit.id == Problem.lead_unit_id)
        .where(Problem.status.in_(HANDLING), Problem.deadline < today)
        .order_by(Problem.deadline, Problem.id)
        .limit(NOTICED_SHOWN)
    ).all()
    return [{"problem": p, "unit_name": name, "noticed_at": at, "left": time_left(p.deadline, today)}
            for p, name, at in rows]


@bp.get("")
@readers
def index():
    today = clock.today()
    return render("supervision/index.html", today=today, units=_per_unit(today),
                  noticed=_noticed(today), may_run=current_user.role == Role.office,
                  shown=NOTICED_SHOWN)


SENT_ACTIONS = {sweep.REMIND: _l("催办"), sweep.NOTICE: _l("通报")}


SENT_SHOWN = 500  # the list behind a count shows at most this many problems (the latest)


def _sent(unit_id: int, action: str):
    """The problems behind a unit's 累计催办/累计通报 count: each once, with how often and when
    last, newest first; and the totals (events, problems) the count stands for."""
    where = (ProblemEvent.action == action, ProblemEvent.unit_id == unit_id)
    total, problems = db.session.execute(
        select(func.count(), func.count(ProblemEvent.problem_id.distinct())).where(*where)).one()
    sent = (
        select(ProblemEvent.problem_id, func.count().label("n"), func.max(ProblemEvent.created_at).label("at"))
        .where(*where).group_by(ProblemEvent.problem_id).subquery()
    )
    rows = db.session.execute(
        select(Problem, sent.c.n, sent.c.at).join(sent, sent.c.problem_id == Problem.id)
        .order_by(sent.c.at.desc(), Problem.id.desc()).limit(SENT_SHOWN)
    ).all()
    return [{"problem": p, "times": n, "at": at} for p, n, at in rows], total, problems


@bp.get("/sent")
@readers
def sent():
    """The list behind a count of the per-unit table: the problems a unit was sent 催办 or
    通报 about (every one of them: the count is their events' number)."""
    action = request.args.get("action", "")
    unit_id = request.args.get("unit", "")
    if action not in SENT_ACTIONS or not unit_id.isdigit():
        abort(404)
    unit = db.session.get(Unit, int(unit_id))
    if unit is None:
        abort(404)
    rows, total, problems = _sent(unit.id, action)
    return render("supervision/sent.html", unit=unit, action=action, label=SENT_ACTIONS[action], rows=rows,
                  total=total, problems=problems)


@bp.post("/sweep")
@office
def run():
    result = sweep.run(user=current_user, source="web")
    db.session.commit()
    flash(_("督查完成：超期问题 %(overdue)d 个，新增催办 %(reminded)d 条，新增通报 %(noticed)d 条。",
            overdue=result.overdue, reminded=result.reminded, noticed=result.noticed), "success")
    return redirect(url_for("supervision.index"))


@home.counts
def _home_counts(user) -> list[home.Count]:
    """超时未签收 (the unit's own, or every unit's for the office and the leader), the 督办单
    waiting for the unit's answer, and the 催办通知书/通报 not acknowledged yet (the unit's own,
    or every unit's); each links to its list."""
    if user.role in UNIT_ROLES:
        late = db.session.scalar(select(func.count(AssignmentUnit.id)).where(limits.late_sign_for(user.unit_id)))
        waiting = db.session.scalar(select(func.count(SupervisionNotice.id)).where(
            SupervisionNotice.unit_id == user.unit_id, SupervisionNotice.status == NoticeStatus.open))
        unread = db.session.scalar(select(func.count(PaperRecipient.id)).where(
            PaperRecipient.unit_id == user.unit_id, PaperRecipient.acknowledged_at.is_(None)))
        return [home.Count("late_sign_for", _l("超时未签收"), late or 0, url_for("cases.queue", tab="to_sign"), True),
                home.Count("notices", _l("待反馈督办单"), waiting or 0, url_for("notices.index", tab="pending"), True),
                home.Count("papers", _l("待签收催办通报"), unread or 0, url_for("papers.index"), True)]
    if user.role in (Role.office, Role.leader):
        late = db.session.scalar(select(func.count(AssignmentUnit.id)).where(limits.late_sign_for()))
        unread = db.session.scalar(select(func.count(PaperRecipient.id)).where(PaperRecipient.acknowledged_at.is_(None)))
        return [home.Count("late_sign_for", _l("超时未签收"), late or 0, url_for("supervision.index"), True),
                home.Count("papers", _l("催办通报未签收"), unread or 0, url_for("papers.index"))]
    return []
