"""The one clock: aware UTC ``now()`` and the district's local time.

Timestamps are stored in UTC; dates shown to people and working-day counts use Asia/Shanghai.
Tests move the clock with time-machine, so nothing here caches the time.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime (as SQLite returns them) as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local(value: datetime) -> datetime:
    """A stored instant in the district's local time."""
    return as_utc(value).astimezone(LOCAL_TZ)


def today() -> date:
    """Today's date in the district."""
    return now().astimezone(LOCAL_TZ).date()
