"""调度会纪要: the meeting held on an agenda and its minutes.

The office holds a work group's or its own scheduling meeting on a generated agenda (``hold``):
the meeting (a ``handling`` meeting of kind 调度会) takes the agenda's problems as its items and
invites the units leading them (and, for a group's meeting, the work group), and gets the
纪要's number (贾汪走访办纪〔2026〕N号, per year). Its minutes are then recorded with the joint
meetings' own machinery (``handling.meetings.record_minutes``): attendance per invited unit
(who came, or why it was absent), the summary, and decisions, each a dated step for a named unit
on the problem's task book; the invited units are told, and the printed 纪要 is the meetings'.

One meeting per agenda; only the office holds it. Flushes and audits; the caller commits.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.roles import Role
from ..cases.models import Problem
from ..cases.workflow import NotAllowed
from ..core import audit, clock
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..handling.models import Meeting, MeetingKind, MeetingProblem, MeetingUnit
from ..org.models import Unit
from .models import Agenda, AgendaItem

HOLDERS = (Role.office,)
PLACE_MAX = 128
HOST_MAX = 64


def may_hold(user, agenda: Agenda) -> bool:
    """The office holds every agenda's meeting (and records its minutes)."""
    return user.role in HOLDERS


def meeting_title(agenda: Agenda) -> str:
    """潘安湖街道工作组2026年11月上半月调度会议程 → …调度会."""
    return agenda.title.removesuffix("议程")


def invited_units(agenda: Agenda) -> list[Unit]:
    """The units leading the agenda's problems (and the work group of a group's meeting), by id."""
    ids = set(db.session.scalars(select(Problem.lead_unit_id).join(AgendaItem, AgendaItem.problem_id == Problem.id)
                                 .where(AgendaItem.agenda_id == agenda.id, Problem.lead_unit_id.is_not(None))))
    if agenda.scope_unit_id:
        ids.add(agenda.scope_unit_id)
    return db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.id)).all() if ids else []


def hold(agenda: Agenda, user, *, starts_at: datetime | None, place: str | None, host: str | None) -> Meeting:
    """召开调度会: the meeting on ``agenda`` with its items and invited units, numbered; its minutes
    are recorded next (``handling.meetings.record_minutes``)."""
    if not may_hold(user, agenda):
        raise NotAllowed(_l("只有区活动办可以记录调度会纪要。"))
    if agenda.meeting_id is not None:
        raise Conflict(_l("该次调度会已经记录过，请在会议页面查看纪要。"))
    errors = {}
    if starts_at is None:
        errors["starts_at"] = _l("请填写会议时间。")
    for name, value, limit, missing, long in (
            ("place", place, PLACE_MAX, _l("请填写会议地点。"), _l("会议地点最多 128 个字。")),
            ("host", host, HOST_MAX, _l("请填写主持人。"), _l("主持人最多 64 个字。"))):
        value = (value or "").strip()
        if not value:
            errors[name] = missing
        elif len(value) > limit:
            errors[name] = long
    if errors:
        raise FieldsInvalid(errors)
    _y, _s, number = next_number("minutes", clock.local(starts_at).year)
    meeting = Meeting(number=number, kind=MeetingKind.scheduling, title=meeting_title(agenda), starts_at=starts_at,
                      place=place.strip(), host=host.strip(), convened_by_unit_id=user.unit_id,
                      convened_by_id=user.id, created_at=clock.now())
    meeting.units = [MeetingUnit(unit=u) for u in invited_units(agenda)]
    meeting.agenda = [MeetingProblem(problem_id=i.problem_id) for i in agenda.items]
    db.session.add(meeting)
    db.session.flush()
    agenda.meeting_id = meeting.id
    db.session.flush()
    audit.record("agenda.meeting_held", obj=agenda, user=user, detail={
        "meeting": meeting.id, "number": number, "title": meeting.title, "units": [mu.unit_id for mu in meeting.units],
        "problems": len(meeting.agenda)})
    return meeting
