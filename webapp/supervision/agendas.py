"""调度会议程: what a scheduling meeting reviews, chosen from the data and frozen when generated.

The seed's rhythm: a work group meets every half month on its own problems, the office meets
monthly on every problem. Each meeting looks at four kinds of problem (``REASONS``), each chosen
by one function and one SQL statement over the meeting's scope:

- ``overdue``: still being handled (``workflow.HANDLING``) with a deadline before the meeting;
- ``rejected``: sent back in the period reviewed — 退回重办 by the verifier, a task book or a
  sign-off request rejected by the unit leader;
- ``unsatisfied``: a resident said 不满意 in the period, or the problem was reopened after the reply;
- ``hard``: 难事联办 still being handled, waiting for the office's 暂难解决 decision, or ended as
  暂难解决 in the period.

``generate`` writes the agenda with its items in order (overdue first, most working days late
first; then the others) and a frozen one-line summary of each problem, so that later changes to
the problems do not alter what was put before the meeting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import joinedload

from ..cases.actions import event_label
from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import HANDLING, Action, Status, Tier
from ..core import audit, clock
from ..core.calendar import workdays_between
from ..core.extensions import db
from ..core.periods import Period
from ..documents.pdf import cn_date
from ..handling.models import Reply, Verdict
from ..org.models import Unit, UnitKind
from .models import Agenda, AgendaItem, AgendaKind

REASONS = {
    "overdue": _l("超期未办结"),
    "rejected": _l("退回重办"),
    "unsatisfied": _l("群众不满意"),
    "hard": _l("难事及暂难解决"),
}
ORDER = {code: i for i, code in enumerate(REASONS)}

# Timeline actions that count as "sent back" in the period.
REJECTIONS = (Action.reject_verification.value, Action.reject_plan.value, Action.reject_signoff.value)

KIND_LABELS = {AgendaKind.group: _l("工作组调度会"), AgendaKind.office: _l("活动办调度会")}

# A meeting date at most this far from today (a typo in the year would review a wrong period).
MAX_DAYS_AWAY = 366

# Ids per IN (…) when loading the chosen problems: the statements stay bounded and small.
CHUNK = 500


class AgendaInvalid(ValueError):
    """The meeting cannot be generated as asked (message in Chinese, field named)."""

    def __init__(self, field_name: str, message):
        self.field = field_name
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True)
class Scope:
    """One meeting: its kind, work group (group kind), date and the period it reviews."""

    kind: AgendaKind
    unit: Unit | None
    meeting_on: date
    start: date
    end: date

    @property
    def start_utc(self) -> datetime:
        return clock.as_utc(datetime.combine(self.start, time(), clock.LOCAL_TZ))

    @property
    def end_utc(self) -> datetime:
        """Exclusive: local midnight after ``end``."""
        return clock.as_utc(datetime.combine(self.end + timedelta(days=1), time(), clock.LOCAL_TZ))


def default_period(kind: AgendaKind, meeting_on: date) -> tuple[date, date]:
    """Group: the half month ending before the meeting; office: the previous calendar month."""
    if AgendaKind(kind) == AgendaKind.group:
        p = Period.of(meeting_on).previous()
        return p.start, p.end
    last = meeting_on.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def scope_of(kind, unit: Unit | None, meeting_on: date) -> Scope:
    """The meeting's scope with its default period; ``AgendaInvalid`` for a wrong work group."""
    kind = AgendaKind(kind)
    today = clock.today()
    if not (today - timedelta(days=MAX_DAYS_AWAY) <= meeting_on <= today + timedelta(days=MAX_DAYS_AWAY)):
        raise AgendaInvalid("meeting_on", _l("会议日期须在今天前后一年之内。"))
    if kind == AgendaKind.group:
        if unit is None or unit.kind != UnitKind.work_group:
            raise AgendaInvalid("work_group", _l("请选择工作组。"))
    else:
        unit = None
    start, end = default_period(kind, meeting_on)
    return Scope(kind, unit, meeting_on, start, end)


def title_of(scope: Scope) -> str:
    """潘安湖街道工作组2026年11月下半月调度会议程 / 区活动办2026年11月调度会议程 (always Chinese)."""
    with force_locale("zh_CN"):
        if scope.kind == AgendaKind.group:
            return _("%(group)s%(period)s调度会议程", group=scope.unit.name,
                     period=Period(scope.start, scope.end).label_compact)
        return _("区活动办%(year)s年%(month)s月调度会议程", year=scope.start.year, month=scope.start.month)


def period_label(start: date, end: date) -> str:
    return f"{cn_date(start)}—{cn_date(end)}"


# ---------------------------------------------------------------- the four selections


def _in_scope(q, scope: Scope):
    return q.where(Problem.work_group_id == scope.unit.id) if scope.unit is not None else q


def overdue(scope: Scope) -> dict[int, date]:
    """Still being handled, deadline before the meeting: problem id → deadline."""
    q = select(Problem.id, Problem.deadline).where(Problem.status.in_(HANDLING), Problem.deadline < scope.meeting_on)
    return dict(db.session.execute(_in_scope(q, scope)).all())


def _events_in_period(scope: Scope, actions: Iterable[str]):
    q = (select(ProblemEvent.problem_id).join(Problem, Problem.id == ProblemEvent.problem_id)
         .where(ProblemEvent.action.in_(list(actions)),
                ProblemEvent.created_at >= scope.start_utc, ProblemEvent.created_at < scope.end_utc))
    return _in_scope(q, scope)


def rejected(scope: Scope) -> set[int]:
    """Sent back in the period: 退回重办, task book rejected, sign-off rejected by the unit leader."""
    return set(db.session.scalars(_events_in_period(scope, REJECTIONS).distinct()))


def unsatisfied(scope: Scope) -> set[int]:
    """A resident said 不满意 in the period, or the problem was reopened after the reply in the period."""
    said = _in_scope(
        select(Reply.problem_id).join(Problem, Problem.id == Reply.problem_id)
        .where(Reply.verdict == Verdict.unsatisfied,
               Reply.replied_at >= scope.start_utc, Reply.replied_at < scope.end_utc), scope)
    reopened = _events_in_period(scope, [Action.reply_reopen.value])
    return set(db.session.scalars(select(union(said, reopened).subquery().c[0])))


def hard(scope: Scope) -> set[int]:
    """难事联办 still being handled, 暂难解决 waiting for the office, or approved in the period."""
    now = _in_scope(select(Problem.id).where(or_(
        Problem.status == Status.cannot_solve_review,
        (Problem.tier == Tier.joint) & Problem.status.in_(HANDLING))), scope)
    ended = _events_in_period(scope, [Action.approve_cannot_solve.value])
    return set(db.session.scalars(select(union(now, ended).subquery().c[0])))


# ---------------------------------------------------------------- the items


@dataclass
class Candidate:
    problem: Problem
    reasons: list[str]
    overdue_days: int = 0
    detail: str = ""
    seq: int = 0
    last_event: ProblemEvent | None = field(default=None, repr=False)


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _load(ids: list[int]) -> tuple[dict[int, Problem], dict[int, ProblemEvent]]:
    """The chosen problems (with lead unit) and each one's last timeline entry, per chunk."""
    problems: dict[int, Problem] = {}
    last: dict[int, ProblemEvent] = {}
    for chunk in _chunks(ids):
        problems.update((p.id, p) for p in db.session.scalars(
            select(Problem).where(Problem.id.in_(chunk)).options(joinedload(Problem.lead_unit))))
        latest = (select(func.max(ProblemEvent.id)).where(ProblemEvent.problem_id.in_(chunk))
                  .group_by(ProblemEvent.problem_id))
        last.update((e.problem_id, e) for e in db.session.scalars(
            select(ProblemEvent).where(ProblemEvent.id.in_(latest))))
    return problems, last


def _detail(c: Candidate, meeting_on: date) -> str:
    """The frozen one-line summary (Chinese, like a printed document)."""
    p = c.problem
    parts = [f"牵头单位：{p.lead_unit.name if p.lead_unit else '未交办'}", f"状态：{Status(p.status).label}"]
    if p.deadline is not None:
        parts.append(f"截止：{cn_date(p.deadline)}")
    if "overdue" in c.reasons:
        parts.append(f"超期 {c.overdue_days} 个工作日" if c.overdue_days else "已超期")
    if c.last_event is not None:
        e = c.last_event
        text = f"最近：{cn_date(e.created_at)} {event_label(e.action)}"
        note = (e.note or "").strip().replace("\n", " ")
        if note:
            text += f"（{note[:40]}{'…' if len(note) > 40 else ''}）"
        parts.append(text)
    return "；".join(parts)


def select_items(scope: Scope) -> list[Candidate]:
    """What the meeting would review now, in agenda order, each with its frozen detail.

    Six statements for the reasons and two per ``CHUNK`` problems, whatever the data size.
    """
    late = overdue(scope)
    found: dict[int, list[str]] = {pid: ["overdue"] for pid in late}
    for code, ids in (("rejected", rejected(scope)), ("unsatisfied", unsatisfied(scope)), ("hard", hard(scope))):
        for pid in ids:
            found.setdefault(pid, []).append(code)
    problems, last = _load(sorted(found))
    out = []
    with force_locale("zh_CN"):
        for pid, reasons in found.items():
            c = Candidate(problems[pid], sorted(reasons, key=ORDER.__getitem__), last_event=last.get(pid))
            if pid in late:
                c.overdue_days = max(workdays_between(late[pid], scope.meeting_on), 0)
            c.detail = _detail(c, scope.meeting_on)
            out.append(c)
    # Overdue first, most late first (then the earlier deadline); the others by their first
    # reason, then in the order they were registered.
    out.sort(key=lambda c: (0, -c.overdue_days, c.problem.deadline.toordinal(), c.problem.id)
             if "overdue" in c.reasons else (1, ORDER[c.reasons[0]], 0, c.problem.id))
    for n, c in enumerate(out, 1):
        c.seq = n
    return out


def sections(items) -> list[tuple[str, object, list]]:
    """Per reason (in ``REASONS`` order): (code, label, the items carrying it) — empty ones too."""
    return [(code, label, [i for i in items if code in i.reasons]) for code, label in REASONS.items()]


def generate(kind, scope_unit: Unit | None, meeting_on: date, user, note: str | None = None) -> Agenda:
    """Write the agenda of one meeting with its items (flushes, audits; never commits).

    An agenda with nothing on it is allowed: it says 无 under each reason.
    """
    scope = scope_of(kind, scope_unit, meeting_on)
    items = select_items(scope)
    agenda = Agenda(kind=scope.kind, scope_unit_id=scope.unit.id if scope.unit else None, meeting_on=meeting_on,
                    period_start=scope.start, period_end=scope.end, title=title_of(scope),
                    note=(note or "").strip() or None, created_by_id=user.id, created_at=clock.now())
    agenda.items = [AgendaItem(problem_id=c.problem.id, seq=c.seq, reasons=list(c.reasons), detail=c.detail)
                    for c in items]
    db.session.add(agenda)
    db.session.flush()
    counts = {code: sum(code in c.reasons for c in items) for code in REASONS}
    audit.record("agenda.generate", obj=agenda, user=user, detail={
        "title": agenda.title, "kind": scope.kind.value, "scope_unit": scope.unit.id if scope.unit else None,
        "meeting_on": meeting_on.isoformat(), "period": [scope.start.isoformat(), scope.end.isoformat()],
        "items": len(items), "reasons": counts,
    })
    return agenda


def existing(kind, scope_unit: Unit | None, meeting_on: date) -> Agenda | None:
    """The latest agenda already generated for the same meeting, if any."""
    kind = AgendaKind(kind)
    q = select(Agenda).where(Agenda.kind == kind, Agenda.meeting_on == meeting_on)
    if kind == AgendaKind.group and scope_unit is not None:
        q = q.where(Agenda.scope_unit_id == scope_unit.id)
    else:
        q = q.where(Agenda.scope_unit_id.is_(None))
    return db.session.scalar(q.order_by(Agenda.id.desc()).limit(1))
