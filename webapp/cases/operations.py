"""Every write to a problem: intake, triage, assignment, lists, sign-for and return.

Each operation checks the workflow table, refuses a stale version, changes the rows, appends
to the problem's timeline and writes the audit event — all in the caller's transaction (it
flushes, never commits). Views commit once.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from ..core import audit, clock
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..notifications.emit import ACT, notify_problem
from ..org.models import TERRITORIAL, Unit, UnitKind
from . import deadlines as case_deadlines
from .access import relations
from .models import (
    Assignment,
    AssignmentUnit,
    Attachment,
    Category,
    Channel,
    CoordinatedList,
    ListStatus,
    PartStatus,
    Problem,
    ProblemEvent,
    UnitRole,
)
from .workflow import (
    HANDLING,
    Action,
    Activity,
    Kind,
    Level,
    NotAllowed,
    Status,
    Tier,
    check,
    check_activity,
)

STALE = _l("该问题已被他人处理或修改（例如刚刚被签收、退回或交办）。请刷新页面查看最新状态后再操作。")


def new_receipt_no() -> str:
    """A receipt number for the resident: 10 characters, no look-alikes, unguessable."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(10))


# Areas above cases follow the workflow here, where every transition is recorded (the Open311
# API pushes status changes to the outside system that sent the problem): each listener is
# called as ``listener(problem, event)`` inside the transaction, after the event is flushed.
EVENT_LISTENERS: list = []


def on_event(listener):
    """Register ``listener(problem, event)`` for every workflow event (once per listener)."""
    if listener not in EVENT_LISTENERS:
        EVENT_LISTENERS.append(listener)
    return listener


def append_event(problem: Problem, user, action: str, before, note: str | None = None, *, public=False, detail=None,
                 at: datetime | None = None):
    """A timeline entry for a change of status (from ``before`` to the problem's status now), audited.

    ``at`` is when it happened, if not now (a historical ledger's date); the audit keeps its own time."""
    event = ProblemEvent(
        problem=problem, created_at=at or clock.now(), user_id=user.id, unit_id=user.unit_id,
        action=action, from_status=before, to_status=problem.status, note=note, is_public=public,
    )
    db.session.add(event)
    audit.record(f"problem.{action}", obj=problem, user=user, detail={
        "number": problem.number, "from": str(before) if before else None, "to": str(problem.status),
        **({"happened_at": at.isoformat()} if at is not None else {}), **(detail or {}),
    })
    for listener in EVENT_LISTENERS:
        listener(problem, event)


def replayed(token: str | None) -> ProblemEvent | None:
    """The timeline entry a form with this client token already made (a double submit)."""
    if not token:
        return None
    return db.session.scalar(select(ProblemEvent).where(ProblemEvent.client_token == token))


def append_note(problem: Problem, user, action: str, note: str | None, *, public=False, detail=None,
                token: str | None = None) -> ProblemEvent:
    """A timeline entry that does not move the status (progress, notes, steps, feedback)."""
    event = ProblemEvent(problem=problem, created_at=clock.now(), user_id=user.id, unit_id=user.unit_id,
                         action=action, from_status=problem.status, to_status=problem.status, note=note,
                         is_public=public, client_token=token or None)
    db.session.add(event)
    db.session.flush()
    audit.record(f"problem.{action}", obj=problem, user=user,
                 detail={"number": problem.number, "event": event.id, **(detail or {})})
    return event


def touch(problem: Problem) -> None:
    """Move the problem's version even when nothing else of its row changes (and the clock
    has not moved since the last write, e.g. frozen in tests): forms drawn before are stale."""
    problem.updated_at = clock.now()
    flag_modified(problem, "updated_at")


def guard_version(problem: Problem, version: int | None) -> None:
    if version is not None and int(version) != problem.version:
        raise Conflict(STALE)


def check_transition(problem: Problem, action: Action, user, version: int | None, reason: str | None = None):
    """Check the table and the version; return the target status."""
    guard_version(problem, version)
    t = check(problem.status, action, user.role, relations(user, problem))
    if t.needs_reason and not (reason or "").strip():
        raise Invalid(_l("请填写原因。"))
    return t.target


# ---------------------------------------------------------------- intake


def territory_of(village: Unit) -> Unit:
    if village.kind != UnitKind.village or village.parent is None or village.parent.kind not in TERRITORIAL:
        raise Invalid(_l("请选择村（社区）。"))
    return village.parent


@dataclass
class ProblemInput:
    resident_name: str
    resident_phone: str
    resident_id_number: str | None
    village: Unit
    address: str
    category: Category
    title: str
    description: str
    household_name: str = ""


def register_problem(user, data: ProblemInput, *, visit=None, client_token: str | None = None,
                     source: str = "visit", registered_at: datetime | None = None,
                     note: str | None = None, detail: dict | None = None,
                     fresh: bool = False) -> tuple[Problem, bool]:
    """Register a problem (numbered, with a receipt number); idempotent per ``client_token``.

    ``registered_at`` is the registration time when it is not now: a problem of a historical
    走访台账 keeps its visit's date (in the statistics' periods too); ``note`` and ``detail`` say so
    on the timeline and in the audit. ``fresh``: the caller looked the tokens up in bulk and no
    problem carries this one."""
    if client_token and not fresh:
        existing = db.session.scalar(select(Problem).where(Problem.client_token == client_token))
        if existing is not None:
            return existing, False
    town = territory_of(data.village)
    year, seq, number = next_number("problem")
    problem = Problem(
        year=year, seq=seq, number=number, receipt_no=new_receipt_no(), visit=visit,
        work_group_id=user.unit_id, registered_by_id=user.id, village=data.village, town=town,
        resident_name=data.resident_name, resident_phone=data.resident_phone or "",
        resident_id_number=data.resident_id_number or None, household_name=data.household_name or "",
        address=data.address or "", category=data.category, title=data.title, description=data.description,
        source=source, status=Status.registered, registered_at=registered_at or clock.now(),
        client_token=client_token,
    )
    db.session.add(problem)
    db.session.flush()
    append_event(problem, user, "register", None, note, public=True, detail=detail, at=registered_at)
    return problem, True


def close_from_ledger(problem: Problem, user, *, result: str, closed_on: date) -> None:
    """A problem of a historical 走访台账 that was handled and answered before the system: ended
    (已办结) with the result and reply the ledger records, told on the public timeline. The
    office only (``Action.ledger_close``); no reply is owed any more."""
    before = problem.status
    problem.status = check_transition(problem, Action.ledger_close, user, None, result)
    at = datetime.combine(closed_on, time(12), clock.LOCAL_TZ)
    problem.end_reason = result
    problem.solved_at = problem.closed_at = problem.replied_at = at
    problem.reply_due = None
    append_event(problem, user, Action.ledger_close.value, before, note=result, public=True,
                 detail={"closed_on": closed_on.isoformat(), "imported": True}, at=at)


def add_attachment(problem: Problem, user, *, kind, filename: str, stored_name: str, mime: str,
                   size: int, sha256: str, event=None, closure=None) -> Attachment:
    att = Attachment(problem=problem, kind=kind, filename=filename[:255], stored_name=stored_name,
                     mime=mime, size=size, sha256=sha256, uploaded_by_id=user.id,
                     event_id=event.id if event is not None else None,
                     closure_id=closure.id if closure is not None else None)
    db.session.add(att)
    db.session.flush()
    audit.record("attachment.add", object_type="attachment", object_id=att.id, user=user,
                 detail={"problem": problem.number, "filename": att.filename, "sha256": sha256})
    return att


def add_co_complainant(problem: Problem, user, *, name: str, phone: str) -> tuple[ProblemEvent, bool]:
    """Another resident raised the same problem: a timeline entry on it instead of a duplicate.

    The note keeps the resident's name and *masked* phone. The same resident added twice (a
    double submit) returns the first entry (created=False). The problem's status and version do
    not change, so that no one handling it meets a spurious conflict.
    """
    from .access import mask_phone
    from .workflow import ENDED

    if problem.status in ENDED:
        raise Invalid(_l("该问题已经结束（%(s)s），不能再并入居民，请登记为新问题。", s=problem.status.label))
    note = f"{name.strip()}（{mask_phone(phone) or '-'}）"
    existing = db.session.scalar(select(ProblemEvent).where(
        ProblemEvent.problem_id == problem.id, ProblemEvent.action == "co_complainant",
        ProblemEvent.note == note))
    if existing is not None:
        return existing, False
    event = ProblemEvent(problem=problem, created_at=clock.now(), user_id=user.id, unit_id=user.unit_id,
                         action="co_complainant", from_status=problem.status, to_status=problem.status,
                         note=note)
    db.session.add(event)
    db.session.flush()
    audit.record("problem.co_complainant", obj=problem, user=user,
                 detail={"number": problem.number, "event": event.id})
    return event, True


def reveal_contact(problem: Problem, user) -> None:
    """显示完整号码: allowed to those who may see full numbers (DOMAIN §3), and always audited."""
    from .access import sees_full_contact

    if not sees_full_contact(user, problem):
        raise NotAllowed(_l("您无权查看该居民的完整联系方式。"))
    fields = [f for f in ("phone", "id_number")
              if (problem.resident_phone if f == "phone" else problem.resident_id_number)]
    audit.record("problem.contact_revealed", obj=problem, user=user,
                 detail={"number": problem.number, "fields": fields})


# ---------------------------------------------------------------- triage


@dataclass
class Triage:
    kind: Kind
    level: Level
    tier: Tier
    category: Category | None = None
    # For 难事联办 the deadline is set by the task book later; the triage sets the ceiling.
    workdays: int | None = None


def apply_triage(problem: Problem, triage: Triage) -> None:
    problem.kind, problem.level, problem.tier = triage.kind, triage.level, triage.tier
    if triage.category is not None:
        problem.category = triage.category


def _end_current_assignment(problem: Problem) -> None:
    current = problem.current_assignment
    if current is None:
        return
    current.is_current = False
    current.ended_at = clock.now()
    for part in current.units:
        part.is_current = False
        if part.status == PartStatus.pending:
            part.status = PartStatus.withdrawn


def _assign(problem: Problem, user, *, action: Action, channel: Channel, lead: Unit,
            cooperating: list[Unit], triage: Triage, requirements: str, version, token: str | None,
            deadline: date | None = None) -> Assignment:
    if token:
        existing = db.session.scalar(select(Assignment).where(Assignment.client_token == token))
        if existing is not None:
            return existing  # a double-submitted form: the first one did the work
    before = problem.status
    target = check_transition(problem, action, user, version)
    if lead in cooperating:
        raise Invalid(_l("牵头单位不能同时是配合单位。"))
    apply_triage(problem, triage)
    now = clock.now()
    if deadline is None:
        deadline = case_deadlines.handling_deadline(now, triage.tier, triage.workdays)
    elif deadline < clock.today():
        raise Invalid(_l("办理时限不能早于今天。"))
    year, _seq, number = next_number(channel.value)
    _end_current_assignment(problem)
    assignment = Assignment(
        problem=problem, channel=channel, number=number, assigner_unit_id=user.unit_id,
        assigned_by_id=user.id, assigned_at=now, deadline=deadline,
        sign_for_deadline=case_deadlines.sign_for_deadline(now), requirements=requirements or "",
        client_token=token,
    )
    db.session.add(assignment)
    parts = [AssignmentUnit(assignment=assignment, problem_id=problem.id, unit=lead, role=UnitRole.lead)]
    parts += [AssignmentUnit(assignment=assignment, problem_id=problem.id, unit=u, role=UnitRole.cooperating)
              for u in cooperating]
    db.session.add_all(parts)
    db.session.flush()
    problem.current_assignment = assignment
    problem.lead_unit_id = lead.id
    problem.assigner_unit_id = user.unit_id
    problem.status = target
    problem.deadline = deadline
    problem.sign_for_deadline = assignment.sign_for_deadline
    problem.assigned_at = now
    problem.accepted_at = None
    append_event(problem, user, action.value, before, note=requirements or None, detail={
        "assignment": number, "lead": lead.name, "cooperating": [u.name for u in cooperating],
        "deadline": deadline.isoformat(), "tier": triage.tier.value,
    })
    note = f"办理时限 {deadline.isoformat()}，请于 {assignment.sign_for_deadline.isoformat()} 前签收。"
    notify_problem(problem, "assigned", [lead.id], ACT, note, dedupe=f"assigned:{assignment.id}")
    if cooperating:
        notify_problem(problem, "cooperation", [u.id for u in cooperating], ACT,
                       f"牵头单位：{lead.name}。{note}", dedupe=f"cooperation:{assignment.id}")
    return assignment


def assign_sheet(problem, user, *, lead: Unit, cooperating=(), triage: Triage, requirements="",
                 version=None, token=None) -> Assignment:
    """问题交办单: assign to a town/street/zone (one lead unit, optional cooperating units)."""
    if lead.kind not in TERRITORIAL or not lead.is_active:
        raise Invalid(_l("交办单的牵头单位必须是在用的镇、街道或功能区。"))
    for unit in cooperating:
        # The same units the form offers: towns, streets, zones and departments still in use.
        if unit.kind not in TERRITORIAL | {UnitKind.department} or not unit.is_active:
            raise Invalid(_l("配合单位必须是在用的镇（街道、功能区）或区级部门：%(name)s 不是。", name=unit.name))
    return _assign(problem, user, action=Action.assign_sheet, channel=Channel.sheet, lead=lead,
                   cooperating=list(cooperating), triage=triage, requirements=requirements,
                   version=version, token=token)


def desk_unit() -> Unit:
    desk = db.session.scalar(select(Unit).where(Unit.kind == UnitKind.desk, Unit.is_active.is_(True)))
    if desk is None:
        raise Invalid(_l("系统中没有在用的12345专席单位。"))
    return desk


def transfer_to_desk(problem, user, *, triage: Triage, requirements="", version=None, token=None) -> Assignment:
    """转办: hand an individual problem to the district 12345 platform's campaign desk."""
    return _assign(problem, user, action=Action.transfer_desk, channel=Channel.desk, lead=desk_unit(),
                   cooperating=[], triage=triage, requirements=requirements, version=version, token=token)


def assign_departments(problem, user, *, lead: Unit, cooperating=(), triage: Triage | None = None,
                       deadline: date | None = None, requirements="", version=None, token=None) -> Assignment:
    """The office assigns a listed (or returned) problem to district departments."""
    for unit in [lead, *cooperating]:
        if unit.kind != UnitKind.department or not unit.is_active:
            raise Invalid(_l("只能交办给在用的区级部门：%(name)s 不是。", name=unit.name))
    triage = triage or Triage(problem.kind or Kind.common, Level.district, problem.tier or Tier.quick)
    assignment = _assign(problem, user, action=Action.assign_departments, channel=Channel.office, lead=lead,
                         cooperating=list(cooperating), triage=triage, requirements=requirements,
                         version=version, token=token, deadline=deadline)
    cl = problem.coordinated_list
    if cl is not None and all(p.status != Status.listed for p in cl.problems):
        cl.status = ListStatus.assigned
    return assignment


def not_accept(problem, user, *, reason: str, version=None) -> None:
    """不予受理 — the resident is still owed a reply."""
    before = problem.status
    problem.status = check_transition(problem, Action.not_accept, user, version, reason)
    problem.end_reason = reason
    problem.closed_at = None
    case_deadlines.owe_reply(problem)
    append_event(problem, user, "not_accept", before, note=reason, public=True)


def merge(problem, user, *, into: Problem, reason: str, version=None) -> None:
    """Merge a duplicate into an existing problem (the resident is still owed a reply)."""
    if into.id == problem.id:
        raise Invalid(_l("不能合并到问题本身。"))
    if into.status == Status.merged:
        raise Invalid(_l("目标问题本身已被合并，请选择它所合并到的问题。"))
    before = problem.status
    problem.status = check_transition(problem, Action.merge, user, version, reason)
    problem.merged_into = into
    problem.end_reason = reason
    case_deadlines.owe_reply(problem)
    append_event(problem, user, "merge", before, note=reason, public=True, detail={"into": into.number})
    db.session.add(ProblemEvent(problem=into, created_at=clock.now(), user_id=user.id, unit_id=user.unit_id,
                                action="merged_from", from_status=into.status, to_status=into.status,
                                note=problem.number))


# ---------------------------------------------------------------- coordinated lists


def open_list(user) -> CoordinatedList:
    """The group's draft list, created when missing."""
    cl = db.session.scalar(select(CoordinatedList).where(
        CoordinatedList.work_group_id == user.unit_id, CoordinatedList.status == ListStatus.draft))
    if cl is None:
        cl = CoordinatedList(work_group_id=user.unit_id, created_by_id=user.id,
                             title=f"{user.unit.name}统筹交办问题清单")
        db.session.add(cl)
        db.session.flush()
        audit.record("list.create", obj=cl, user=user)
    return cl


def add_to_list(problem, user, *, triage: Triage, version=None) -> CoordinatedList:
    """列入统筹清单: a common problem goes on the group's draft list for the office."""
    before = problem.status
    problem.status = check_transition(problem, Action.add_to_list, user, version)
    apply_triage(problem, triage)
    cl = open_list(user) if user.unit.kind == UnitKind.work_group else None
    if cl is None:
        raise Invalid(_l("只有工作组可以编制统筹交办清单。"))
    problem.coordinated_list = cl
    append_event(problem, user, "add_to_list", before, detail={"list": cl.id})
    return cl


def remove_from_list(problem, user, *, version=None) -> None:
    cl = problem.coordinated_list
    if cl is not None and cl.status != ListStatus.draft:
        raise Invalid(_l("清单已上报，不能再移出问题。"))
    before = problem.status
    problem.status = check_transition(problem, Action.remove_from_list, user, version)
    problem.coordinated_list = None
    append_event(problem, user, "remove_from_list", before)


def submit_list(cl: CoordinatedList, user, *, version=None) -> None:
    """Submit the group's list to the office; it gets its number now."""
    if version is not None and int(version) != cl.version:
        raise Conflict(STALE)
    if cl.status != ListStatus.draft:
        raise Invalid(_l("清单已经上报。"))
    if not cl.problems:
        raise Invalid(_l("清单中没有问题，不能上报。"))
    _y, _s, cl.number = next_number("list")
    cl.status = ListStatus.submitted
    cl.submitted_at = clock.now()
    for p in cl.problems:
        db.session.add(ProblemEvent(problem=p, created_at=clock.now(), user_id=user.id, unit_id=user.unit_id,
                                    action="list_submitted", from_status=p.status, to_status=p.status,
                                    note=cl.number))
    audit.record("list.submit", obj=cl, user=user, detail={"number": cl.number, "problems": len(cl.problems)})


# ---------------------------------------------------------------- the unit: sign for, return


def sign_for(problem, user, *, version=None) -> AssignmentUnit:
    """签收: the lead unit signs for the problem; a cooperating unit signs for its own part."""
    from .access import unit_part

    guard_version(problem, version)
    part = unit_part(user, problem)
    if part is None or not part.is_current:
        raise NotAllowed(_l("您的单位不是此问题的承办单位。"))
    if part.status != PartStatus.pending:
        raise Conflict(_l("您的单位已经签收或退回了此问题。"))
    if part.role == UnitRole.cooperating and problem.status not in HANDLING:
        # A cooperating part is signed for while the lead unit handles the problem, not after.
        raise Conflict(_l("问题当前状态为“%(s)s”，不能再签收配合任务。", s=problem.status.label))
    part.status = PartStatus.accepted
    part.signed_by_id = user.id
    part.signed_at = clock.now()
    if part.role == UnitRole.lead:
        before = problem.status
        problem.status = check_transition(problem, Action.sign_for, user, None)
        problem.accepted_at = part.signed_at
        append_event(problem, user, "sign_for", before, public=True, detail={"unit": part.unit.name})
    else:
        # A cooperating unit's part: the problem's status does not move; the version does, so
        # that two people of the same unit cannot both sign.
        problem.updated_at = clock.now()
        append_event(problem, user, "sign_for_part", problem.status, detail={"unit": part.unit.name})
    return part


def return_part(problem, user, *, reason: str, version=None) -> AssignmentUnit:
    """退回（配合）: a cooperating unit gives back a part that is not its to do, with a reason; the
    lead unit and whoever assigned the problem read it on the problem page and the sheet."""
    from .access import unit_part

    guard_version(problem, version)
    part = unit_part(user, problem)
    if part is None or not part.is_current or part.role != UnitRole.cooperating:
        raise NotAllowed(_l("您的单位不是此问题的配合单位。"))
    if part.status != PartStatus.pending:
        raise Conflict(_l("您的单位已经签收或退回了此配合任务。"))
    if not (reason or "").strip():
        raise Invalid(_l("请填写退回理由。"))
    part.status = PartStatus.returned
    part.returned_reason = reason.strip()
    part.signed_by_id = user.id
    part.signed_at = clock.now()
    problem.updated_at = clock.now()  # the version moves: a second click is stale
    append_event(problem, user, "return_part", problem.status, note=reason.strip(), detail={"unit": part.unit.name})
    return part


def late_return_allowed(problem) -> bool:
    """Whether the office consented to a late return since the current assignment."""
    return db.session.scalar(select(ProblemEvent.id).where(
        ProblemEvent.problem_id == problem.id, ProblemEvent.action == Activity.allow_late_return.value,
        ProblemEvent.created_at >= problem.assigned_at).limit(1)) is not None


def return_problem(problem, user, *, reason: str, version=None, on: date | None = None) -> None:
    """退回: the lead unit sends a misrouted problem back to whoever assigned it, with a reason;
    after the return limit only with the office's consent. ``on``: the day of the return (today;
    a loader replaying the campaign's history passes the day it replays)."""
    from .access import unit_part

    before = problem.status
    target = check_transition(problem, Action.return_, user, version, reason)
    limit = case_deadlines.return_deadline(problem)
    if limit is not None and (on or clock.today()) > limit and not late_return_allowed(problem):
        raise Invalid(_l("已超过退回时限（%(d)s），须经区活动办同意后才能退回；请联系活动办。", d=limit.isoformat()))
    part = unit_part(user, problem)
    part.status = PartStatus.returned
    part.returned_reason = reason
    part.signed_by_id = user.id
    part.signed_at = clock.now()
    _end_current_assignment(problem)
    problem.status = target
    problem.lead_unit_id = None
    problem.current_assignment = None
    problem.deadline = None
    problem.sign_for_deadline = None
    append_event(problem, user, "return", before, note=reason, detail={"unit": part.unit.name})
    notify_problem(problem, "returned", [problem.assigner_unit_id], ACT,
                   f"{part.unit.name}退回：{reason}", dedupe=f"returned:{part.id}")


def allow_late_return(problem, user, *, reason: str, version=None) -> None:
    """The office consents to a return after the return limit (the lead unit is told)."""
    guard_version(problem, version)
    check_activity(Activity.allow_late_return, problem.status, user.role, relations(user, problem))
    if not (reason or "").strip():
        raise Invalid(_l("请说明同意逾期退回的理由。"))
    touch(problem)
    append_note(problem, user, Activity.allow_late_return.value, reason.strip())
    notify_problem(problem, "returned", [problem.lead_unit_id], ACT,
                   f"区活动办同意逾期退回：{reason.strip()}", dedupe=f"late_return:{problem.id}:{problem.version}")
