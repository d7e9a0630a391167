"""Reads for the user administration (the system administrator sees every account)."""

from flask import abort
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import or_, select

from ..core.extensions import db
from ..org.models import Unit
from ..org.queries import KIND_ORDER
from .admin_operations import USER_UNIT_KINDS
from .models import User

PER_PAGE = 20


def get_user(user_id: int, *, for_update: bool = False) -> User:
    """The account, or 404. ``for_update`` locks the row for a check-then-change write."""
    query = select(User).where(User.id == user_id)
    if for_update:
        # Lock the users row only: the unit is joined in (lazy="joined"), and PostgreSQL
        # refuses FOR UPDATE on the nullable side of an outer join.
        query = query.with_for_update(of=User)
    user = db.session.scalar(query)
    if user is None:
        abort(404)
    return user


def _filtered(q: str, unit_id: int | None):
    query = select(User).join(Unit, User.unit_id == Unit.id)
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    q = (q or "").strip()
    if q:
        query = query.where(or_(
            User.username.icontains(q, autoescape=True),
            User.full_name.contains(q, autoescape=True),
            Unit.name.contains(q, autoescape=True),
        ))
    return query


def search_users(q: str, unit_id: int | None, page: int) -> Pagination:
    """Accounts matching ``q`` in username, name or unit name; active first, then by unit."""
    query = _filtered(q, unit_id).order_by(User.is_active_account.desc(), Unit.id, User.username)
    return db.paginate(query, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def all_users() -> list[User]:
    return db.session.scalars(
        select(User).join(Unit, User.unit_id == Unit.id).order_by(Unit.id, User.username)
    ).all()


def units_for_users(current: Unit | None = None) -> list[Unit]:
    """Active units an account may belong to (plus the account's current unit, whatever it is)."""
    units = db.session.scalars(
        select(Unit).where(Unit.kind.in_(USER_UNIT_KINDS), Unit.is_active.is_(True)).order_by(Unit.id)
    ).all()
    if current is not None and current not in units:
        units.append(current)
    return sorted(units, key=lambda u: (KIND_ORDER.index(u.kind), u.id))
