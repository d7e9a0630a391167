"""Integrity flags: raising one (the scan's detectors, a contradicted spot check) and reviewing it.

Each flag has a ``key`` naming what it is about; raising a flag whose key exists does nothing,
so the scan can run any number of times. Writes flush and write the audit entry; the caller
commits.
"""

from datetime import date

from sqlalchemy import select

from ..core import audit
from ..core.extensions import db
from .models import Flag, FlagKind


def raise_flag(kind: FlagKind, key: str, *, unit_id: int, summary: str, evidence: dict,
               problem_id: int | None = None, period_start: date | None = None, user=None) -> Flag | None:
    """Add the flag unless one with ``key`` exists (then return None); audited; flushes."""
    if db.session.scalar(select(Flag.id).where(Flag.key == key)) is not None:
        return None
    flag = Flag(kind=FlagKind(kind), key=key, unit_id=unit_id, problem_id=problem_id,
                period_start=period_start, summary=summary, evidence=evidence,
                detected_by_id=user.id if user is not None else None)
    db.session.add(flag)
    db.session.flush()
    audit.record("integrity.flag_raised", obj=flag, user=user,
                 detail={"kind": flag.kind.value, "key": key, "unit_id": unit_id, "problem_id": problem_id})
    return flag
