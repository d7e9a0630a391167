"""Writes about visits, the registers and the rounds.

Each function checks what it is given, changes the rows, writes the audit event in the caller's
transaction and flushes; the view commits once. Every write that may change coverage (a visit
recorded or linked, an entry created, moved, reassigned or closed, a round set) counts the entries
it touched again in the same transaction (``counts.recount`` / ``counts.rebuild_round``), so the
coverage counters always equal a fresh count; bulk writers (imports) call ``recount_entries``.
"""

from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update

from ..accounts.models import User
from ..accounts.roles import Role
from ..cases.operations import territory_of
from ..core import audit, clock
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.numbering import CAMPAIGN, next_number, reserve_numbers
from ..org.models import TERRITORIAL, Unit, UnitKind
from . import counts
from .models import (
    AttentionMark,
    Enterprise,
    Household,
    HouseholdKind,
    SizeBand,
    Visit,
    VisitMode,
    VisitPhoto,
    VisitRound,
)

STALE = _l("该记录已被他人修改，请刷新页面查看最新内容后再操作。")


def _check_version(entry, version) -> None:
    if version is not None and int(version) != entry.version:
        raise Conflict(STALE)


def _cadre_or_error(cadre: User | None, field_name: str = "cadre") -> User:
    if cadre is None or cadre.role != Role.cadre or not cadre.is_active_account:
        raise FieldsInvalid({field_name: _l("请选择在岗的走访队员。")})
    return cadre


# ---------------------------------------------------------------- visits


def record_visit(user, *, visited_on: date, village: Unit, household_kind, household_name: str,
                 visitors: str, situation: str, demands: str, client_token: str | None,
                 household: Household | None = None, enterprise: Enterprise | None = None,
                 mode: VisitMode = VisitMode.home, met: str = "", follow_up: str = "",
                 unregistered_reason: str = "", fresh: bool = False) -> tuple[Visit, bool]:
    """Record a visit; the same ``client_token`` returns the visit already made (created=False).
    ``fresh``: the caller looked the tokens up in bulk and none of the visits carries this one."""
    if client_token and not fresh:
        existing = db.session.scalar(select(Visit).where(Visit.client_token == client_token))
        if existing is not None:
            return existing, False
    town = territory_of(village)
    visit = Visit(
        record_no=next_number("visit_record", CAMPAIGN)[1],
        visited_on=visited_on, village=village, town=town, work_group_id=user.unit_id,
        household_kind=household_kind, household_name=household_name, visitors=visitors,
        situation=situation, demands=demands, created_by_id=user.id, client_token=client_token,
        household=household, enterprise=enterprise, mode=mode, met=met, follow_up=follow_up,
        unregistered_reason=unregistered_reason,
    )
    db.session.add(visit)
    db.session.flush()
    _recount_visited(visit)
    audit.record("visit.create", obj=visit, user=user, detail={
        "village": village.name, "household_id": household.id if household else None,
        "enterprise_id": enterprise.id if enterprise else None})
    return visit, True


def number_visits() -> int:
    """Give each visit loaded in bulk (past ``record_visit``) its 走访记录表 number, in the order
    the visits were written, from the campaign-wide counter. Returns how many were numbered."""
    ids = list(db.session.scalars(select(Visit.id).where(Visit.record_no.is_(None)).order_by(Visit.id)))
    if not ids:
        return 0
    first = reserve_numbers("visit_record", len(ids), CAMPAIGN)
    t = Visit.__table__
    rows = [{"vid": vid, "no": first + i} for i, vid in enumerate(ids)]
    for i in range(0, len(rows), 5000):
        db.session.connection().execute(
            update(t).where(t.c.id == bindparam("vid")).values(record_no=bindparam("no")), rows[i:i + 5000])
    return len(ids)


def add_visit_photo(visit: Visit, user, *, filename: str, stored_name: str, mime: str, size: int,
                    sha256: str) -> VisitPhoto:
    """Keep a photo taken at the visit (already checked and written by ``cases.uploads``)."""
    photo = VisitPhoto(visit=visit, filename=filename[:255], stored_name=stored_name, mime=mime, size=size,
                       sha256=sha256, uploaded_by_id=user.id)
    db.session.add(photo)
    db.session.flush()
    audit.record("visit.photo", obj=visit, user=user, detail={"photo_id": photo.id, "filename": photo.filename,
                                                              "sha256": sha256})
    return photo


def link_visit(visit: Visit, user, *, household: Household | None = None,
               enterprise: Enterprise | None = None) -> None:
    """Tie a visit recorded by name to its register entry (the office fixes what could not be matched)."""
    if (household is None) == (enterprise is None):
        raise Invalid(_l("请选择一户或一家企业。"))
    if household is not None and household.village_id != visit.village_id:
        raise Invalid(_l("只能关联走访所在村（社区）的户。"))
    if enterprise is not None and enterprise.town_id != visit.town_id:
        raise Invalid(_l("只能关联走访所在镇（街道）的企业。"))
    before = (visit.household_id, visit.enterprise_id)
    visit.household, visit.enterprise = household, enterprise
    db.session.flush()
    counts.recount(Household, [before[0], visit.household_id])
    counts.recount(Enterprise, [before[1], visit.enterprise_id])
    audit.record("visit.linked", obj=visit, user=user, detail={
        "household_id": household.id if household else None,
        "enterprise_id": enterprise.id if enterprise else None})


def link_visits_by_name() -> int:
    """Link the unlinked visits whose name and village match exactly one household (or whose name
    matches exactly one enterprise of the town); the rest stay for the office. Returns how many."""
    linked = 0
    unlinked = db.session.execute(
        select(Visit.id, Visit.household_kind, Visit.household_name, Visit.village_id, Visit.town_id)
        .where(Visit.household_id.is_(None), Visit.enterprise_id.is_(None), Visit.unregistered_reason == "")
    ).all()
    if not unlinked:
        return 0
    homes: dict[tuple[int, str], list[int]] = {}
    for hid, vid, head in db.session.execute(
            select(Household.id, Household.village_id, Household.head_name).where(Household.is_closed.is_(False))):
        homes.setdefault((vid, head), []).append(hid)
        homes.setdefault((vid, f"{head}家"), []).append(hid)
    firms: dict[tuple[int, str], list[int]] = {}
    for eid, tid, name in db.session.execute(
            select(Enterprise.id, Enterprise.town_id, Enterprise.name).where(Enterprise.is_closed.is_(False))):
        firms.setdefault((tid, name), []).append(eid)
    h_rows, e_rows = [], []
    for vid_, kind, name, village_id, town_id in unlinked:
        if kind == HouseholdKind.enterprise:
            match = firms.get((town_id, name), [])
            if len(match) == 1:
                e_rows.append({"vid": vid_, "target": match[0]})
        else:
            match = homes.get((village_id, name), [])
            if len(set(match)) == 1:
                h_rows.append({"vid": vid_, "target": match[0]})
    for rows, column in ((h_rows, Visit.household_id), (e_rows, Visit.enterprise_id)):
        for row in rows:
            db.session.execute(update(Visit).where(Visit.id == row["vid"]).values({column: row["target"]}))
        linked += len(rows)
    counts.recount(Household, [row["target"] for row in h_rows])
    counts.recount(Enterprise, [row["target"] for row in e_rows])
    if linked:
        audit.record("visit.linked_by_name", object_type="visit", detail={"linked": linked})
    return linked


def _recount_visited(visit: Visit) -> None:
    if visit.household_id is not None:
        counts.recount(Household, [visit.household_id])
    if visit.enterprise_id is not None:
        counts.recount(Enterprise, [visit.enterprise_id])


def recount_entries(*, households=(), enterprises=()) -> None:
    """Count the given register entries again after a bulk write that bypassed the operations
    above (an import of households, enterprises or historical visits): the coverage counters
    then equal a fresh count again. For a whole round or the whole register use
    ``counts.rebuild_round`` / ``counts.rebuild`` (a few grouped statements)."""
    counts.recount(Household, households)
    counts.recount(Enterprise, enterprises)


def count_new_entries(model, after_id: int) -> None:
    """Count the register entries a bulk insert added (ids above ``after_id``) in a few grouped
    statements: the bulk path of imports (entries counted already are left alone)."""
    counts.count_new(model, after_id)


# ---------------------------------------------------------------- registers


@dataclass
class HouseholdInput:
    village: Unit
    number: str
    head_name: str
    cadre: User
    address: str = ""
    members: int = 1
    phone: str = ""
    marks: list[AttentionMark] = field(default_factory=list)


def _check_household(data: HouseholdInput, existing_id: int | None = None) -> None:
    errors = {}
    if data.village is None or data.village.kind != UnitKind.village or data.village.parent is None \
            or data.village.parent.kind not in TERRITORIAL:
        errors["village"] = _l("请选择村（社区）。")
    else:
        clash = db.session.scalar(select(Household.id).where(
            Household.village_id == data.village.id, Household.number == data.number))
        if clash is not None and clash != existing_id:
            errors["number"] = _l("本村（社区）已有这个户号。")
    if data.members is None or data.members < 0:
        errors["members"] = _l("家庭人口不能为负数。")
    if errors:
        raise FieldsInvalid(errors)
    _cadre_or_error(data.cadre)


def create_household(user, data: HouseholdInput) -> Household:
    """Register a household (户) with its responsible cadre."""
    _check_household(data)
    h = Household(village=data.village, town_id=data.village.parent_id, number=data.number,
                  address=data.address, members=data.members, phone=data.phone, marks=list(data.marks))
    h.set_head(data.head_name)
    h.set_cadre(data.cadre)
    db.session.add(h)
    db.session.flush()
    counts.recount(Household, [h.id])
    audit.record("household.create", obj=h, user=user, detail={"village": data.village.name, "number": h.number})
    return h


def update_household(h: Household, user, data: HouseholdInput, *, version=None) -> None:
    """Change a household's details; a stale form is refused."""
    _check_version(h, version)
    if h.is_closed:
        raise Invalid(_l("该户已注销，不能修改。"))
    _check_household(data, existing_id=h.id)
    before = {"number": h.number, "head": h.head_name, "cadre_id": h.cadre_id, "village_id": h.village_id}
    h.village, h.town_id, h.number = data.village, data.village.parent_id, data.number
    h.address, h.members, h.phone, h.marks = data.address, data.members, data.phone, list(data.marks)
    h.set_head(data.head_name)
    h.set_cadre(data.cadre)
    db.session.flush()
    counts.recount(Household, [h.id])
    audit.record("household.update", obj=h, user=user, detail={"before": before, "after": {
        "number": h.number, "head": h.head_name, "cadre_id": h.cadre_id, "village_id": h.village_id}})


@dataclass
class EnterpriseInput:
    name: str
    town: Unit
    cadre: User
    credit_code: str | None = None
    is_individual: bool = False
    address: str = ""
    contact_name: str = ""
    phone: str = ""
    size_band: SizeBand = SizeBand.small
    industry: str = ""


def _check_enterprise(data: EnterpriseInput, existing_id: int | None = None) -> None:
    errors = {}
    if data.town is None or data.town.kind not in TERRITORIAL:
        errors["town"] = _l("请选择镇、街道或功能区。")
    if not data.credit_code and not data.is_individual:
        errors["credit_code"] = _l("请填写统一社会信用代码；没有代码的个体工商户请勾选“个体工商户”。")
    if data.credit_code:
        clash = db.session.scalar(select(Enterprise.id).where(Enterprise.credit_code == data.credit_code))
        if clash is not None and clash != existing_id:
            errors["credit_code"] = _l("已有企业使用这个统一社会信用代码。")
    if errors:
        raise FieldsInvalid(errors)
    _cadre_or_error(data.cadre)


def create_enterprise(user, data: EnterpriseInput) -> Enterprise:
    """Register an enterprise or individual business with its responsible cadre (包企)."""
    _check_enterprise(data)
    e = Enterprise(credit_code=data.credit_code or None, is_individual=data.is_individual, town=data.town,
                   address=data.address, contact_name=data.contact_name, phone=data.phone,
                   size_band=data.size_band, industry=data.industry)
    e.set_name(data.name)
    e.set_cadre(data.cadre)
    db.session.add(e)
    db.session.flush()
    counts.recount(Enterprise, [e.id])
    audit.record("enterprise.create", obj=e, user=user, detail={"name": e.name, "credit_code": e.credit_code})
    return e


def update_enterprise(e: Enterprise, user, data: EnterpriseInput, *, version=None) -> None:
    """Change an enterprise's details; a stale form is refused."""
    _check_version(e, version)
    if e.is_closed:
        raise Invalid(_l("该企业已注销，不能修改。"))
    _check_enterprise(data, existing_id=e.id)
    before = {"name": e.name, "credit_code": e.credit_code, "cadre_id": e.cadre_id}
    e.credit_code, e.is_individual, e.town = data.credit_code or None, data.is_individual, data.town
    e.address, e.contact_name, e.phone = data.address, data.contact_name, data.phone
    e.size_band, e.industry = data.size_band, data.industry
    e.set_name(data.name)
    e.set_cadre(data.cadre)
    db.session.flush()
    counts.recount(Enterprise, [e.id])
    audit.record("enterprise.update", obj=e, user=user, detail={"before": before, "after": {
        "name": e.name, "credit_code": e.credit_code, "cadre_id": e.cadre_id}})


def close_entry(entry, user, *, reason: str, version=None) -> None:
    """Close a household (moved away) or enterprise (deregistered) with a reason; never deleted."""
    _check_version(entry, version)
    reason = (reason or "").strip()
    if not reason:
        raise FieldsInvalid({"reason": _l("请填写注销原因。")})
    if entry.is_closed:
        raise Conflict(_l("该记录已经注销。"))
    entry.is_closed, entry.closed_reason, entry.closed_at = True, reason[:255], clock.now()
    db.session.flush()
    counts.recount(type(entry), [entry.id])
    audit.record(f"{entry.audit_type}.close", obj=entry, user=user, detail={"reason": entry.closed_reason})


def reassign(user, *, from_cadre: User, to_cadre: User, within_group: int | None = None) -> dict:
    """Move every open household and enterprise of one cadre to another in one audited step
    (a cadre leaves the campaign). ``within_group`` limits a group lead to the group's entries."""
    _cadre_or_error(to_cadre, "to_cadre")
    if from_cadre is None:
        raise FieldsInvalid({"from_cadre": _l("请选择原包户干部。")})
    if from_cadre.id == to_cadre.id:
        raise FieldsInvalid({"to_cadre": _l("新包户干部不能与原包户干部相同。")})
    if within_group is not None and to_cadre.unit_id != within_group:
        raise FieldsInvalid({"to_cadre": _l("只能移交给本工作组的走访队员。")})
    moved = {}
    for model in (Household, Enterprise):
        cond = [model.cadre_id == from_cadre.id, model.is_closed.is_(False)]
        if within_group is not None:
            cond.append(model.work_group_id == within_group)
        ids = list(db.session.scalars(select(model.id).where(*cond)))
        result = db.session.execute(
            update(model).where(*cond)
            .values(cadre_id=to_cadre.id, work_group_id=to_cadre.unit_id, version=model.version + 1)
            .execution_options(synchronize_session=False))
        moved[model.audit_type] = result.rowcount
        counts.recount(model, ids)
    db.session.expire_all()
    audit.record("register.reassign", object_type="user", object_id=from_cadre.id, user=user, detail={
        "from": from_cadre.id, "to": to_cadre.id, "households": moved["household"],
        "enterprises": moved["enterprise"]})
    return moved


def reveal_phone(entry, user) -> None:
    """显示完整号码 of a household or enterprise: always audited (the caller checked the right)."""
    audit.record(f"{entry.audit_type}.phone_revealed", obj=entry, user=user, detail={})


# ---------------------------------------------------------------- rounds


def save_round(user, *, name: str, starts_on: date, ends_on: date, visit_round: VisitRound | None = None) -> VisitRound:
    """Create or change a visiting round (第N轮走访)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _l("请填写轮次名称。")
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = _l("结束日期不能早于开始日期。")
    clash = db.session.scalar(select(VisitRound.id).where(VisitRound.name == name))
    if name and clash is not None and (visit_round is None or clash != visit_round.id):
        errors["name"] = _l("已有同名的走访轮次。")
    if errors:
        raise FieldsInvalid(errors)
    if visit_round is None:
        visit_round = VisitRound(name=name, starts_on=starts_on, ends_on=ends_on)
        db.session.add(visit_round)
        event = "visit_round.create"
    else:
        visit_round.name, visit_round.starts_on, visit_round.ends_on = name, starts_on, ends_on
        event = "visit_round.update"
    db.session.flush()
    counts.rebuild_round(visit_round.id)
    audit.record(event, obj=visit_round, user=user, detail={
        "name": name, "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()})
    return visit_round
