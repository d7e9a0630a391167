"""Time limits enforced: reminders near a limit, notices when it has passed, escalation when it
stays passed — one rule per kind of limit (``RULES``, shown on the office's settings page).

| rule | limit | reminded (near) | overdue: told | escalated (``notice_after_overdue_days`` later) |
|---|---|---|---|---|
| 签收 | ``sign_for_days`` after assignment | the unit's handlers, on the last day | handlers and the unit leader (超时未签收) | whoever assigned |
| 退回 | ``return_within_days`` after assignment | — | a later return needs the office's consent | — |
| 办理 | the problem's deadline | handlers, ``due_soon_days`` before | handlers and the unit leader | 催办 and 通报 (``supervision.sweep``) |
| 任务书步骤 | each step's date | the step's unit | its handlers and leader | whoever assigned |
| 延期审批 | the current deadline | whoever assigned (decide before it) | its leader too | — |
| 核验 | ``verify_within_days`` after the leader agreed | whoever assigned | its leader too | — |
| 回音 | ``reply_due`` | the registering cadre | the cadre and the group lead | — |

Every message carries a key naming the object and its limit (``sign_for_overdue:<part>``,
``deadline_due:<problem>:<date>`` …): each person is told once per key, so running the sweep
twice in a minute, or every hour, adds nothing the second time; a new limit (an approved
extension) is told afresh. Candidates are read in id-ordered batches of 500.
"""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, select

from ..cases.models import Assignment, AssignmentUnit, PartStatus, Problem
from ..cases.workflow import HANDLING
from ..core import audit, clock
from ..core.calendar import add_workdays, workdays_between
from ..core.deadlines import LIMIT_RULES as RULES  # noqa: F401 - the table this sweep enforces
from ..core.deadlines import local_date
from ..core.extensions import db
from ..core.settings import get_settings
from ..handling.models import (
    BookStatus,
    Closure,
    ClosureStatus,
    Extension,
    RequestStatus,
    TaskBook,
    TaskStep,
)
from ..notifications.emit import LEAD, Item, People, notify_many
from . import papers

BATCH = 500


@dataclass
class Result:
    date: dt.date
    told: dict

    def as_dict(self) -> dict:
        return {"date": self.date.isoformat(), **self.told}


def _batches(stmt, key):
    last = 0
    while True:
        rows = db.session.execute(stmt.where(key > last).order_by(key).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _title(label, number, title) -> str:
    return f"{label}：{number} {title}"


class _Out:
    """Items per kind, sent in batches."""

    def __init__(self):
        self.items: dict[str, list[Item]] = {}
        self.told: dict[str, int] = {}

    def add(self, kind: str, users, title: str, body: str, target, dedupe: str) -> None:
        if users:
            self.items.setdefault(kind, []).append(Item(tuple(users), title, body, target, dedupe))

    def flush(self) -> None:
        for kind, items in self.items.items():
            self.told[kind] = self.told.get(kind, 0) + len(notify_many(kind, items))
        self.items.clear()


def _sign_for(today, soon, s, out: _Out) -> None:
    stmt = (select(AssignmentUnit.id, AssignmentUnit.unit_id, Assignment.sign_for_deadline,
                   Assignment.assigner_unit_id, Problem.id, Problem.number, Problem.title)
            .join(Assignment, Assignment.id == AssignmentUnit.assignment_id)
            .join(Problem, Problem.id == AssignmentUnit.problem_id)
            .where(AssignmentUnit.is_current.is_(True), AssignmentUnit.status == PartStatus.pending,
                   Assignment.sign_for_deadline <= today))
    for rows in _batches(stmt, AssignmentUnit.id):
        people = People({r[1] for r in rows} | {r[3] for r in rows})
        for part_id, unit_id, due, assigner, pid, number, title in rows:
            target = ("problem", pid)
            if due == today:
                out.add("sign_for_due", people.of(unit_id), _title("请于今天签收", number, title),
                        f"签收时限 {due.isoformat()}。", target, f"sign_for_due:{part_id}")
                continue
            late = workdays_between(due, today)
            body = f"签收时限 {due.isoformat()}，已超时 {late} 个工作日未签收。"
            out.add("sign_for_overdue", people.of(unit_id) + people.of(unit_id, LEAD),
                    _title("超时未签收", number, title), body, target, f"sign_for_overdue:{part_id}")
            if late >= s.notice_after_overdue_days:
                out.add("sign_for_overdue", people.of(assigner), _title("交办后长期未签收", number, title),
                        body, target, f"sign_for_escalate:{part_id}")
        out.flush()


def _handling(today, soon, s, out: _Out) -> None:
    stmt = (select(Problem.id, Problem.lead_unit_id, Problem.deadline, Problem.number, Problem.title)
            .where(Problem.status.in_(HANDLING), Problem.deadline.is_not(None), Problem.deadline <= soon))
    for rows in _batches(stmt, Problem.id):
        people = People({r[1] for r in rows})
        for pid, unit_id, due, number, title in rows:
            target = ("problem", pid)
            if due >= today:
                out.add("deadline_due", people.of(unit_id), _title("办理时限将到", number, title),
                        f"办理时限 {due.isoformat()}。", target, f"deadline_due:{pid}:{due.isoformat()}")
            else:
                out.add("deadline_overdue", people.of(unit_id) + people.of(unit_id, LEAD),
                        _title("办理已超期", number, title), f"办理时限 {due.isoformat()}，已超期。",
                        target, f"deadline_overdue:{pid}:{due.isoformat()}")
        out.flush()


def _steps(today, soon, s, out: _Out) -> None:
    stmt = (select(TaskStep.id, TaskStep.unit_id, TaskStep.due_on, TaskStep.title, Problem.id,
                   Problem.number, Problem.assigner_unit_id)
            .join(TaskBook, TaskBook.id == TaskStep.task_book_id)
            .join(Problem, Problem.id == TaskStep.problem_id)
            .where(TaskBook.status == BookStatus.approved, TaskStep.done_at.is_(None),
                   Problem.status.in_(HANDLING), TaskStep.due_on <= soon))
    for rows in _batches(stmt, TaskStep.id):
        people = People({r[1] for r in rows} | {r[6] for r in rows})
        for step_id, unit_id, due, step, pid, number, assigner in rows:
            target, key = ("problem", pid), f"{step_id}:{due.isoformat()}"
            if due >= today:
                out.add("deadline_due", people.of(unit_id), _title("任务书步骤将到期", number, step),
                        f"步骤时限 {due.isoformat()}。", target, f"step_due:{key}")
                continue
            out.add("deadline_overdue", people.of(unit_id) + people.of(unit_id, LEAD),
                    _title("任务书步骤已超期", number, step), f"步骤时限 {due.isoformat()}。", target,
                    f"step_overdue:{key}")
            if workdays_between(due, today) >= s.notice_after_overdue_days:
                out.add("deadline_overdue", people.of(assigner), _title("任务书步骤长期超期", number, step),
                        f"步骤时限 {due.isoformat()}。", target, f"step_escalate:{key}")
        out.flush()


def _extensions(today, soon, s, out: _Out) -> None:
    stmt = (select(Extension.id, Extension.old_deadline, Extension.new_deadline, Problem.id, Problem.number,
                   Problem.title, Problem.assigner_unit_id)
            .join(Problem, Problem.id == Extension.problem_id)
            .where(Extension.status == RequestStatus.pending, Extension.old_deadline <= soon))
    for rows in _batches(stmt, Extension.id):
        people = People({r[6] for r in rows})
        for ext_id, old, new, pid, number, title, assigner in rows:
            target = ("problem", pid)
            body = f"申请将时限 {old.isoformat()} 延至 {new.isoformat()}，请在原时限前审批。"
            if old >= today:
                out.add("extension_requested", people.of(assigner), _title("延期申请待审批", number, title),
                        body, target, f"extension_due:{ext_id}")
            else:
                out.add("deadline_overdue", people.of(assigner) + people.of(assigner, LEAD),
                        _title("延期申请逾期未审批", number, title), body, target, f"extension_overdue:{ext_id}")
        out.flush()


def verification_due(leader_at: dt.datetime) -> dt.date:
    return add_workdays(local_date(leader_at), get_settings().verify_within_days)


def _verifications(today, soon, s, out: _Out) -> None:
    stmt = (select(Closure.id, Closure.leader_at, Problem.id, Problem.number, Problem.title,
                   Problem.assigner_unit_id)
            .join(Problem, Problem.id == Closure.problem_id)
            .where(Closure.status == ClosureStatus.verifying, Closure.leader_at.is_not(None)))
    for rows in _batches(stmt, Closure.id):
        people = People({r[5] for r in rows})
        for closure_id, leader_at, pid, number, title, assigner in rows:
            due = verification_due(leader_at)
            if due > soon:
                continue
            target = ("problem", pid)
            if due >= today:
                out.add("verification", people.of(assigner), _title("核验时限将到", number, title),
                        f"请于 {due.isoformat()} 前核验。", target, f"verify_due:{closure_id}")
            else:
                out.add("deadline_overdue", people.of(assigner) + people.of(assigner, LEAD),
                        _title("核验已超期", number, title), f"核验时限 {due.isoformat()}。", target,
                        f"verify_overdue:{closure_id}")
        out.flush()


def _replies(today, soon, s, out: _Out) -> None:
    stmt = (select(Problem.id, Problem.reply_due, Problem.registered_by_id, Problem.work_group_id,
                   Problem.number, Problem.title)
            .where(Problem.reply_due.is_not(None), Problem.reply_due <= soon))
    for rows in _batches(stmt, Problem.id):
        people = People({r[3] for r in rows})
        for pid, due, cadre, group, number, title in rows:
            target, key = ("problem", pid), f"{pid}:{due.isoformat()}"
            if due >= today:
                out.add("reply_due", (cadre,), _title("回音时限将到", number, title),
                        f"请于 {due.isoformat()} 前向群众回音。", target, f"reply_soon:{key}")
            else:
                out.add("deadline_overdue", (cadre, *people.of(group, LEAD)), _title("回音已超期", number, title),
                        f"回音时限 {due.isoformat()}。", target, f"reply_overdue:{key}")
        out.flush()


def run(today: dt.date | None = None, *, user=None, source: str = "cli") -> Result:
    """Remind, tell overdue, escalate (see the module docstring); audited; flushes."""
    today = today or clock.today()
    s = get_settings()
    soon = add_workdays(today, s.due_soon_days)
    out = _Out()
    for step in (_sign_for, _handling, _steps, _extensions, _verifications, _replies):
        step(today, soon, s, out)
    told = dict(out.told)
    told["paper_unacknowledged"] = papers.remind_unacknowledged(today)
    result = Result(date=today, told=told)
    audit.record("supervision.limits", user=user, detail={**result.as_dict(), "source": source})
    db.session.flush()
    return result


def late_sign_for(unit_id: int | None = None):
    """The condition "超时未签收" on current parts (a unit's, or all) — for counts and pages."""
    today = clock.today()
    cond = and_(AssignmentUnit.is_current.is_(True), AssignmentUnit.status == PartStatus.pending,
                AssignmentUnit.assignment_id == Assignment.id, Assignment.sign_for_deadline < today)
    return cond if unit_id is None else and_(cond, AssignmentUnit.unit_id == unit_id)
