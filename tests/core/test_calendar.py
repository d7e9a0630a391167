"""Working days: the mainland calendar with 调休, the office's overrides, local-time deadlines."""

import json
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from webapp.core import calendar as cal
from webapp.core.audit import AuditEvent
from webapp.core.calendar import (
    CalendarDay,
    add_workdays,
    is_workday,
    remove_calendar_day,
    set_calendar_day,
    workdays_between,
)
from webapp.core.clock import LOCAL_TZ
from webapp.core.deadlines import deadline_for, latest_extension_request, local_date, time_left
from webapp.core.extensions import db
from webapp.core.settings import update_settings


@contextmanager
def count_queries():
    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def at_local(*args) -> datetime:
    """An aware instant given in Jiawang's wall-clock time."""
    return datetime(*args, tzinfo=LOCAL_TZ)


# -- the package's calendar ------------------------------------------------------------------


def test_national_day_2024_and_its_make_up_workdays(app):
    for day in range(1, 8):
        assert not is_workday(date(2024, 10, day)), f"2024-10-0{day} is a holiday"
    assert is_workday(date(2024, 9, 29))  # Sunday, worked (调休)
    assert is_workday(date(2024, 10, 12))  # Saturday, worked (调休)
    assert is_workday(date(2024, 10, 8))
    assert not is_workday(date(2024, 10, 13))  # an ordinary Sunday


def test_spring_festival_2025(app):
    assert is_workday(date(2025, 1, 26))  # Sunday, worked
    assert all(not is_workday(date(2025, 1, 28) + timedelta(days=i)) for i in range(8))  # 1/28–2/4
    assert is_workday(date(2025, 2, 5))
    assert is_workday(date(2025, 2, 8))  # Saturday, worked
    assert add_workdays(date(2025, 1, 27), 1) == date(2025, 2, 5)


def test_add_workdays_across_national_day(app):
    assert add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 8)
    # Fri 9/27 → Sun 9/29 (worked), Mon 9/30, then the holiday week, then Tue 10/8.
    assert add_workdays(date(2024, 9, 27), 3) == date(2024, 10, 8)
    # 15 workdays (实事快办) from 9/30, counting Saturday 10/12 as worked.
    assert add_workdays(date(2024, 9, 30), 15) == date(2024, 10, 25)
    # The start date never counts, even when it is a workday; a holiday start counts from the next.
    assert add_workdays(date(2024, 10, 8), 1) == date(2024, 10, 9)
    assert add_workdays(date(2024, 10, 3), 1) == date(2024, 10, 8)
    assert add_workdays(date(2024, 10, 3), 0) == date(2024, 10, 3)


def test_counting_back_and_between(app):
    assert add_workdays(date(2024, 10, 8), -1) == date(2024, 9, 30)
    assert add_workdays(date(2024, 10, 8), -2) == date(2024, 9, 29)
    assert workdays_between(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert workdays_between(date(2024, 10, 8), date(2024, 9, 30)) == -1
    assert workdays_between(date(2024, 10, 1), date(2024, 10, 7)) == 0
    assert workdays_between(date(2024, 10, 1), date(2024, 10, 1)) == 0


@pytest.mark.parametrize("start", [date(2024, 9, 27), date(2024, 10, 5), date(2025, 1, 25), date(2026, 12, 24)])
def test_workdays_between_inverts_add_workdays(app, start):
    for n in (-25, -7, -3, -1, 0, 1, 2, 5, 15, 60):
        end = add_workdays(start, n)
        assert workdays_between(start, end) == n, (start, n, end)
        if n:
            assert is_workday(end)


def test_datetimes_are_refused(app):
    with pytest.raises(TypeError):
        is_workday(datetime(2024, 10, 1, tzinfo=UTC))
    with pytest.raises(TypeError):
        add_workdays(datetime(2024, 10, 1, tzinfo=UTC), 1)


# -- years the package does not know ---------------------------------------------------------


def test_years_outside_the_package_fall_back_to_monday_to_friday(app):
    assert cal.library_covers(2024) and not cal.library_covers(2099)
    assert not cal.library_covers(cal.LIBRARY_FIRST_YEAR - 1)
    assert is_workday(date(2099, 1, 1))  # a Thursday: New Year is unknown without an override
    assert not is_workday(date(2099, 1, 3))  # Saturday
    assert add_workdays(date(2099, 1, 2), 1) == date(2099, 1, 5)  # Friday → Monday
    assert is_workday(date(2003, 1, 6))  # before the package's range too (Monday)


def test_override_fills_a_year_the_package_does_not_know(app):
    last = cal.LIBRARY_LAST_YEAR
    new_year = date(last + 1, 1, 1)
    start = date(last, 12, 31)
    expected = add_workdays(start, 1)
    assert expected == next(d for d in (start + timedelta(days=i) for i in range(1, 9)) if d.weekday() < 5)
    set_calendar_day(new_year, False, "元旦")
    db.session.commit()
    assert not is_workday(new_year)
    later = add_workdays(start, 1)
    assert later > new_year


# -- overrides --------------------------------------------------------------------------------


def test_override_wins_over_the_package(app):
    # The office declares 10/8/2024 a day off and Sunday 10/13 a workday.
    set_calendar_day(date(2024, 10, 8), False, "区里调整")
    set_calendar_day(date(2024, 10, 13), True, "补班")
    db.session.commit()
    assert not is_workday(date(2024, 10, 8))
    assert is_workday(date(2024, 10, 13))
    assert add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 9)
    # … and turning a holiday into a workday.
    set_calendar_day(date(2024, 10, 3), True)
    db.session.commit()
    assert add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 3)


def test_override_changes_and_removal_are_audited_and_seen_at_once(app):
    day = date(2024, 10, 8)
    assert is_workday(day)  # loads (and caches) 2024
    set_calendar_day(day, False, "停电")
    assert not is_workday(day)  # the cache was cleared by the flush
    set_calendar_day(day, False, "停电检修")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 1
    assert remove_calendar_day(day)
    assert is_workday(day)
    assert not remove_calendar_day(day)
    db.session.commit()
    events = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.event.like("calendar.%")).order_by(AuditEvent.seq)
    ).all()
    assert [e.event for e in events] == ["calendar.day_set", "calendar.day_set", "calendar.day_removed"]
    second = json.loads(events[1].detail)
    assert second["before"] == {"is_workday": False, "note": "停电"}
    assert second["after"] == {"is_workday": False, "note": "停电检修"}


def test_rolled_back_override_leaves_the_cache(app):
    day = date(2024, 10, 8)
    set_calendar_day(day, False)
    assert not is_workday(day)
    db.session.rollback()
    assert is_workday(day)


def test_overrides_load_once_per_year_not_per_day(app):
    set_calendar_day(date(2024, 11, 1), False)
    db.session.commit()
    cal.clear_cache()
    with count_queries() as first:
        assert add_workdays(date(2024, 9, 30), 60) > date(2024, 12, 1)
        assert workdays_between(date(2024, 1, 1), date(2024, 12, 31)) > 200
    assert len(first) == 1, first
    with count_queries() as again:
        for i in range(365):
            is_workday(date(2024, 1, 1) + timedelta(days=i))
    assert again == []
    cal.clear_cache()
    with count_queries() as across:
        add_workdays(date(2024, 12, 20), 30)  # 2024 and 2025 in the same query
        is_workday(date(2025, 6, 3))
    assert len(across) == 1
    with count_queries() as far:
        is_workday(date(2027, 6, 3))  # a year not loaded yet: its own query
    assert len(far) == 1


# -- deadlines in local time -------------------------------------------------------------------


def test_deadlines_count_from_the_local_date(app):
    late = datetime(2024, 9, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 October in Jiawang
    assert local_date(late) == date(2024, 10, 1)
    assert local_date(datetime(2024, 9, 30, 15, 59, tzinfo=UTC)) == date(2024, 9, 30)
    # Registered on Sunday 9/29 (a worked day) at 23:00 local vs 01:00 local on Monday.
    assert deadline_for(datetime(2024, 9, 29, 15, 0, tzinfo=UTC), 1) == date(2024, 9, 30)
    assert deadline_for(datetime(2024, 9, 29, 17, 0, tzinfo=UTC), 1) == date(2024, 10, 8)
    # Naive datetimes (as SQLite returns them) are UTC.
    assert deadline_for(datetime(2024, 9, 29, 17, 0), 1) == date(2024, 10, 8)
    assert deadline_for(date(2024, 9, 29), 1) == date(2024, 9, 30)
    assert deadline_for(late, 15) == add_workdays(date(2024, 10, 1), 15)


def test_latest_extension_request(app):
    assert latest_extension_request(date(2024, 10, 8)) == date(2024, 9, 30)
    update_settings(extension_min_days_before=2)
    assert latest_extension_request(date(2024, 10, 8)) == date(2024, 9, 29)


# -- time left, with the clock moved -----------------------------------------------------------

DEADLINE = date(2024, 10, 10)  # a Thursday


@pytest.mark.parametrize(
    ("now", "left", "state", "label", "soon"),
    [
        (at_local(2024, 10, 1, 9, 0), 3, "ok", "剩余 3 个工作日", False),  # holiday week: 8, 9, 10
        (at_local(2024, 10, 8, 9, 0), 2, "soon", "剩余 2 个工作日", True),
        (at_local(2024, 10, 9, 23, 59), 1, "soon", "剩余 1 个工作日", True),
        (at_local(2024, 10, 10, 0, 1), 0, "today", "今天到期", True),
        (at_local(2024, 10, 10, 23, 59), 0, "today", "今天到期", True),
    ],
)
def test_time_left_before_the_deadline(app, now, left, state, label, soon):
    with time_machine.travel(now, tick=False):
        tl = time_left(DEADLINE)
    assert (tl.workdays_left, tl.state, tl.label, tl.is_due_soon) == (left, state, label, soon)
    assert not tl.is_overdue and tl.overdue_workdays == 0 and not tl.needs_reminder


def test_time_left_counts_in_local_time(app):
    # 16:30 UTC on 9 October is 00:30 on 10 October in Jiawang: due today, not tomorrow.
    with time_machine.travel(datetime(2024, 10, 9, 16, 30, tzinfo=UTC), tick=False):
        assert time_left(DEADLINE).label == "今天到期"
    with time_machine.travel(datetime(2024, 10, 10, 16, 30, tzinfo=UTC), tick=False):
        assert time_left(DEADLINE).is_overdue


def test_time_left_when_overdue(app):
    # Fri 10/11 and Sat 10/12 (worked) and Mon 10/14: three workdays overdue.
    with time_machine.travel(at_local(2024, 10, 14, 10, 0), tick=False):
        tl = time_left(DEADLINE)
    assert tl.is_overdue and not tl.is_due_soon and tl.state == "overdue"
    assert (tl.overdue_workdays, tl.workdays_left, tl.label) == (3, -3, "已超期 3 个工作日")
    assert tl.needs_reminder and not tl.needs_notice
    # Reminder the workday after the deadline; written notice after 5 workdays overdue.
    assert time_left(DEADLINE, at_local(2024, 10, 11, 8, 0)).needs_reminder
    assert not time_left(DEADLINE, at_local(2024, 10, 15, 8, 0)).needs_notice  # 4
    assert time_left(DEADLINE, at_local(2024, 10, 16, 8, 0)).needs_notice  # 5


def test_overdue_over_days_off_only(app):
    # Due Monday 9/30; on 10/3 (holiday) it is late, but no workday has passed yet.
    tl = time_left(date(2024, 9, 30), at_local(2024, 10, 3, 12, 0))
    assert tl.is_overdue and tl.overdue_workdays == 0 and tl.label == "已超期"
    assert not tl.needs_reminder
    assert time_left(date(2024, 9, 30), at_local(2024, 10, 8, 12, 0)).needs_reminder


def test_deadline_on_a_day_off_with_no_workday_before_it(app):
    tl = time_left(date(2024, 10, 5), at_local(2024, 10, 3, 12, 0))
    assert (tl.workdays_left, tl.state, tl.label, tl.is_due_soon) == (0, "soon", "10月5日到期", True)


def test_due_soon_follows_the_settings(app):
    now = at_local(2024, 10, 1, 9, 0)  # 3 workdays left
    assert not time_left(DEADLINE, now).is_due_soon
    update_settings(due_soon_days=3)
    assert time_left(DEADLINE, now).is_due_soon
    assert time_left(DEADLINE, now, due_soon_days=1).state == "ok"
