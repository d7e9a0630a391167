"""Joint meetings (协商会办): convening, the minutes whose decisions become dated task-book steps
for the named units, and cancelling. Same rules as the other handling operations: checked against
the activity rules, audited, flushed in the caller's transaction."""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.roles import Role
from ..cases.access import relations
from ..cases.models import Problem
from ..cases.operations import append_note
from ..cases.workflow import MEETING_CONVENERS, Activity, NotAllowed, Status, check_activity
from ..core import audit, clock
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..notifications.emit import ACT, LEAD, notify, unit_people
from ..org.models import Unit
from .models import (
    Meeting,
    MeetingDecision,
    MeetingKind,
    MeetingProblem,
    MeetingStatus,
    MeetingUnit,
    StepSource,
    TaskStep,
)
from .queries import book_in_force, book_under_review


def _meeting_problem_ok(problem: Problem, user) -> None:
    check_activity(Activity.convene, problem.status, user.role, relations(user, problem))


def convene_meeting(user, *, kind: MeetingKind, title: str, starts_at: datetime, place: str, host: str,
                    units: list[Unit], problems: list[Problem], token: str | None = None) -> Meeting:
    """召集协商会/会办会 (the lead unit of the problems, or the office)."""
    if token:
        existing = db.session.scalar(select(Meeting).where(Meeting.client_token == token))
        if existing is not None:
            return existing
    if user.role not in MEETING_CONVENERS:
        raise NotAllowed(_l("您无权召集会议。"))
    errors = {}
    if not problems:
        errors["problem_ids"] = _l("请至少选择一个议题（问题）。")
    for p in problems:
        try:
            _meeting_problem_ok(p, user)
        except NotAllowed:
            errors["problem_ids"] = _l("问题 %(n)s 现在不能列入会议议题。", n=p.number)
            break
    if not units:
        errors["unit_ids"] = _l("请选择参会单位。")
    elif any(not u.is_active for u in units):
        errors["unit_ids"] = _l("参会单位中有已停用的单位。")
    if starts_at is None:
        errors["starts_at"] = _l("请填写会议时间。")
    for name, value, msg in (("title", title, _l("请填写会议名称。")), ("place", place, _l("请填写会议地点。")),
                             ("host", host, _l("请填写主持人。"))):
        if not (value or "").strip():
            errors[name] = msg
    if errors:
        raise FieldsInvalid(errors)
    _y, _s, number = next_number("meeting")
    meeting = Meeting(number=number, kind=kind, title=title.strip(), starts_at=starts_at, place=place.strip(),
                      host=host.strip(), convened_by_unit_id=user.unit_id, convened_by_id=user.id,
                      created_at=clock.now(), client_token=token)
    meeting.units = [MeetingUnit(unit=u) for u in dict.fromkeys(units)]
    meeting.agenda = [MeetingProblem(problem=p) for p in dict.fromkeys(problems)]
    db.session.add(meeting)
    db.session.flush()
    audit.record("meeting.convene", obj=meeting, user=user,
                 detail={"number": number, "problems": [p.number for p in problems], "units": [u.name for u in units]})
    when = clock.local(starts_at).strftime("%Y-%m-%d %H:%M")
    notify([*unit_people([u.id for u in units], ACT), *unit_people([u.id for u in units], LEAD)], "meeting",
           f"会议通知：{meeting.title}", f"{meeting.kind.label}，{when}，{meeting.place}，主持：{meeting.host}。",
           target=("meeting", meeting.id), dedupe=f"meeting:{meeting.id}")
    for p in problems:
        append_note(p, user, "meeting_convened", f"{meeting.kind.label}：{meeting.title}（{when}，{meeting.place}）",
                    detail={"meeting": meeting.id})
    return meeting


def may_manage_meeting(user, meeting: Meeting) -> bool:
    return user.role == Role.office or (user.role in MEETING_CONVENERS and user.unit_id == meeting.convened_by_unit_id)


@dataclass
class DecisionInput:
    problem: Problem
    unit: Unit
    text: str
    due_on: date | None


def record_minutes(meeting: Meeting, user, *, summary: str, attendance: dict[int, tuple[bool, str]],
                   decisions: list[DecisionInput], version=None) -> Meeting:
    """会议纪要: attendance and decisions; each decision becomes a dated step for the named unit
    on that problem's task book (the one in force, or the one under review)."""
    if not may_manage_meeting(user, meeting):
        raise NotAllowed(_l("只有召集单位或区活动办可以记录会议纪要。"))
    if version is not None and int(version) != meeting.version:
        raise Conflict(_l("会议已被他人修改（例如纪要刚刚被记录）。请刷新后再操作。"))
    if meeting.status != MeetingStatus.planned:
        raise Conflict(_l("会议纪要已经记录，或会议已取消。"))
    errors = {}
    if not (summary or "").strip():
        errors["summary"] = _l("请填写会议纪要。")
    agenda_ids = {a.problem_id for a in meeting.agenda}
    today = clock.today()
    for i, d in enumerate(decisions, 1):
        assignment = d.problem.current_assignment
        parts = {p.unit_id for p in assignment.units if p.is_current} if assignment else set()
        if d.problem.id not in agenda_ids:
            errors["decisions"] = _l("第 %(i)d 项决定的问题不在会议议题中。", i=i)
        elif not (d.text or "").strip():
            errors["decisions"] = _l("第 %(i)d 项决定没有写内容。", i=i)
        elif d.due_on is None or d.due_on < today:
            errors["decisions"] = _l("第 %(i)d 项决定的完成日期须不早于今天。", i=i)
        elif d.unit.id not in parts:
            errors["decisions"] = _l("第 %(i)d 项决定的责任单位须是该问题的牵头或配合单位。", i=i)
        elif d.problem.status not in (Status.plan_review, Status.in_progress) or \
                (book_in_force(d.problem) or book_under_review(d.problem)) is None:
            errors["decisions"] = _l("第 %(i)d 项决定的问题 %(n)s 还没有任务书，不能增加步骤。", i=i, n=d.problem.number)
        if "decisions" in errors:
            break
    if errors:
        raise FieldsInvalid(errors)
    for mu in meeting.units:
        attended, names = attendance.get(mu.unit_id, (False, ""))
        mu.attended, mu.attendees = bool(attended), (names or "").strip()[:255]
    meeting.summary = summary.strip()
    meeting.status = MeetingStatus.minuted
    meeting.minuted_by_id, meeting.minuted_at = user.id, clock.now()
    for d in decisions:
        decision = MeetingDecision(meeting=meeting, problem=d.problem, unit=d.unit, text=d.text.strip()[:255],
                                   due_on=d.due_on)
        db.session.add(decision)
        db.session.flush()
        book = book_in_force(d.problem) or book_under_review(d.problem)
        seq = (max((s.seq for s in book.steps), default=0)) + 1
        book.steps.append(TaskStep(problem_id=d.problem.id, seq=seq, title=decision.text, due_on=d.due_on,
                                   unit_id=d.unit.id, source=StepSource.meeting, decision_id=decision.id))
        append_note(d.problem, user, "meeting_decision", f"{meeting.number}：{decision.text}（{d.unit.name}，"
                    f"{d.due_on.isoformat()}前）", detail={"meeting": meeting.id, "decision": decision.id})
    db.session.flush()
    audit.record("meeting.minutes", obj=meeting, user=user,
                 detail={"number": meeting.number, "decisions": len(decisions)})
    units = [mu.unit_id for mu in meeting.units]
    notify(unit_people(units, ACT), "minutes", f"会议纪要：{meeting.title}",
           f"{meeting.number}，决定事项 {len(decisions)} 项，请按时限落实。",
           target=("meeting", meeting.id), dedupe=f"minutes:{meeting.id}")
    return meeting


def cancel_meeting(meeting: Meeting, user, *, reason: str, version=None) -> Meeting:
    if not may_manage_meeting(user, meeting):
        raise NotAllowed(_l("只有召集单位或区活动办可以取消会议。"))
    if version is not None and int(version) != meeting.version:
        raise Conflict(_l("会议已被他人修改。请刷新后再操作。"))
    if meeting.status != MeetingStatus.planned:
        raise Conflict(_l("会议纪要已经记录，或会议已取消。"))
    if not (reason or "").strip():
        raise Invalid(_l("请填写取消原因。"))
    meeting.status = MeetingStatus.cancelled
    meeting.summary = reason.strip()
    audit.record("meeting.cancel", obj=meeting, user=user, detail={"number": meeting.number, "reason": reason})
    for a in meeting.agenda:
        append_note(a.problem, user, "meeting_cancelled", f"{meeting.title}：{reason.strip()}",
                    detail={"meeting": meeting.id})
    return meeting
