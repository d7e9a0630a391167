"""催办通知书 and 通报 on paper: numbered documents the office issues to the units they concern,
each unit acknowledging receipt; an unacknowledged paper is itself reminded (``limits``).

A paper names only the problems it really concerns, each under its lead unit:

- 通报 (``bulletin``): problems still being handled that the sweep noticed (通报) for their
  *current* deadline — a problem whose extension was approved since, or that was signed off,
  is not named;
- 催办通知书 (``reminder``): problems reminded (催办) for their current deadline, still late,
  not yet noticed.

Operations flush and audit; the view commits. Units see only their own part of a paper.
"""

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.roles import UNIT_ROLES, Role
from ..cases.models import Problem, ProblemEvent
from ..cases.workflow import HANDLING
from ..core import audit, clock
from ..core.calendar import add_workdays
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..notifications.emit import LEAD, Item, People, notify_many
from . import sweep
from .models import PaperKind, PaperRecipient, SupervisionPaper

ACKNOWLEDGE_WORKDAYS = 2
KIND_LABELS = {PaperKind.reminder: _l("催办通知书"), PaperKind.bulletin: _l("通报")}
READERS = frozenset({Role.office, Role.leader})


def candidates(kind: PaperKind, today: dt.date | None = None) -> dict[int, list[Problem]]:
    """Lead unit → the problems a paper of ``kind`` would name today (see the module docstring)."""
    today = today or clock.today()
    actions = (sweep.NOTICE,) if kind == PaperKind.bulletin else (sweep.REMIND, sweep.NOTICE)
    rows = db.session.execute(
        select(Problem, ProblemEvent.action, ProblemEvent.note)
        .join(ProblemEvent, ProblemEvent.problem_id == Problem.id)
        .where(Problem.status.in_(HANDLING), Problem.deadline < today, ProblemEvent.action.in_(actions))
        .order_by(Problem.lead_unit_id, Problem.deadline, Problem.id)).all()
    marks: dict[int, set[str]] = {}
    problems: dict[int, Problem] = {}
    for p, action, note in rows:
        if sweep.deadline_key(p.deadline) in (note or ""):
            marks.setdefault(p.id, set()).add(action)
            problems[p.id] = p
    out: dict[int, list[Problem]] = {}
    for pid, acts in marks.items():
        if kind == PaperKind.reminder and sweep.NOTICE in acts:
            continue  # long overdue: it belongs in the 通报
        p = problems[pid]
        out.setdefault(p.lead_unit_id, []).append(p)
    return out


def issue(kind: PaperKind, user, *, title: str | None = None, body: str | None = None) -> SupervisionPaper:
    """The office issues a 催办通知书 or 通报 to every unit with problems it concerns."""
    if user.role != Role.office:
        raise Invalid(_l("只有区活动办可以下发催办通知书和通报。"))
    today = clock.today()
    by_unit = candidates(kind, today)
    if not by_unit:
        raise Invalid(_l("目前没有需要写入%(k)s的问题。", k=KIND_LABELS[kind]))
    _y, _s, number = next_number(kind.value, today.year)
    label = KIND_LABELS[kind]
    total = sum(len(v) for v in by_unit.values())
    paper = SupervisionPaper(
        kind=kind, number=number, title=(title or "").strip() or f"关于{total}个超期问题的{label}",
        body=(body or "").strip(), issuer_unit_id=user.unit_id, issued_by_id=user.id, issued_at=clock.now(),
        acknowledge_by=add_workdays(today, ACKNOWLEDGE_WORKDAYS))
    paper.recipients = [PaperRecipient(unit_id=u, problem_ids=[p.id for p in ps]) for u, ps in by_unit.items()]
    db.session.add(paper)
    db.session.flush()
    people = People(by_unit)
    notify_many("bulletin" if kind == PaperKind.bulletin else "remind", [
        Item(people.of(r.unit_id) + people.of(r.unit_id, LEAD), f"{label} {number}",
             f"涉及你单位 {len(r.problem_ids)} 个问题，请于 {paper.acknowledge_by.isoformat()} 前签收。",
             ("paper", paper.id), f"paper:{paper.id}:{r.unit_id}") for r in paper.recipients], urgent=False)
    audit.record(f"paper.{kind.value}", obj=paper, user=user,
                 detail={"number": number, "units": len(by_unit), "problems": total})
    return paper


def may_see(user, paper: SupervisionPaper) -> bool:
    return user.role in READERS or (
        user.role in UNIT_ROLES and any(r.unit_id == user.unit_id for r in paper.recipients))


def visible_recipients(user, paper: SupervisionPaper) -> list[PaperRecipient]:
    if user.role in READERS:
        return list(paper.recipients)
    return [r for r in paper.recipients if r.unit_id == user.unit_id]


def papers_for(user, limit: int = 100) -> list[SupervisionPaper]:
    q = select(SupervisionPaper).order_by(SupervisionPaper.id.desc()).limit(limit)
    if user.role not in READERS:
        q = q.where(SupervisionPaper.id.in_(select(PaperRecipient.paper_id).where(
            PaperRecipient.unit_id == user.unit_id)))
    return list(db.session.scalars(q))


def acknowledge(recipient: PaperRecipient, user, *, version: int | None) -> None:
    """签收: someone of the unit confirms the paper reached it."""
    if user.role not in UNIT_ROLES or user.unit_id != recipient.unit_id:
        raise Invalid(_l("只有被通报单位可以签收。"))
    if version is not None and int(version) != recipient.version:
        raise Conflict(_l("该文件已被本单位他人签收，请刷新页面。"))
    if recipient.acknowledged_at is not None:
        raise Conflict(_l("该文件已签收。"))
    recipient.acknowledged_at = clock.now()
    recipient.acknowledged_by_id = user.id
    db.session.flush()
    audit.record("paper.acknowledge", obj=recipient, user=user,
                 detail={"number": recipient.paper.number, "unit": recipient.unit.name})


def remind_unacknowledged(today: dt.date) -> int:
    """Units that have not acknowledged a paper by its date are reminded (once per paper)."""
    rows = db.session.execute(
        select(PaperRecipient.id, PaperRecipient.unit_id, SupervisionPaper.id, SupervisionPaper.number,
               SupervisionPaper.acknowledge_by)
        .join(SupervisionPaper, SupervisionPaper.id == PaperRecipient.paper_id)
        .where(PaperRecipient.acknowledged_at.is_(None), SupervisionPaper.acknowledge_by < today)).all()
    if not rows:
        return 0
    people = People({r[1] for r in rows})
    return len(notify_many("remind", [
        Item(people.of(unit) + people.of(unit, LEAD), f"请签收：{number}", f"签收时限 {due.isoformat()} 已过。",
             ("paper", paper_id), f"paper_ack:{rid}") for rid, unit, paper_id, number, due in rows]))


def print_context(paper: SupervisionPaper, recipients: list[PaperRecipient]) -> dict:
    """The paper as a plain view-model: per unit, its problems (number, title, deadline)."""
    ids = [pid for r in recipients for pid in r.problem_ids]
    problems = {p.id: p for p in db.session.scalars(select(Problem).where(Problem.id.in_(ids)))} if ids else {}
    today = clock.today()
    sections = []
    for r in recipients:
        items = [problems[i] for i in r.problem_ids if i in problems]
        sections.append({
            "unit": r.unit.name, "unit_id": r.unit_id, "version": r.version,
            "acknowledged": r.acknowledged_at is not None, "acknowledged_at": r.acknowledged_at,
            "acknowledged_by": r.acknowledged_by.full_name if r.acknowledged_by else "", "problems": [
            {"id": p.id, "number": p.number, "title": p.title, "deadline": p.deadline,
             "status": str(p.status.label), "still_late": p.status in HANDLING and p.deadline and p.deadline < today}
            for p in items]})
    return {
        "issuer": "贾汪区“百千万”集中走访帮扶活动办公室",
        "doc_number": paper.number, "doc_title": str(KIND_LABELS[paper.kind]), "title": paper.title,
        "body": paper.body, "sections": sections, "issued_on": clock.local(paper.issued_at).date(),
        "issuer_unit": paper.issuer_unit.name, "acknowledge_by": paper.acknowledge_by,
        "kind": paper.kind.value,
    }
