"""What a cadre's phone keeps for lookup while offline: the things the cadre may pick on the
intake pages, scoped to the cadre (their work group's villages) or shared (the categories).

Areas above this one add their own lists with :func:`register` (for example the households the
cadre visits); each provider takes the user and returns JSON-ready rows.
"""

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..cases.models import Category
from ..core.extensions import db
from ..org.models import TERRITORIAL, Unit, UnitKind
from ..visits.models import Household

Provider = Callable[[object], list[dict]]
PROVIDERS: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """Add a list to the phone's register (``name`` becomes its key in the JSON)."""
    PROVIDERS[name] = provider


def villages(user) -> list[dict]:
    """The active villages of the territories the user's work group covers (the intake choices)."""
    group = user.unit
    if group is None or group.kind != UnitKind.work_group:
        return []
    territories = [u.id for u in group.covered_units if u.kind in TERRITORIAL and u.is_active]
    if not territories:
        return []
    rows = db.session.scalars(
        select(Unit).options(joinedload(Unit.parent))
        .where(Unit.parent_id.in_(territories), Unit.kind == UnitKind.village, Unit.is_active.is_(True))
        .order_by(Unit.parent_id, Unit.id))
    return [{"id": v.id, "name": v.name, "town": v.parent.name} for v in rows]


def categories(_user) -> list[dict]:
    rows = db.session.scalars(
        select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order, Category.id))
    return [{"id": c.id, "name": c.name} for c in rows]


# A cadre holds about a hundred households; the cap only keeps a mistaken assignment from
# sending a whole town's register to one phone.
MAX_HOUSEHOLDS = 2000


def households(user) -> list[dict]:
    """The households in the cadre's own charge (包户), open ones only: number, head, village,
    address and attention marks for finding them in a village without signal. No phone number
    leaves the server for the phone."""
    rows = db.session.scalars(
        select(Household).options(joinedload(Household.village), joinedload(Household.marks))
        .where(Household.cadre_id == user.id, Household.is_closed.is_(False))
        .order_by(Household.village_id, Household.number).limit(MAX_HOUSEHOLDS)).unique()
    return [{"id": h.id, "number": h.number, "head": h.head_name, "village_id": h.village_id,
             "village": h.village.name, "address": h.address, "marks": [m.name for m in h.marks]}
            for h in rows]


register("villages", villages)
register("categories", categories)
register("households", households)


def register_of(user) -> dict[str, list[dict]]:
    return {name: provider(user) for name, provider in PROVIDERS.items()}
