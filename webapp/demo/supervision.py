"""The campaign's supervision on paper, as the months would have left it: 督办单 issued over
the months (open, answered, overdue), a 通报 and a 催办通知书 of the office (acknowledged by some
units, not by others), and today's time-limit reminders — all through the real operations, so
every demo account's inbox holds what its role would have received."""

import datetime as dt
import random

from sqlalchemy import select

from ..accounts.models import User
from ..accounts.roles import Role
from ..cases.models import Problem
from ..cases.workflow import HANDLING
from ..core import clock
from ..core.errors import Invalid
from ..core.extensions import db
from ..supervision import limits, notices, papers
from ..supervision.models import PaperKind


def _office() -> User:
    return db.session.scalar(select(User).where(User.role == Role.office).order_by(User.id))


def _handler(unit_id: int) -> User | None:
    return db.session.scalar(select(User).where(User.unit_id == unit_id, User.role == Role.handler).order_by(User.id))


def load_supervision(seed: int = 2017, notices_wanted: int = 16) -> dict:
    """督办单 over the months, a 通报 and a 催办通知书, and today's reminders; flushes."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    office = _office()
    today = clock.today()
    overdue = list(db.session.scalars(select(Problem).where(
        Problem.status.in_(HANDLING), Problem.deadline < today, Problem.lead_unit_id.is_not(None))
        .order_by(Problem.deadline, Problem.id).limit(notices_wanted)))
    issued = answered = 0
    for i, problem in enumerate(overdue):
        days_ago = rng.randint(3, 75)
        reply_by = notices.default_reply_by(today)
        try:
            notice = notices.issue(problem, office, lateness=notices.default_lateness(problem, today),
                                   requirement=notices.default_requirement(), reply_by=reply_by,
                                   version=problem.version)
        except Invalid:
            continue
        issued += 1
        notice.issued_at = clock.now() - dt.timedelta(days=days_ago)
        notice.reply_by = (notice.issued_at + dt.timedelta(days=5)).date() if i % 3 else reply_by
        handler = _handler(problem.lead_unit_id)
        if handler is not None and i % 2 == 0:
            notices.answer(notice, handler, answer="已召集相关科室研究，明确专人跟进，预计两周内办结。",
                           version=notice.version)
            answered += 1
    db.session.flush()
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
    return {"notices": issued, "answered": answered, "papers": made, "limits": told.told}
