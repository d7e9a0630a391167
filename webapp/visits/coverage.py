"""Visit coverage: in a round, an entry is covered when at least one visit to it is dated inside.

The figures are read from the kept counters of ``visits.counts`` (covered / total per round and
place, kept by the writes): one small statement per table, whatever the size of the register,
and never the visits. Where a reader's scope is not a set of places the counters know (a cadre's
"own and the group's") the figure is one grouped statement over the register in that scope,
each entry's "covered in the round" a lookup in ``coverage_covered``. A page's total is the sum
of its rows (every grouping partitions the scope), not a statement of its own.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import joinedload

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import clock
from ..core.extensions import db
from ..org.models import Unit
from . import counts
from .access import is_town_user
from .models import Enterprise, Household, Visit, VisitRound

# What a figure can be grouped by, per register: the column of the entry that names the group.
GROUPS = {
    "district": (None, None),
    "town": (Household.town_id, Enterprise.town_id),
    "village": (Household.village_id, None),
    "group": (Household.work_group_id, Enterprise.work_group_id),
    "cadre": (Household.cadre_id, Enterprise.cadre_id),
}


@dataclass
class Figure:
    key: int | None
    name: str
    total: int = 0
    covered: int = 0

    @property
    def uncovered(self) -> int:
        return self.total - self.covered

    @property
    def rate(self) -> float | None:
        return self.covered / self.total if self.total else None


def rounds() -> list[VisitRound]:
    return list(db.session.scalars(select(VisitRound).order_by(VisitRound.starts_on.desc(), VisitRound.id.desc())))


def current_round(today: date | None = None) -> VisitRound | None:
    """The round under way today, else the latest one that has started, else the next one."""
    today = today or clock.today()
    under_way = db.session.scalar(select(VisitRound).where(
        VisitRound.starts_on <= today, VisitRound.ends_on >= today).order_by(VisitRound.starts_on.desc()).limit(1))
    if under_way is not None:
        return under_way
    past = db.session.scalar(select(VisitRound).where(VisitRound.starts_on <= today)
                             .order_by(VisitRound.ends_on.desc()).limit(1))
    return past or db.session.scalar(select(VisitRound).order_by(VisitRound.starts_on).limit(1))


def days_left(visit_round: VisitRound, today: date | None = None) -> int:
    """Days left in the round, today included (0 once it has ended)."""
    today = today or clock.today()
    if today < visit_round.starts_on:
        return (visit_round.ends_on - visit_round.starts_on).days + 1
    return max(0, (visit_round.ends_on - today).days + 1)


def covered_condition(model, visit_round: VisitRound):
    """``model`` rows with a visit inside the round (for the lists' 已走访/未走访 filter), from the
    kept record of covered entries (its primary key answers alone)."""
    c = counts.CoverageCovered
    return exists(select(c.entry_id).where(c.round_id == visit_round.id, c.kind == counts.KIND[model],
                                           c.entry_id == model.id))


def visited_between(model, starts_on: date, ends_on: date):
    """``model`` rows with a visit between two days, read from the visits themselves: for a round
    cut at a past day (the report's weekly trend), which the kept record of the round cannot say."""
    column = Visit.household_id if model is Household else Visit.enterprise_id
    # Selecting the indexed column (not *) lets the (entry, visited_on) index answer alone.
    return exists(select(column).where(column == model.id, Visit.visited_on >= starts_on,
                                       Visit.visited_on <= ends_on))


def counted_places(user, model, by: str):
    """Which counter rows answer ``user``'s figures grouped ``by``: (grouping, place ids or None for
    all); None when the user's scope is not a set of places (then the register is counted live)."""
    if user is None:
        return None
    if user.role in (Role.office, Role.leader):
        return by, None
    if user.role == Role.group_lead and by in ("district", "group"):
        return "group", [user.unit_id]
    if is_town_user(user):
        if by in ("district", "town"):
            return "town", [user.unit_id]
        if by == "village" and model is Household:
            return "village", select(Unit.id).where(Unit.parent_id == user.unit_id).scalar_subquery()
    return None


def figures(model, visit_round: VisitRound, by: str, scope, *, user=None) -> list[Figure]:
    """Covered / total per group (``by`` a key of ``GROUPS``), open entries in ``scope`` only;
    from the kept counters when ``user``'s scope is a set of places they count."""
    key = GROUPS[by][0 if model is Household else 1]
    if by != "district" and key is None:
        return []
    places = counted_places(user, model, by)
    if places is not None:
        return _counted(model, visit_round, by, *places)
    # Each entry asks its own visits of the round, through the (entry, visited_on) index: no
    # DISTINCT over the visits, and the work follows the size of the scope.
    # A saved round is answered by its kept record; a round cut at a day (never stored) by the visits.
    condition = (covered_condition(model, visit_round) if visit_round.id is not None
                 else visited_between(model, visit_round.starts_on, visit_round.ends_on))
    covered = func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    stmt = (select(*(([key] if key is not None else []) + [func.count(model.id), covered])).select_from(model)
            .where(model.is_closed.is_(False), scope))
    if key is not None:
        stmt = stmt.group_by(key)
    rows = db.session.execute(stmt).all()
    if key is None:
        n, n_covered = rows[0] if rows else (0, 0)
        return [Figure(None, "", n, n_covered)] if n else []
    names = _names(by, [r[0] for r in rows])
    out = [Figure(k, names.get(k, "?"), n, n_covered) for k, n, n_covered in rows]
    out.sort(key=lambda f: (-(f.rate or 0), f.name))
    return out


def _counted(model, visit_round: VisitRound, by: str, counted_by: str, keys) -> list[Figure]:
    got = counts.read(model, visit_round.id, counted_by, keys)
    if by == "district":
        n, n_covered = sum(v[0] for v in got.values()), sum(v[1] for v in got.values())
        return [Figure(None, "", n, n_covered)] if n else []
    names = _names(by, list(got))
    out = [Figure(k, names.get(k, "?"), n, n_covered) for k, (n, n_covered) in got.items()]
    out.sort(key=lambda f: (-(f.rate or 0), f.name))
    return out


def total(rows: list[Figure]) -> list[Figure]:
    """The whole scope's figure from the rows of one grouping (each entry is in exactly one row)."""
    if not rows:
        return []
    return [Figure(None, "", sum(f.total for f in rows), sum(f.covered for f in rows))]


def _names(by: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    if by == "cadre":
        return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())
    return dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())


def uncovered(model, visit_round: VisitRound, scope, *, by: str | None = None, key: int | None = None,
              limit: int = 50, offset: int = 0, user=None) -> tuple[int, list]:
    """The open entries in ``scope`` (and in group ``key`` of ``by``) not visited in the round;
    the number from the kept counters when ``user``'s scope is a set of places they count."""
    cond = [model.is_closed.is_(False), scope, ~covered_condition(model, visit_round)]
    if by and by != "district" and key is not None:
        column = GROUPS[by][0 if model is Household else 1]
        if column is None:
            return 0, []
        cond.append(column == key)
    total = _uncovered_count(user, model, visit_round, by if key is not None else "district", key)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(model).where(*cond))
    order = (model.village_id, model.number) if model is Household else (model.town_id, model.name)
    # The place and the cadre each row shows come in the same statement (no query per row).
    place = model.village if model is Household else model.town
    items = list(db.session.scalars(select(model).options(joinedload(place), joinedload(model.cadre)).where(*cond)
                                    .order_by(*order, model.id).limit(limit).offset(offset)))
    return total, items


def _uncovered_count(user, model, visit_round: VisitRound, by: str | None, key: int | None) -> int | None:
    """Uncovered = total − covered of one counter place, when it is exactly the figure asked."""
    by = by or "district"
    places = counted_places(user, model, by)
    if places is None:
        return None
    counted_by, keys = places
    if by != "district":
        if keys is not None and not isinstance(keys, list):  # a town's villages
            keys = select(Unit.id).where(Unit.id == key, Unit.parent_id == user.unit_id).scalar_subquery()
        elif keys is not None and key not in keys:
            return 0
        else:
            keys = [key]
    got = counts.read(model, visit_round.id, counted_by, keys)
    return sum(n - n_covered for n, n_covered in got.values())


def dashboard_panel(user, register_scope) -> dict | None:
    """The dashboard's coverage of the current round: households and enterprises by town for the
    office and the leading group, by village for a town's people; ``register_scope(user, model)``."""
    visit_round = current_round()
    if visit_round is None:
        return None
    by = "town" if user.role in (Role.office, Role.leader) else "village"
    out = {"round": visit_round, "by": by, "days_left": days_left(visit_round)}
    for slug, model in (("households", Household), ("enterprises", Enterprise)):
        scope = register_scope(user, model)
        rows = figures(model, visit_round, by if model is Household else "town", scope, user=user)
        out[slug] = {"total": total(rows), "rows": rows}
    return out
