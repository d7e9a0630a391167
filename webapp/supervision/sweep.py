"""The supervision sweep (督查督办): 催办 and 通报 for problems past their deadline.

For every problem still being handled (``workflow.HANDLING``) whose deadline has passed, the
sweep adds to its timeline, as the system (no user) and addressed to the lead unit:

- one 催办 (``remind``) once ``time_left(...).needs_reminder`` (``remind_after_days`` working
  days after the deadline: 1 = the first working day after it);
- one 通报 (``notice``) once ``needs_notice`` (``notice_after_overdue_days`` working days overdue).

Each event's note carries the deadline it is about (``截止日期 YYYY-MM-DD``): the sweep adds
nothing a second time for the same deadline, however often it runs; a new deadline (an approved
extension) starts afresh. Candidates are read in id-ordered batches (one query for the batch,
one for the batch's existing 催办/通报, one bulk insert), so memory and statement sizes stay
bounded whatever the number of problems. The sweep flushes; the caller commits.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select

from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import HANDLING
from ..core import audit, clock
from ..core.audit import AuditHead
from ..core.deadlines import time_left
from ..core.extensions import db
from ..notifications.emit import LEAD, Item, People, notify_many

REMIND = "remind"
NOTICE = "notice"
BATCH = 500


def deadline_key(deadline: dt.date) -> str:
    """The part of an event's note that names the deadline it is about."""
    return f"截止日期 {deadline.isoformat()}"


def _note(action: str, deadline: dt.date, overdue: int) -> str:
    # Stored data (the timeline shows it as written), in the district's language.
    if action == REMIND:
        return f"已超过办理期限（{deadline_key(deadline)}），请抓紧办理并报送进展。"
    return f"超期 {overdue} 个工作日仍未办结（{deadline_key(deadline)}），予以通报。"


@dataclass(frozen=True)
class Result:
    date: dt.date
    overdue: int = 0     # problems being handled past their deadline
    reminded: int = 0    # 催办 added by this run
    noticed: int = 0     # 通报 added by this run

    def as_dict(self) -> dict:
        return {"date": self.date.isoformat(), "overdue": self.overdue,
                "reminded": self.reminded, "noticed": self.noticed}


def _serialise() -> None:
    """Wait for a concurrent sweep (or any audit appender) to commit before reading what exists.

    The audit chain's head row is the app's one serialisation point; taking it first means two
    sweeps started together cannot both miss each other's 催办 (no-op on SQLite, which serialises
    writers anyway)."""
    db.session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())


def _tell(new: list[dict], rows: dict) -> None:
    """The lead unit's handlers hear of each 催办; its leader too of each 通报."""
    people = People({n["unit_id"] for n in new})
    for action, kind in ((REMIND, "remind"), (NOTICE, "bulletin")):
        items = []
        for n in new:
            if n["action"] != action:
                continue
            row = rows[n["problem_id"]]
            users = people.of(row.lead_unit_id) + (people.of(row.lead_unit_id, LEAD) if action == NOTICE else ())
            label = "催办" if action == REMIND else "通报"
            items.append(Item(users, f"{label}：{row.number} {row.title}", n["note"], ("problem", row.id),
                              f"{kind}:{row.id}:{row.deadline.isoformat()}"))
        if items:
            notify_many(kind, items)


def run(today: dt.date | None = None, *, user=None, source: str = "cli") -> Result:
    """Add the 催办/通报 due on ``today`` (default: the district's today); audited."""
    today = today or clock.today()
    _serialise()
    overdue = reminded = noticed = 0
    last_id = 0
    candidates = (
        select(Problem.id, Problem.deadline, Problem.lead_unit_id, Problem.number, Problem.title)
        .where(Problem.status.in_(HANDLING), Problem.deadline.is_not(None), Problem.deadline < today)
        .order_by(Problem.id)
        .limit(BATCH)
    )
    while True:
        rows = db.session.execute(candidates.where(Problem.id > last_id)).all()
        if not rows:
            break
        last_id = rows[-1].id
        overdue += len(rows)
        due: list[tuple] = []
        for row in rows:
            left = time_left(row.deadline, today)
            if left.needs_reminder:
                due.append((row, REMIND, left.overdue_workdays))
            if left.needs_notice:
                due.append((row, NOTICE, left.overdue_workdays))
        if not due:
            continue
        existing = db.session.execute(
            select(ProblemEvent.problem_id, ProblemEvent.action, ProblemEvent.note).where(
                ProblemEvent.problem_id.in_({row.id for row, _a, _o in due}),
                ProblemEvent.action.in_((REMIND, NOTICE)),
            )
        ).all()
        sent: dict[tuple[int, str], list[str]] = {}
        for e in existing:
            sent.setdefault((e.problem_id, e.action), []).append(e.note or "")
        now = clock.now()
        new = []
        for row, action, days in due:
            key = deadline_key(row.deadline)
            if any(key in note for note in sent.get((row.id, action), ())):
                continue
            new.append({"problem_id": row.id, "created_at": now, "user_id": None,
                        "unit_id": row.lead_unit_id, "action": action,
                        "note": _note(action, row.deadline, days), "is_public": False})
        if new:
            db.session.execute(insert(ProblemEvent), new)
            reminded += sum(1 for n in new if n["action"] == REMIND)
            noticed += sum(1 for n in new if n["action"] == NOTICE)
            _tell(new, {row.id: row for row, _a, _d in due})
            for action in (REMIND, NOTICE):
                ids = [n["problem_id"] for n in new if n["action"] == action]
                if ids:
                    audit.record(f"supervision.{action}", object_type="problem", user=user,
                                 detail={"date": today.isoformat(), "problems": ids})
    result = Result(date=today, overdue=overdue, reminded=reminded, noticed=noticed)
    audit.record("supervision.sweep", user=user, detail={**result.as_dict(), "source": source})
    db.session.flush()
    return result
