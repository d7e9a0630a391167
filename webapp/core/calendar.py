"""Working days on the mainland Chinese calendar, with the office's overrides.

The ``chinese_calendar`` package knows the State Council's holidays and the 调休 make-up
workdays (a Saturday or Sunday that is worked) for the years it was released with. The office
keeps an override table (``calendar_days``) for what the package gets wrong or does not know
yet — next year's holidays before a package release, a local day off. An override always wins;
for a year the package does not cover, Monday–Friday are workdays unless overridden.

All functions take **local dates** (Asia/Shanghai). To count from a stored UTC instant, use
``core.deadlines.deadline_for``, which converts first.

Overrides are loaded per calendar year in one query and cached on ``flask.g`` (that is, per
request, or per app context in commands and tests); changing a row through the ORM clears the
cache.
"""

import datetime as dt
import functools
from dataclasses import dataclass, field

import chinese_calendar
from flask import g, has_app_context
from sqlalchemy import Boolean, Date, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit
from .extensions import db

_CACHE_KEY = "_huiyin_calendar_overrides"
LIBRARY_FIRST_YEAR = min(chinese_calendar.holidays).year
LIBRARY_LAST_YEAR = max(chinese_calendar.holidays).year


class CalendarDay(db.Model):
    """An office-set day: a workday (``is_workday``) or a day off, whatever the package says."""

    __tablename__ = "calendar_days"
    audit_type = "calendar_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, unique=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")


# -- the per-request cache of overrides ---------------------------------------------------------


@dataclass
class _Overrides:
    years: set[int] = field(default_factory=set)
    days: dict[dt.date, bool] = field(default_factory=dict)


def _cache() -> _Overrides:
    cache = g.get(_CACHE_KEY)
    if cache is None:
        cache = _Overrides()
        setattr(g, _CACHE_KEY, cache)
    return cache


def clear_cache() -> None:
    """Forget the loaded overrides (done automatically when a ``CalendarDay`` is flushed)."""
    if has_app_context():
        g.pop(_CACHE_KEY, None)


def _load_years(first: int, last: int) -> _Overrides:
    """Make sure the overrides of the years ``first``..``last`` are loaded (one query at most)."""
    cache = _cache()
    missing = [y for y in range(first, last + 1) if y not in cache.years]
    if missing:
        lo, hi = dt.date(min(missing), 1, 1), dt.date(max(missing), 12, 31)
        rows = db.session.execute(
            select(CalendarDay.date, CalendarDay.is_workday).where(CalendarDay.date.between(lo, hi))
        ).all()
        cache.days.update({day: workday for day, workday in rows})
        cache.years.update(range(min(missing), max(missing) + 1))
    return cache


@event.listens_for(CalendarDay, "after_insert")
@event.listens_for(CalendarDay, "after_update")
@event.listens_for(CalendarDay, "after_delete")
def _changed(_mapper, _connection, _target) -> None:
    clear_cache()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(_session, _previous_transaction) -> None:
    # A rolled-back override must not linger in the cache.
    clear_cache()


# -- the calendar ---------------------------------------------------------------------------------


def _check(day) -> dt.date:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(
            f"expected a local date, got {type(day).__name__}; convert instants with "
            "core.deadlines.local_date"
        )
    return day


def library_covers(year: int) -> bool:
    """Whether ``chinese_calendar`` knows this year's holidays (else: Mon–Fri plus overrides)."""
    return LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR


@functools.lru_cache(maxsize=4096)
def _base_is_workday(day: dt.date) -> bool:
    # The package's table is fixed for a release; its lookup scans the whole table each call
    # (the supervision sweep asked it 109,000 times at 200,000 problems). Overrides come on top.
    if library_covers(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def _is_workday(day: dt.date, cache: _Overrides) -> bool:
    if day.year not in cache.years:
        cache = _load_years(day.year, day.year)
    override = cache.days.get(day)
    return _base_is_workday(day) if override is None else override


def is_workday(day: dt.date) -> bool:
    """Whether people work on this local date (overrides, then the package, then Mon–Fri)."""
    return _is_workday(_check(day), _load_years(day.year, day.year))


def add_workdays(start: dt.date, n: int) -> dt.date:
    """The ``n``-th workday after ``start`` (``start`` itself does not count).

    ``add_workdays(friday, 1)`` is the next Monday (if it is a workday); ``n == 0`` returns
    ``start`` unchanged; a negative ``n`` counts back (the ``|n|``-th workday before ``start``).
    """
    _check(start)
    if n == 0:
        return start
    step = dt.timedelta(days=1 if n > 0 else -1)
    # Preload the years the count will most likely cross in one query.
    reach = start + step * (abs(n) * 2 + 30)
    cache = _load_years(min(start, reach).year, max(start, reach).year)
    day, left = start, abs(n)
    while left:
        day += step
        if _is_workday(day, cache):
            left -= 1
    return day


def workdays_between(a: dt.date, b: dt.date) -> int:
    """Workdays crossed going from ``a`` to ``b``: ``a`` excluded, ``b`` included.

    Negative when ``b`` is before ``a``. The inverse of ``add_workdays``:
    ``workdays_between(a, add_workdays(a, n)) == n`` for every ``n``.
    """
    _check(a)
    _check(b)
    if a == b:
        return 0
    if b < a:
        # Going back: count [b, a), so that add_workdays(a, -n) maps back to -n.
        return -workdays_between(b - dt.timedelta(days=1), a - dt.timedelta(days=1))
    cache = _load_years(a.year, b.year)
    count, day = 0, a
    while day < b:
        day += dt.timedelta(days=1)
        if _is_workday(day, cache):
            count += 1
    return count


# -- the office's overrides ---------------------------------------------------------------------


def set_calendar_day(day: dt.date, is_workday: bool, note: str = "", *, user=None) -> CalendarDay:
    """Add or change the override for ``day`` (flushes, audits ``calendar.day_set``)."""
    _check(day)
    row = db.session.scalar(select(CalendarDay).where(CalendarDay.date == day))
    before = None if row is None else {"is_workday": row.is_workday, "note": row.note}
    if row is None:
        row = CalendarDay(date=day, is_workday=is_workday, note=note)
        db.session.add(row)
    else:
        row.is_workday, row.note = is_workday, note
    db.session.flush()
    audit.record("calendar.day_set", obj=row, user=user, detail={
        "date": day.isoformat(), "before": before, "after": {"is_workday": is_workday, "note": note},
    })
    return row


def remove_calendar_day(day: dt.date, *, user=None) -> bool:
    """Drop the override for ``day`` (the package decides again); False if there was none."""
    _check(day)
    row = db.session.scalar(select(CalendarDay).where(CalendarDay.date == day))
    if row is None:
        return False
    audit.record("calendar.day_removed", obj=row, user=user, detail={
        "date": day.isoformat(), "before": {"is_workday": row.is_workday, "note": row.note},
    })
    db.session.delete(row)
    db.session.flush()
    return True
