"""The campaign's supervision on paper, as the months would have left it: 督办单 issued over
the months (open, answered, overdue), a 通报 and a 催办通知书 of the office (acknowledged by some
units, not by others), and today's time-limit reminders — all through the real operations, so
every demo account's inbox holds what its role would have received."""

import datetime as dt
import random

from sqlalchemy import func, select

from ..accounts.models import User
from ..accounts.roles import Role
from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import NotAllowed, Status
from ..core import clock
from ..core.calendar import add_workdays
from ..core.errors import Invalid
from ..core.extensions import db
from ..supervision import limits, notices, papers
from ..supervision.models import PaperKind

# The statuses in which a 督办单 may be issued (workflow.ACTIVITIES[supervise]).
SUPERVISED = (Status.assigned, Status.accepted, Status.plan_review, Status.in_progress)


def _office() -> User:
    return db.session.scalar(select(User).where(User.role == Role.office).order_by(User.id))


def _handler(unit_id: int) -> User | None:
    return db.session.scalar(select(User).where(User.unit_id == unit_id, User.role == Role.handler).order_by(User.id))


def _date_events(problem_id: int, action: str, when: dt.datetime) -> None:
    """The timeline entry an operation just wrote, dated when it happened in the campaign."""
    db.session.flush()
    event = db.session.scalar(select(ProblemEvent).where(
        ProblemEvent.problem_id == problem_id, ProblemEvent.action == action).order_by(ProblemEvent.id.desc()))
    if event is not None:
        event.created_at = when


def load_notices(seed: int = 2017, notices_wanted: int = 16) -> dict:
    """督办单 issued over the months (before today's sweep, so the timeline runs forward); flushes."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    office = _office()
    today = clock.today()
    overdue = list(db.session.scalars(select(Problem).where(
        Problem.status.in_(SUPERVISED), Problem.deadline < today, Problem.lead_unit_id.is_not(None))
        .order_by(Problem.deadline, Problem.id).limit(notices_wanted)))
    issued = answered = 0
    for i, problem in enumerate(overdue):
        # Issued on a working day after the deadline and after the problem's last event (the
        # timeline only moves forward), at 10:00; the timeline says so too.
        last = db.session.scalar(select(func.max(ProblemEvent.created_at)).where(ProblemEvent.problem_id == problem.id))
        after = max(problem.deadline, clock.local(last).date()) if last else problem.deadline
        issued_on = add_workdays(after, rng.randint(1, 3))
        if issued_on >= today:
            continue
        issued_at = dt.datetime.combine(issued_on, dt.time(10, rng.randint(0, 59)), tzinfo=clock.LOCAL_TZ)
        reply_by = notices.default_reply_by(today)
        try:
            notice = notices.issue(problem, office, lateness=notices.default_lateness(problem, today),
                                   requirement=notices.default_requirement(), reply_by=reply_by,
                                   version=problem.version)
        except (Invalid, NotAllowed):
            continue
        issued += 1
        notice.issued_at = clock.as_utc(issued_at)
        notice.reply_by = add_workdays(issued_on, 3) if i % 3 else reply_by
        _date_events(problem.id, notices.ISSUE, notice.issued_at)
        handler = _handler(problem.lead_unit_id)
        answer_on = add_workdays(issued_on, 2)
        if handler is not None and i % 2 == 0 and answer_on < today:
            notices.answer(notice, handler, answer="已召集相关科室研究，明确专人跟进，预计两周内办结。",
                           version=notice.version)
            notice.answered_at = clock.as_utc(issued_at) + (
                dt.datetime.combine(answer_on, dt.time(0), tzinfo=clock.LOCAL_TZ)
                - dt.datetime.combine(issued_on, dt.time(0), tzinfo=clock.LOCAL_TZ))
            _date_events(problem.id, notices.ANSWER, notice.answered_at)
            answered += 1
    db.session.flush()
    return {"notices": issued, "answered": answered}


def load_papers() -> dict:
    """After today's sweep: a 通报 and a 催办通知书 (some units acknowledge), today's reminders."""
    office = _office()
    made = {}
    for kind in (PaperKind.bulletin, PaperKind.reminder):
        try:
            paper = papers.issue(kind, office)
        except Invalid:
            continue
        made[kind.value] = paper.number
        for j, rec in enumerate(paper.recipients):
            handler = _handler(rec.unit_id)
            if handler is not None and j % 2 == 0:
                papers.acknowledge(rec, handler, version=rec.version)
    told = limits.run(source="demo")
    db.session.flush()
    return {"papers": made, "limits": told.told}
