"""问责 records: a measure taken against a unit — what, when, decided by whom — linked to the
problems and integrity flags it rests on.

The office records them (the decision itself is taken elsewhere: ``decided_by`` names the body
or person, ``decided_on`` the day, never in the future). The rules:

* the unit is one that handles or triages problems (town/street/zone, department, the 12345
  desk, a work group);
* each linked problem concerns that unit: the unit leads it now, holds or held a part of one
  of its assignments, signed it off (or solved it on the spot), triaged it (a work group), or a
  flag against the unit is about it;
* each linked flag is against that unit, **confirmed** by the office's review (核查属实) and not
  linked to another record yet. An open flag is not a finding: it is reviewed first, so that no
  measure rests on an unchecked suspicion; a dismissed one never qualifies. Linking does not
  change the flag's status; it records the record's id on the flag. The problems of the linked
  flags are linked too;
* at least one problem or flag.

A record may name persons as well (``parse_persons``: 姓名，职务，认定情形 — 虚假办结, 超时 …)
and gets the decision's number when recorded (贾汪走访办问〔2026〕N号, per year).

Reading: the record — its page, the list and the printed decision (``decision_context``) — is
for the office, the leader and the audit admin alone (``READERS``); the leader and the audit
admin read it without changing anything, and each print is audited. The unit held to account
and its staff do not read it here: the measure reaches them through the decision itself.

Writes flush and write the audit entry; the caller commits.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from flask import abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import selectinload

from ..accounts.roles import Role
from ..cases.models import AssignmentUnit, Problem
from ..core import audit, clock
from ..core.extensions import db
from ..core.numbering import NUMBER_FORMATS, next_number
from ..handling.models import Closure
from ..org.models import HANDLING, Unit, UnitKind
from .models import AccountabilityPerson, AccountabilityRecord, Finding, Flag, FlagStatus, Measure

ACCOUNTABLE_KINDS = HANDLING | {UnitKind.work_group}
FACTS_MAX = 2000
DECIDED_BY_MAX = 64
MAX_PROBLEMS = 200
# Who reads a record (page, list, printed decision, the persons it names): the office, the
# leader and the audit admin; only the office records.
READERS = (Role.office, Role.leader, Role.auditor)
DECISION_READERS = READERS
MAX_PERSONS = 50
FINDING_LABELS = {
    Finding.false_closure: _l("虚假办结"),
    Finding.overdue: _l("超时"),
    Finding.perfunctory: _l("敷衍应付"),
    Finding.other: _l("其他"),
}
_FINDINGS_CN = {"虚假办结": Finding.false_closure, "超时": Finding.overdue, "敷衍应付": Finding.perfunctory,
                "其他": Finding.other}
_PERSON_FIELDS = re.compile(r"[,，、;；\t]+")

# Separators between problem numbers: commas, 、, semicolons, blanks and new lines.
_SEPARATORS = re.compile(r"[,，、;；\s]+")
# The short form 2026-12 (or 2026/12, 2026.12) for 贾走访〔2026〕00012号.
_SHORT = re.compile(r"(\d{4})[-/.．](\d{1,5})")


class RecordInvalid(ValueError):
    """Field messages (Chinese): ``{"field": message or [messages]}``."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(str(v) for v in errors.values()))
        self.errors = errors


@dataclass
class Resolved:
    """The problem numbers typed, resolved: ids in the order given, and one message per bad entry."""

    ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reads


def scope(user):
    """A WHERE clause limiting records to what ``user`` may read."""
    return true() if user.role in READERS else false()


def get_or_404(record_id: int, user) -> AccountabilityRecord:
    record = db.session.scalar(
        select(AccountabilityRecord).where(AccountabilityRecord.id == record_id, scope(user))
        .options(selectinload(AccountabilityRecord.problems), selectinload(AccountabilityRecord.flags),
                 selectinload(AccountabilityRecord.unit), selectinload(AccountabilityRecord.recorded_by)))
    if record is None:
        abort(404)
    return record


def records(user, *, unit_id: int | None = None, limit: int = 500) -> list[AccountabilityRecord]:
    """The records the user may read (newest decision first), optionally of one unit."""
    q = select(AccountabilityRecord).where(scope(user))
    if unit_id is not None:
        q = q.where(AccountabilityRecord.unit_id == unit_id)
    return db.session.scalars(
        q.order_by(AccountabilityRecord.decided_on.desc(), AccountabilityRecord.id.desc()).limit(limit)
        .options(selectinload(AccountabilityRecord.unit), selectinload(AccountabilityRecord.problems),
                 selectinload(AccountabilityRecord.flags))
    ).all()


def accountable_units() -> list[Unit]:
    from ..org.queries import active_units_of

    return active_units_of(ACCOUNTABLE_KINDS)


def linkable_flags(unit: Unit) -> list[Flag]:
    """Confirmed flags against ``unit`` not linked to a record yet (oldest first)."""
    return db.session.scalars(
        select(Flag).where(Flag.unit_id == unit.id, Flag.status == FlagStatus.confirmed,
                           Flag.accountability_id.is_(None))
        .options(selectinload(Flag.problem)).order_by(Flag.id)
    ).all()


def unchecked_flags(unit: Unit) -> int:
    """How many flags against ``unit`` still wait for the office's review."""
    return db.session.scalar(select(func.count()).select_from(Flag).where(
        Flag.unit_id == unit.id, Flag.status == FlagStatus.open)) or 0


def _concerns(unit: Unit):
    """A WHERE clause: the problem concerns ``unit`` (see the module docstring)."""
    return or_(
        Problem.lead_unit_id == unit.id,
        Problem.work_group_id == unit.id,
        Problem.id.in_(select(AssignmentUnit.problem_id).where(AssignmentUnit.unit_id == unit.id)),
        Problem.id.in_(select(Closure.problem_id).where(Closure.unit_id == unit.id)),
        Problem.id.in_(select(Flag.problem_id).where(Flag.unit_id == unit.id, Flag.problem_id.is_not(None))),
    )


def _normalise_number(token: str) -> str:
    m = _SHORT.fullmatch(token)
    if m:
        return NUMBER_FORMATS["problem"].format(year=int(m.group(1)), seq=int(m.group(2)))
    return token


def resolve_numbers(text: str | None, unit: Unit | None) -> Resolved:
    """The problems typed by number (comma / 、 / line separated; ``2026-12`` for
    贾走访〔2026〕00012号): their ids, and a Chinese message for each entry that does not name a
    problem concerning ``unit``. Repeated entries count once."""
    out = Resolved()
    tokens = [t for t in _SEPARATORS.split(text or "") if t]
    if len(tokens) > MAX_PROBLEMS:
        out.errors.append(str(_l("一次最多关联 %(n)d 个问题。", n=MAX_PROBLEMS)))
        return out
    wanted = {t: _normalise_number(t) for t in tokens}
    found = dict(db.session.execute(
        select(Problem.number, Problem.id).where(Problem.number.in_(set(wanted.values())))).all()) if wanted else {}
    concerning = set()
    if unit is not None and found:
        concerning = set(db.session.scalars(
            select(Problem.id).where(Problem.id.in_(found.values()), _concerns(unit))))
    for token in tokens:
        pid = found.get(wanted[token])
        if pid is None:
            out.errors.append(str(_l("“%(t)s”：没有这个编号的问题。", t=token)))
        elif unit is not None and pid not in concerning:
            out.errors.append(str(_l("“%(t)s”：该问题与%(unit)s无关（不是其办理、销号或被发现线索的问题）。",
                                     t=token, unit=unit.name)))
        elif pid not in out.ids:
            out.ids.append(pid)
    return out


def may_see_persons(user) -> bool:
    return user.role in READERS


def decision_or_404(record_id: int, user) -> AccountabilityRecord:
    """The record for its printed decision: only ``DECISION_READERS`` (the routes' gate), who
    read every record; anything else is 404."""
    record = db.session.get(AccountabilityRecord, record_id) if user.role in DECISION_READERS else None
    if record is None:
        abort(404)
    return record


def decision_context(record: AccountabilityRecord, measure_label) -> dict:
    """The printed 问责决定 (Chinese): number, unit, persons with their finding, facts, problems."""
    return {
        "issuer": "贾汪区“百千万”集中走访帮扶活动办公室", "doc_number": record.number or "",
        "doc_title": "问责决定", "unit": record.unit.name, "measure": str(measure_label),
        "facts": record.facts, "decided_on": record.decided_on, "decided_by": record.decided_by,
        "persons": [{"name": p.name, "post": p.post, "finding": str(FINDING_LABELS[p.finding])}
                    for p in record.persons],
        "problems": [{"number": p.number, "title": p.title} for p in record.problems],
    }


@dataclass(frozen=True)
class PersonInput:
    name: str
    post: str
    finding: Finding


def parse_persons(text: str | None) -> tuple[list[PersonInput], list[str]]:
    """被问责人员, one a line: 姓名，职务，认定情形 (虚假办结/超时/敷衍应付/其他). The persons, and
    a Chinese message for each line that is not right (its line number)."""
    shown = {str(label): f for f, label in FINDING_LABELS.items()}
    by_label = {**_FINDINGS_CN, **shown}  # typed in Chinese whatever the page's language
    persons: list[PersonInput] = []
    errors: list[str] = []
    lines = [ln.strip() for ln in (text or "").splitlines()]
    numbered = [(n, ln) for n, ln in enumerate(lines, 1) if ln]
    if len(numbered) > MAX_PERSONS:
        return [], [str(_l("一次最多记录 %(n)d 名人员。", n=MAX_PERSONS))]
    for n, line in numbered:
        parts = [p.strip() for p in _PERSON_FIELDS.split(line) if p.strip()]
        if len(parts) != 3:
            errors.append(str(_l("第 %(n)d 行：请按“姓名，职务，认定情形”填写。", n=n)))
        elif parts[2] not in by_label:
            errors.append(str(_l("第 %(n)d 行：认定情形须是%(k)s之一。", n=n, k="、".join(shown))))
        elif len(parts[0]) > 32 or len(parts[1]) > 64:
            errors.append(str(_l("第 %(n)d 行：姓名不超过32字，职务不超过64字。", n=n)))
        else:
            persons.append(PersonInput(parts[0], parts[1], by_label[parts[2]]))
    return persons, errors


# ---------------------------------------------------------------- write


def create(user, *, unit: Unit | None, measure: Measure | str | None, facts: str | None,
           decided_on: date | None, decided_by: str | None, problem_ids=(), flag_ids=(),
           persons: list[PersonInput] = ()) -> AccountabilityRecord:
    """记录问责 against ``unit``; links the problems and flags. Audited; flushes.

    Raises :class:`RecordInvalid` with every field's message at once.
    """
    errors: dict = {}
    if unit is None or unit.kind not in ACCOUNTABLE_KINDS:
        errors["unit"] = _l("请选择被问责的单位（镇街、功能区、部门、12345专席或工作组）。")
    try:
        measure = Measure(measure) if measure else None
    except ValueError:
        measure = None
    if measure is None:
        errors["measure"] = _l("请选择问责方式。")
    facts = (facts or "").strip()
    if not facts:
        errors["facts"] = _l("请填写问责事由。")
    elif len(facts) > FACTS_MAX:
        errors["facts"] = _l("问责事由不能超过%(max)d字。", max=FACTS_MAX)
    decided_by = (decided_by or "").strip()
    if not decided_by:
        errors["decided_by"] = _l("请填写作出决定的机关或领导。")
    elif len(decided_by) > DECIDED_BY_MAX:
        errors["decided_by"] = _l("决定机关（人）不能超过%(max)d字。", max=DECIDED_BY_MAX)
    if decided_on is None:
        errors["decided_on"] = _l("请填写决定日期。")
    elif decided_on > clock.today():
        errors["decided_on"] = _l("决定日期不能晚于今天。")
    if errors.get("unit"):
        raise RecordInvalid(errors)

    problem_ids = list(dict.fromkeys(int(i) for i in problem_ids))
    flag_ids = list(dict.fromkeys(int(i) for i in flag_ids))
    problems = []
    if problem_ids:
        problems = db.session.scalars(
            select(Problem).where(Problem.id.in_(problem_ids), _concerns(unit)).order_by(Problem.id)).all()
        if len(problems) != len(problem_ids):
            errors["problems"] = _l("有的问题与%(unit)s无关，不能关联。", unit=unit.name)
    flags = []
    if flag_ids:
        flags = db.session.scalars(select(Flag).where(Flag.id.in_(flag_ids)).order_by(Flag.id)
                                   .with_for_update()).all()
        bad = [f for f in flags if f.unit_id != unit.id or f.status != FlagStatus.confirmed
               or f.accountability_id is not None]
        if bad or len(flags) != len(flag_ids):
            errors["flags"] = _l("只能关联%(unit)s已核查属实、且尚未问责的线索。", unit=unit.name)
    if not problem_ids and not flag_ids:
        errors.setdefault("problems", _l("请至少关联一个问题或一条线索。"))
    if errors:
        raise RecordInvalid(errors)

    linked = {p.id: p for p in problems}
    for f in flags:
        if f.problem_id is not None and f.problem_id not in linked:
            linked[f.problem_id] = f.problem
    _y, _s, number = next_number("accountability")
    record = AccountabilityRecord(unit_id=unit.id, measure=measure, facts=facts, decided_on=decided_on,
                                  decided_by=decided_by, recorded_by_id=user.id, recorded_at=clock.now(),
                                  number=number)
    record.problems = [linked[i] for i in sorted(linked)]
    record.flags = list(flags)
    record.persons = [AccountabilityPerson(name=p.name, post=p.post, finding=p.finding) for p in persons]
    db.session.add(record)
    db.session.flush()
    audit.record("integrity.accountability_recorded", obj=record, user=user, detail={
        "number": number, "unit_id": unit.id, "measure": measure.value, "decided_on": decided_on.isoformat(),
        "decided_by": decided_by, "problems": sorted(linked), "flags": [f.id for f in flags],
        "persons": [{"name": p.name, "post": p.post, "finding": p.finding.value} for p in persons],
    })
    return record
