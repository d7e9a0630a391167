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

Working days are counted by **ordinal lookup**: one table, built once per process from the
package, gives every date of the calendar's range (``FIRST_DAY``..``LAST_DAY``) the number of
workdays up to it; the office's overrides (a handful a year) correct it through a sorted list of
their offsets. "Workdays between" is then a subtraction and "the n-th workday after" a binary
search over that table — the same few steps for any date and any ``n``, never a walk day by day.
A date outside the range raises ``OutsideCalendar`` (an ``Invalid``: the caller answers 4xx).
"""

import bisect
import datetime as dt
import functools
from array import array
from dataclasses import dataclass, field

import chinese_calendar
from flask import g, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, String, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import audit
from .errors import Invalid
from .extensions import db

_CACHE_KEY = "_huiyin_calendar_overrides"
LIBRARY_FIRST_YEAR = min(chinese_calendar.holidays).year
LIBRARY_LAST_YEAR = max(chinese_calendar.holidays).year
# The range the calendar answers for: the campaign's records and any deadline it may set.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)


class OutsideCalendar(Invalid):
    """A date (or a count of workdays) that leaves the calendar's range."""

    def __init__(self, day=None):
        # Lazy: the message is translated when shown, in the request's language.
        super().__init__(_l("日期超出工作日历的范围（%(first)s 至 %(last)s）。",
                            first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()))
        self.day = day


class CalendarDay(db.Model):
    """An office-set day: a workday (``is_workday``) or a day off, whatever the package says."""

    __tablename__ = "calendar_days"
    audit_type = "calendar_day"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, unique=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")


# -- the package's calendar as a table of ordinals ----------------------------------------------


def library_covers(year: int) -> bool:
    """Whether ``chinese_calendar`` knows this year's holidays (else: Mon–Fri plus overrides)."""
    return LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR


def _package_says_workday(day: dt.date) -> bool:
    # What chinese_calendar.is_workday answers, read from its two tables directly (its own
    # function validates the year on every call); Monday–Friday for years it does not know.
    if library_covers(day.year):
        return day in chinese_calendar.workdays or (day.weekday() < 5 and day not in chinese_calendar.holidays)
    return day.weekday() < 5


@dataclass(frozen=True)
class _Table:
    # ordinals[i + 1]: workdays (by the package) from FIRST_DAY up to FIRST_DAY + i days;
    # ordinals[0] == 0 (the day before the range).
    ordinals: array


@functools.cache
def _table() -> _Table:
    ordinals = array("l", [0])
    day, count = FIRST_DAY, 0
    one = dt.timedelta(days=1)
    while day <= LAST_DAY:
        count += _package_says_workday(day)
        ordinals.append(count)
        day += one
    return _Table(ordinals)


def _index(day: dt.date) -> int:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutsideCalendar(day)
    return (day - FIRST_DAY).days


def _base_is_workday(day: dt.date) -> bool:
    ordinals = _table().ordinals
    i = _index(day)
    return ordinals[i + 1] != ordinals[i]


# -- the per-request cache of overrides ---------------------------------------------------------


@dataclass
class _Overrides:
    years: set[int] = field(default_factory=set)
    days: dict[dt.date, bool] = field(default_factory=dict)
    # Sorted indexes of the overrides that change the package's answer, and the running sum of
    # their corrections (+1 a day off made a workday, -1 a workday made a day off).
    _at: list[int] | None = None
    _sums: list[int] | None = None

    def corrections(self) -> tuple[list[int], list[int]]:
        if self._at is None:
            at, sums, total = [], [], 0
            for day in sorted(self.days):
                if not FIRST_DAY <= day <= LAST_DAY:
                    continue
                delta = int(self.days[day]) - int(_base_is_workday(day))
                if delta:
                    total += delta
                    at.append(_index(day))
                    sums.append(total)
            self._at, self._sums = at, sums
        return self._at, self._sums


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
    first, last = max(first, FIRST_DAY.year), min(last, LAST_DAY.year)
    missing = [y for y in range(first, last + 1) if y not in cache.years]
    if missing:
        # The neighbouring years come along (a page's deadlines straddle New Year in December):
        # one query, whatever dates the page then counts.
        missing = [y for y in range(max(min(missing) - 1, FIRST_DAY.year), min(max(missing) + 1, LAST_DAY.year) + 1)
                   if y not in cache.years]
        lo, hi = dt.date(min(missing), 1, 1), dt.date(max(missing), 12, 31)
        rows = db.session.execute(
            select(CalendarDay.date, CalendarDay.is_workday).where(CalendarDay.date.between(lo, hi))
        ).all()
        cache.days.update({day: workday for day, workday in rows})
        cache.years.update(range(min(missing), max(missing) + 1))
        cache._at = cache._sums = None
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
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OutsideCalendar(day)
    return day


def in_range(day: dt.date) -> bool:
    """Whether the calendar answers for this date (forms bound their dates by it)."""
    return FIRST_DAY <= day <= LAST_DAY


def _ordinal(i: int, cache: _Overrides) -> int:
    """Workdays from ``FIRST_DAY`` up to day index ``i`` (-1: none), overrides included."""
    at, sums = cache.corrections()
    k = bisect.bisect_right(at, i)
    return _table().ordinals[i + 1] + (sums[k - 1] if k else 0)


def _first_reaching(target: int, lo: int, cache: _Overrides) -> int:
    """The smallest day index ``>= lo`` whose ordinal reaches ``target`` (a binary search)."""
    hi = (LAST_DAY - FIRST_DAY).days
    if _ordinal(hi, cache) < target:
        raise OutsideCalendar()
    while lo < hi:
        mid = (lo + hi) // 2
        if _ordinal(mid, cache) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
    Raises ``OutsideCalendar`` when the answer would leave the calendar's range.
    """
    _check(start)
    if n == 0:
        return start
    i = _index(start)
    # Preload the years the count will most likely cross in one query; a longer reach (many
    # days off) loads the rest and counts again.
    step = dt.timedelta(days=1 if n > 0 else -1)
    reach = min(max(start + step * min(abs(n) * 2 + 30, 40_000), FIRST_DAY), LAST_DAY)
    cache = _load_years(min(start, reach).year, max(start, reach).year)
    while True:
        if n > 0:
            found = _first_reaching(_ordinal(i, cache) + n, i + 1, cache)
        else:
            target = _ordinal(i - 1, cache) + n + 1
            if target < 1:
                raise OutsideCalendar()
            found = _first_reaching(target, 0, cache)
        day = FIRST_DAY + dt.timedelta(days=found)
        lo, hi = min(start, day).year, max(start, day).year
        if all(y in cache.years for y in range(lo, hi + 1)):
            return day
        cache = _load_years(lo, hi)


def workdays_between(a: dt.date, b: dt.date) -> int:
    """Workdays crossed going from ``a`` to ``b``: ``a`` excluded, ``b`` included.

    Negative when ``b`` is before ``a``. The inverse of ``add_workdays``:
    ``workdays_between(a, add_workdays(a, n)) == n`` for every ``n``.
    """
    _check(a)
    _check(b)
    if a == b:
        return 0
    cache = _load_years(min(a, b).year, max(a, b).year)
    if b < a:
        # Going back: count [b, a), so that add_workdays(a, -n) maps back to -n.
        return -(_ordinal(_index(a) - 1, cache) - _ordinal(_index(b) - 1, cache))
    return _ordinal(_index(b), cache) - _ordinal(_index(a), cache)


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
