"""调度会议程: what a scheduling meeting reviews, chosen from the data and frozen when generated.

The seed's rhythm: a work group meets every half month on its own problems, the office meets
monthly on every problem. Each meeting looks at four kinds of problem (``REASONS``), each chosen
by one function and one SQL statement over the meeting's scope:

- ``overdue``: still being handled (``workflow.HANDLING``) with a deadline before the meeting;
- ``rejected``: sent back in the period reviewed — 退回重办 by the verifier, a task book or a
  sign-off request rejected by the unit leader;
- ``unsatisfied``: a resident said 不满意 in the period, or the problem was reopened after the reply;
- ``hard``: 难事联办 still being handled, waiting for the office's 暂难解决 decision, or ended as
  暂难解决 in the period;
- ``proposed`` (the office's meeting): a work group lead proposed it with a reason
  (``propose``, which tells the office) and no office agenda has listed it since; generating
  the office agenda takes the proposals it lists, so the next one starts from the new ones.

Who generates (``may_generate``): the office any meeting's agenda, a work group lead its own
group's half-monthly one alone.

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
from sqlalchemy import func, or_, select, union, update
from sqlalchemy.orm import joinedload

from ..accounts.roles import Role
from ..cases.actions import event_label
from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import HANDLING, Action, Status, Tier
from ..core import audit, clock
from ..core.calendar import workdays_between
from ..core.extensions import db
from ..core.periods import Period
from ..documents.pdf import cn_date
from ..handling.models import Reply, Verdict
from ..notifications.emit import ACT, notify, unit_people
from ..org.models import Unit, UnitKind
from .models import Agenda, AgendaItem, AgendaKind, AgendaProposal

REASONS = {
    "overdue": _l("超期未办结"),
    "rejected": _l("退回重办"),
    "unsatisfied": _l("群众不满意"),
    "hard": _l("难事及暂难解决"),
    "proposed": _l("工作组提请"),
}
ORDER = {code: i for i, code in enumerate(REASONS)}

# Timeline actions that count as "sent back" in the period.
REJECTIONS = (Action.reject_verification.value, Action.reject_plan.value, Action.reject_signoff.value)

KIND_LABELS = {AgendaKind.group: _l("工作组调度会"), AgendaKind.office: _l("活动办调度会")}

# Who generates agendas: the office (any meeting), a work group lead (its own group's meeting).
GENERATORS = (Role.office, Role.group_lead)

# What a group lead may propose: problems still open for discussion (being handled or waiting
# for the office's 暂难解决 decision).
PROPOSABLE = (*HANDLING, Status.cannot_solve_review)
PROPOSAL_REASON_MAX = 500
PROPOSABLE_SHOWN = 300  # the proposal form offers at most this many of the group's problems

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


def may_generate(user, kind, unit: Unit | None) -> bool:
    """The office: any meeting; a work group lead: its own group's meeting alone."""
    if user.role == Role.office:
        return True
    return (user.role == Role.group_lead and AgendaKind(kind) == AgendaKind.group and unit is not None
            and unit.id == user.unit_id)


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


def proposed(scope: Scope) -> dict[int, list[AgendaProposal]]:
    """The office's meeting: the proposals no office agenda has taken yet (problem id → them)."""
    if scope.kind != AgendaKind.office:
        return {}
    out: dict[int, list[AgendaProposal]] = {}
    for prop in db.session.scalars(select(AgendaProposal).where(AgendaProposal.agenda_id.is_(None))
                                   .options(joinedload(AgendaProposal.work_group))
                                   .order_by(AgendaProposal.id)):
        out.setdefault(prop.problem_id, []).append(prop)
    return out


# ---------------------------------------------------------------- proposals


def proposable(group: Unit) -> list[Problem]:
    """The group's problems a lead may propose, nearest deadline first."""
    return db.session.scalars(
        select(Problem).where(Problem.work_group_id == group.id, Problem.status.in_(PROPOSABLE))
        .order_by(Problem.deadline.is_(None), Problem.deadline, Problem.id).limit(PROPOSABLE_SHOWN)).all()


def propose(user, problem: Problem | None, reason: str | None) -> AgendaProposal:
    """提请调度会: a group lead puts a hard case of its own group before the office's next
    meeting, with the reason. One open proposal per problem. Audited; flushes."""
    reason = (reason or "").strip()
    if problem is None:
        raise AgendaInvalid("problem_id", _l("请选择要提请的问题。"))
    if user.role != Role.group_lead or problem.work_group_id != user.unit_id:
        raise AgendaInvalid("problem_id", _l("只能提请本工作组的问题。"))
    if problem.status not in PROPOSABLE:
        raise AgendaInvalid("problem_id", _l("问题 %(n)s 已不在办理中，无需提请调度会。", n=problem.number))
    if not reason:
        raise AgendaInvalid("reason", _l("请填写提请理由。"))
    if len(reason) > PROPOSAL_REASON_MAX:
        raise AgendaInvalid("reason", _l("提请理由不能超过%(max)d字。", max=PROPOSAL_REASON_MAX))
    if db.session.scalar(select(AgendaProposal.id).where(
            AgendaProposal.problem_id == problem.id, AgendaProposal.agenda_id.is_(None)).limit(1)) is not None:
        raise AgendaInvalid("problem_id", _l("问题 %(n)s 已经提请，尚未列入议程。", n=problem.number))
    prop = AgendaProposal(problem_id=problem.id, work_group_id=user.unit_id, reason=reason,
                          proposed_by_id=user.id, proposed_at=clock.now())
    db.session.add(prop)
    db.session.flush()
    audit.record("agenda.propose", obj=prop, user=user,
                 detail={"problem": problem.number, "work_group": user.unit_id, "reason": reason})
    offices = db.session.scalars(select(Unit.id).where(Unit.kind == UnitKind.office)).all()
    notify(unit_people(offices, ACT), "proposal", f"工作组提请调度会：{problem.number}",
           f"{user.unit.name}：{reason}", target=("problem", problem.id), dedupe=f"proposal:{prop.id}")
    return prop


def proposals_for(user, limit: int = 200) -> list[AgendaProposal]:
    """A group lead: its group's proposals; the office and the leader: everyone's. Open first."""
    q = select(AgendaProposal).options(joinedload(AgendaProposal.problem), joinedload(AgendaProposal.work_group),
                                       joinedload(AgendaProposal.proposed_by), joinedload(AgendaProposal.agenda))
    if user.role == Role.group_lead:
        q = q.where(AgendaProposal.work_group_id == user.unit_id)
    return db.session.scalars(q.order_by(AgendaProposal.agenda_id.is_not(None), AgendaProposal.id.desc())
                              .limit(limit)).all()


# ---------------------------------------------------------------- the items


@dataclass
class Candidate:
    problem: Problem
    reasons: list[str]
    overdue_days: int = 0
    detail: str = ""
    seq: int = 0
    last_event: ProblemEvent | None = field(default=None, repr=False)
    proposals: list = field(default_factory=list, repr=False)


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
    for prop in c.proposals:
        parts.append(f"{prop.work_group.name}提请：{prop.reason}")
    return "；".join(parts)


def select_items(scope: Scope) -> list[Candidate]:
    """What the meeting would review now, in agenda order, each with its frozen detail.

    Seven statements for the reasons and two per ``CHUNK`` problems, whatever the data size.
    """
    late = overdue(scope)
    found: dict[int, list[str]] = {pid: ["overdue"] for pid in late}
    asked = proposed(scope)
    for code, ids in (("rejected", rejected(scope)), ("unsatisfied", unsatisfied(scope)), ("hard", hard(scope)),
                      ("proposed", asked)):
        for pid in ids:
            found.setdefault(pid, []).append(code)
    problems, last = _load(sorted(found))
    out = []
    with force_locale("zh_CN"):
        for pid, reasons in found.items():
            c = Candidate(problems[pid], sorted(reasons, key=ORDER.__getitem__), last_event=last.get(pid),
                          proposals=asked.get(pid, []))
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
    """Per reason (in ``REASONS`` order): (code, label, the items carrying it) — empty ones too,
    except 工作组提请, shown only when something was proposed."""
    out = [(code, label, [i for i in items if code in i.reasons]) for code, label in REASONS.items()]
    return [(code, label, rows) for code, label, rows in out if code != "proposed" or rows]


def generate(kind, scope_unit: Unit | None, meeting_on: date, user, note: str | None = None) -> Agenda:
    """Write the agenda of one meeting with its items (flushes, audits; never commits).

    An agenda with nothing on it is allowed: it says 无 under each reason. ``AgendaInvalid``
    when ``user`` may not generate it (``may_generate``).
    """
    scope = scope_of(kind, scope_unit, meeting_on)
    if not may_generate(user, scope.kind, scope.unit):
        raise AgendaInvalid("work_group", _l("工作组组长只能生成本工作组调度会的议程。"))
    items = select_items(scope)
    agenda = Agenda(kind=scope.kind, scope_unit_id=scope.unit.id if scope.unit else None, meeting_on=meeting_on,
                    period_start=scope.start, period_end=scope.end, title=title_of(scope),
                    note=(note or "").strip() or None, created_by_id=user.id, created_at=clock.now())
    agenda.items = [AgendaItem(problem_id=c.problem.id, seq=c.seq, reasons=list(c.reasons), detail=c.detail)
                    for c in items]
    db.session.add(agenda)
    db.session.flush()
    taken = [p.id for c in items for p in c.proposals]
    if taken:
        db.session.execute(update(AgendaProposal).where(AgendaProposal.id.in_(taken)).values(agenda_id=agenda.id))
    counts = {code: sum(code in c.reasons for c in items) for code in REASONS}
    if not counts["proposed"]:
        del counts["proposed"]
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
