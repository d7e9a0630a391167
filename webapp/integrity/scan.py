"""The integrity scan (``flask integrity scan``, the scheduler's daily run, the office's 立即核查
button): every detector of ``integrity.detectors`` as of a day, serialised against a concurrent
scan, audited. Idempotent: a flag whose key exists is not raised again."""

from datetime import date

from sqlalchemy import select

from ..core import audit, clock
from ..core.audit import AuditHead
from ..core.extensions import db
from . import detectors


def _serialise() -> None:
    """Wait for a concurrent scan (or any audit appender) to commit before reading which flags
    exist: two scans started together cannot both add the same key (no-op on SQLite)."""
    db.session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())


def scan(today: date | None = None, user=None, *, source: str = "cli") -> dict[str, int]:
    """Run every detector as of ``today`` (default: the district's today); returns the number of
    new flags per kind. Idempotent; audited (``integrity.scan``); flushes, the caller commits."""
    today = today or clock.today()
    _serialise()
    counts = detectors.run_all(today, user=user)
    audit.record("integrity.scan", user=user,
                 detail={"date": today.isoformat(), "source": source, "raised": counts,
                         "thresholds": detectors.thresholds()})
    db.session.flush()
    return counts
