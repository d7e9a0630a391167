"""The statistics' data version: one number that every transaction changing what the figures
count — a problem registered or changed, a callback (回访) recorded, an extension (延期) or a
sign-off (销号) decided — raises by one just before it commits.

The dashboards keep their grouped counts per data version (``figures.dashboard``): reading this
one row tells whether anything was counted since, instead of a pass over every problem. The row
is written at the very end of a transaction (``before_commit``), so concurrent writers hold its
lock only for the moment of their commit. Writes through the ORM are seen by the session's
flushes; a bulk write through Core that changes the figures calls ``changed()``.
"""

from sqlalchemy import BigInteger, Integer, event, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..cases.models import Problem
from ..core.extensions import db
from ..handling.models import Closure, Extension, Reply

WATCHED = (Problem, Reply, Extension, Closure)
_FLAG = "huiyin_stats_changed"
_ROW = 1


class StatsDataVersion(db.Model):
    __tablename__ = "stats_data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


def current() -> int:
    """The data version now (0 before the first counted change)."""
    return db.session.scalar(select(StatsDataVersion.n).where(StatsDataVersion.id == _ROW)) or 0


def changed(session=None) -> None:
    """Mark the session's transaction as changing the figures (for writes the ORM does not see)."""
    (session or db.session).info[_FLAG] = True


@event.listens_for(Session, "after_flush")
def _note(session, _context) -> None:
    if session.info.get(_FLAG):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, WATCHED):
            # A problem "dirty" only because a timeline entry joined its collection counts nothing new.
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            session.info[_FLAG] = True
            return


@event.listens_for(Session, "before_commit")
def _raise(session) -> None:
    session.flush()  # what is still pending is part of this transaction's changes
    if not session.info.pop(_FLAG, False):
        return
    t = StatsDataVersion.__table__
    bumped = session.execute(update(t).where(t.c.id == _ROW).values(n=t.c.n + 1))
    if bumped.rowcount == 0:  # a database whose row was never written
        session.execute(insert(t).values(id=_ROW, n=1))


@event.listens_for(Session, "after_rollback")
def _forget(session) -> None:
    session.info.pop(_FLAG, None)
