"""Writes about visits: each flushes, audits in the caller's transaction, never commits."""

from datetime import date

from sqlalchemy import select

from ..cases.operations import territory_of
from ..core import audit
from ..core.extensions import db
from ..org.models import Unit
from .models import Visit


def record_visit(user, *, visited_on: date, village: Unit, household_kind, household_name: str,
                 visitors: str, situation: str, demands: str, client_token: str | None) -> tuple[Visit, bool]:
    """Record a visit; the same ``client_token`` returns the visit already made (created=False)."""
    if client_token:
        existing = db.session.scalar(select(Visit).where(Visit.client_token == client_token))
        if existing is not None:
            return existing, False
    town = territory_of(village)
    visit = Visit(
        visited_on=visited_on, village=village, town=town, work_group_id=user.unit_id,
        household_kind=household_kind, household_name=household_name, visitors=visitors,
        situation=situation, demands=demands, created_by_id=user.id, client_token=client_token,
    )
    db.session.add(visit)
    db.session.flush()
    audit.record("visit.create", obj=visit, user=user, detail={"village": village.name})
    return visit, True
