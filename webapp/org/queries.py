"""Reads of the organisation tree (the system administrator sees every unit: no scope)."""

from collections import defaultdict
from dataclasses import dataclass, field

from flask import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..core.db import lock_for_update
from ..core.extensions import db
from .models import ALLOWED_PARENTS, TERRITORIAL, Unit, UnitKind

# Order of the kinds wherever units are listed together.
KIND_ORDER = [
    UnitKind.district, UnitKind.leading_group, UnitKind.office, UnitKind.desk, UnitKind.town,
    UnitKind.street, UnitKind.zone, UnitKind.village, UnitKind.department, UnitKind.work_group,
]
BODY_KINDS = (UnitKind.leading_group, UnitKind.office, UnitKind.desk)
# Units a work group may be led by (牵头单位) and may cover.
LEAD_KINDS = TERRITORIAL | {UnitKind.department}
COVERED_KINDS = TERRITORIAL
# Kinds that can be anybody's parent.
PARENT_KINDS = frozenset().union(*ALLOWED_PARENTS.values())
SEARCH_LIMIT = 100


def get_unit(unit_id: int, *, for_update: bool = False) -> Unit:
    """The unit, or 404. ``for_update`` locks the row (writes that check then change it)."""
    query = select(Unit).where(Unit.id == unit_id)
    if for_update:
        query = lock_for_update(query)
    unit = db.session.scalar(query)
    if unit is None:
        abort(404)
    return unit


def _kind_rank(unit: Unit) -> int:
    return KIND_ORDER.index(unit.kind)


@dataclass
class Territory:
    unit: Unit
    villages: list[Unit] = field(default_factory=list)


@dataclass
class OrgTree:
    """The whole organisation, grouped the way the district thinks of it."""

    district: Unit | None
    bodies: list[Unit]
    territories: list[Territory]
    departments: list[Unit]
    work_groups: list[Unit]
    total: int
    inactive: int


def org_tree() -> OrgTree:
    """Every unit in one query (work groups' covered units in a second)."""
    units = db.session.scalars(
        select(Unit).options(selectinload(Unit.covered_units)).order_by(Unit.id)
    ).all()
    children: dict[int | None, list[Unit]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id].append(unit)
    roots = children[None]
    district = next((u for u in roots if u.kind == UnitKind.district), None)
    top = children[district.id] if district else []
    by_kind: dict[UnitKind, list[Unit]] = defaultdict(list)
    for unit in top:
        by_kind[unit.kind].append(unit)
    territories = [
        Territory(unit, list(children[unit.id]))
        for unit in sorted((u for u in top if u.kind in TERRITORIAL), key=lambda u: (_kind_rank(u), u.id))
    ]
    return OrgTree(
        district=district,
        bodies=sorted((u for u in top if u.kind in BODY_KINDS), key=lambda u: (_kind_rank(u), u.id)),
        territories=territories,
        departments=by_kind[UnitKind.department],
        work_groups=by_kind[UnitKind.work_group],
        total=len(units),
        inactive=sum(1 for u in units if not u.is_active),
    )


def search_units(q: str, limit: int = SEARCH_LIMIT) -> list[Unit]:
    """Units whose name contains ``q``, or whose pinyin (initials or full) contains it."""
    q = (q or "").strip()
    if not q:
        return []
    conditions = [Unit.name.contains(q, autoescape=True)]
    compact = "".join(q.split()).lower()
    if compact.isascii():
        conditions += [
            Unit.pinyin_initials.contains(compact, autoescape=True),
            Unit.pinyin.contains(compact, autoescape=True),
        ]
    units = db.session.scalars(
        select(Unit).where(or_(*conditions)).options(selectinload(Unit.parent)).order_by(Unit.id).limit(limit)
    ).all()
    # Exact initials first ("pahjd" → 潘安湖街道 before 潘安湖风景区 …), then tree order.
    return sorted(units, key=lambda u: (u.name != q and u.pinyin_initials != compact, _kind_rank(u), u.id))


def units_by_name(names) -> dict[str, list[Unit]]:
    """Existing units for each name (a name may occur under several parents)."""
    names = {n for n in names if n}
    found: dict[str, list[Unit]] = defaultdict(list)
    if not names:
        return found
    for unit in db.session.scalars(select(Unit).where(Unit.name.in_(names)).order_by(Unit.id)):
        found[unit.name].append(unit)
    return found


def sibling_named(parent: Unit | None, name: str, exclude: Unit | None = None) -> Unit | None:
    """A unit called ``name`` under ``parent`` (active or not), other than ``exclude``."""
    query = select(Unit).where(Unit.name == name)
    query = query.where(Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id)
    if exclude is not None and exclude.id is not None:
        query = query.where(Unit.id != exclude.id)
    return db.session.scalars(query.limit(1)).first()


def active_units_of(kinds) -> list[Unit]:
    kinds = list(kinds)
    units = db.session.scalars(
        select(Unit).where(Unit.kind.in_(kinds), Unit.is_active.is_(True)).order_by(Unit.id)
    ).all()
    return sorted(units, key=lambda u: (_kind_rank(u), u.id))


def ancestors(unit: Unit) -> list[Unit]:
    """From the root down to the unit's parent."""
    chain = []
    seen = set()
    node = unit.parent
    while node is not None and node.id not in seen:
        seen.add(node.id)
        chain.append(node)
        node = node.parent
    return list(reversed(chain))


def export_units() -> list[Unit]:
    """Every unit in tree order: the district, then each top unit followed by its children."""
    tree = org_tree()
    out: list[Unit] = [tree.district] if tree.district else []
    out += tree.bodies
    for territory in tree.territories:
        out.append(territory.unit)
        out += territory.villages
    out += tree.departments + tree.work_groups
    listed = {u.id for u in out}
    # Anything outside the usual shape (should not happen) still goes into the file.
    out += db.session.scalars(select(Unit).where(Unit.id.not_in(listed)).order_by(Unit.id)).all() if listed else []
    return out
