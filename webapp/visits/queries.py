"""Reads of the registers, scoped to the user: filters, search, the choices forms offer."""

from dataclasses import dataclass

from flask import abort
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import pii
from ..core.extensions import db
from ..org.models import TERRITORIAL, Unit, UnitKind
from . import counts, coverage
from .access import is_town_user, register_scope
from .models import AttentionMark, Enterprise, Household, VisitRound

PAGE_SIZE = 50


@dataclass
class Filters:
    """The list filters as given in the query string (unknown values are ignored)."""

    q: str = ""
    place: int | None = None     # village (households) or town (enterprises)
    cadre: int | None = None
    mark: int | None = None
    visited: str = ""            # "yes" / "no" in the chosen round; "" for both
    round_id: int | None = None
    closed: bool = False

    @classmethod
    def from_args(cls, args) -> "Filters":
        visited = args.get("visited", "")
        return cls(q=(args.get("q") or "").strip()[:40], place=args.get("place", type=int),
                   cadre=args.get("cadre", type=int), mark=args.get("mark", type=int),
                   visited=visited if visited in ("yes", "no") else "",
                   round_id=args.get("round", type=int), closed=args.get("closed") == "1")

    def as_args(self) -> dict:
        out = {"q": self.q, "place": self.place, "cadre": self.cadre, "mark": self.mark,
               "visited": self.visited, "round": self.round_id, "closed": "1" if self.closed else None}
        return {k: v for k, v in out.items() if v not in (None, "")}


def chosen_round(filters: Filters) -> VisitRound | None:
    if filters.round_id:
        r = db.session.get(VisitRound, filters.round_id)
        if r is not None:
            return r
    return coverage.current_round()


def _search(model, q: str):
    if not q:
        return None
    like = f"%{q}%"
    name = model.head_name if model is Household else model.name
    number = model.number if model is Household else model.credit_code
    ors = [name.like(like), number == q.upper() if model is Enterprise else number == q]
    if pii.looks_like_phone(q):
        # Phones are sealed (core.pii): a whole number is found through its blind index.
        ors.append(model.phone_index == pii.blind_index(q, "phone"))
    if q.isascii() and q.isalpha():
        ors.append(model.initials.like(f"{q.lower()}%"))
    return or_(*ors)


def conditions(model, user, filters: Filters, visit_round: VisitRound | None) -> list:
    """The WHERE of a register list: the user's scope, then each filter given."""
    cond = [register_scope(user, model), model.is_closed.is_(filters.closed)]
    s = _search(model, filters.q)
    if s is not None:
        cond.append(s)
    if filters.place:
        cond.append((model.village_id if model is Household else model.town_id) == filters.place)
    if filters.cadre:
        cond.append(model.cadre_id == filters.cadre)
    if filters.mark and model is Household:
        cond.append(Household.marks.any(AttentionMark.id == filters.mark))
    if filters.visited and visit_round is not None:
        covered = coverage.covered_condition(model, visit_round)
        cond.append(covered if filters.visited == "yes" else ~covered)
    return cond


def page_of(model, user, filters: Filters, visit_round, page: int) -> tuple[int, int, list]:
    """(total, page, entries) of a register list, with what each row shows loaded."""
    cond = conditions(model, user, filters, visit_round)
    total = db.session.scalar(select(func.count()).select_from(model).where(*cond))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    opts = [joinedload(model.cadre), joinedload(model.work_group)]
    if model is Household:
        opts += [joinedload(Household.village), selectinload(Household.marks)]
        order = (Household.village_id, Household.number, Household.id)
    else:
        opts += [joinedload(Enterprise.town)]
        order = (Enterprise.town_id, Enterprise.initials, Enterprise.id)
    items = list(db.session.scalars(select(model).options(*opts).where(*cond).order_by(*order)
                                    .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique())
    return total, page, items


MINE_PAGE = 30
MINE_STATES = ("unvisited", "visited", "all")


def mine_counts(model, user, visit_round: VisitRound | None) -> tuple[int, int | None]:
    """(open entries, visited in the round) of one cadre's households or enterprises, from the
    kept coverage counters (the cadre is one of their places); visited is None without a round."""
    if visit_round is None:
        n = db.session.scalar(select(func.count()).select_from(model).where(
            model.cadre_id == user.id, model.is_closed.is_(False)))
        return n, None
    n, covered = counts.read(model, visit_round.id, "cadre", [user.id]).get(user.id, (0, 0))
    return n, covered


def mine_page(model, user, visit_round: VisitRound | None, *, state: str = "unvisited", q: str = "",
              after: int | None = None, limit: int = MINE_PAGE) -> tuple[list, int | None]:
    """One page of a cadre's own open households (by village and 户号) or enterprises (by town and
    name): those not yet visited in the round, those visited, or all; found by name, number or
    pinyin initials. The next page starts after the last row's sort key (``after`` is its id), so
    a cadre with hundreds of households reads thirty at a time at the same cost.
    Returns the rows (place loaded) and the id to continue after, or None on the last page."""
    cond = [model.cadre_id == user.id, model.is_closed.is_(False)]
    if visit_round is not None and state != "all":
        covered = coverage.covered_condition(model, visit_round)
        cond.append(covered if state == "visited" else ~covered)
    s = _search(model, q)
    if s is not None:
        cond.append(s)
    keys = (model.village_id, model.number, model.id) if model is Household else (model.town_id, model.name, model.id)
    if after is not None:
        anchor = db.session.execute(select(*keys).where(model.id == after, model.cadre_id == user.id)).first()
        if anchor is not None:
            (a, b, c), (va, vb, vc) = keys, anchor
            cond.append(or_(a > va, and_(a == va, b > vb), and_(a == va, b == vb, c > vc)))
    place = model.village if model is Household else model.town
    rows = list(db.session.scalars(select(model).options(joinedload(place)).where(*cond)
                                   .order_by(*keys).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def visited_ids(model, ids: list[int], visit_round: VisitRound | None) -> set[int]:
    """Which of ``ids`` were visited in the round (one statement for a page of rows, from the kept
    record of covered entries)."""
    if not ids or visit_round is None:
        return set()
    c = counts.CoverageCovered
    return set(db.session.scalars(select(c.entry_id).where(
        c.round_id == visit_round.id, c.kind == counts.KIND[model], c.entry_id.in_(ids))))


def get_entry_or_404(model, entry_id: int, user):
    entry = db.session.scalar(select(model).where(model.id == entry_id, register_scope(user, model)))
    if entry is None:
        abort(404)
    return entry


# ---------------------------------------------------------------- choices


def places(user, *, villages: bool) -> list[Unit]:
    """The villages (or towns) the user's lists and forms may name."""
    q = select(Unit).options(joinedload(Unit.parent)).where(Unit.is_active.is_(True))
    if villages:
        q = q.where(Unit.kind == UnitKind.village)
    else:
        q = q.where(Unit.kind.in_(TERRITORIAL))
    towns = territories_of(user)
    if towns is not None:
        q = q.where((Unit.parent_id if villages else Unit.id).in_(towns or [-1]))
    return list(db.session.scalars(q.order_by(Unit.parent_id, Unit.id)).unique())


def territories_of(user) -> list[int] | None:
    """The towns a user works in (None: all of them)."""
    if user.role in (Role.office, Role.leader):
        return None
    if is_town_user(user):
        return [user.unit_id]
    if user.role in (Role.cadre, Role.group_lead) and user.unit is not None:
        return [u.id for u in user.unit.covered_units if u.kind in TERRITORIAL]
    return []


def cadres(user) -> list[User]:
    """Cadres an entry may be given to: the group's for a group lead, every active one for the office."""
    q = select(User).where(User.role == Role.cadre, User.is_active_account.is_(True))
    if user.role == Role.group_lead:
        q = q.where(User.unit_id == user.unit_id)
    elif user.role not in (Role.office, Role.leader):
        q = q.where(User.unit_id == user.unit_id) if user.role == Role.cadre else q.where(User.id.is_(None))
    return list(db.session.scalars(q.order_by(User.unit_id, User.full_name)))


def marks(active_only: bool = True) -> list[AttentionMark]:
    q = select(AttentionMark)
    if active_only:
        q = q.where(AttentionMark.is_active.is_(True))
    return list(db.session.scalars(q.order_by(AttentionMark.sort_order, AttentionMark.id)))

