"""Working days by ordinal lookup: the same answers as counting day by day, in bounded steps,
and a clear refusal for dates outside the calendar's range."""

from datetime import date, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from webapp.core import calendar as cal
from webapp.core import clock
from webapp.core.calendar import (
    OutsideCalendar,
    add_workdays,
    is_workday,
    set_calendar_day,
    workdays_between,
)
from webapp.core.deadlines import time_left
from webapp.core.errors import Invalid
from webapp.core.extensions import db
from webapp.core.forms import LocalDateField


def walk_add(start: date, n: int) -> date:
    """The day-by-day count the ordinal table replaces (the reference)."""
    step = timedelta(days=1 if n > 0 else -1)
    day, left = start, abs(n)
    while left:
        day += step
        if is_workday(day):
            left -= 1
    return day


def walk_between(a: date, b: date) -> int:
    if b < a:
        return -walk_between(b - timedelta(days=1), a - timedelta(days=1))
    return sum(is_workday(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


def test_ordinals_agree_with_counting_day_by_day_around_today(app, on_date):
    today = clock.today()
    assert today == on_date
    # The office moves two days near today: one workday off, one day off worked.
    off = next(today + timedelta(days=i) for i in range(3, 20) if is_workday(today + timedelta(days=i)))
    worked = next(today - timedelta(days=i) for i in range(2, 20) if not is_workday(today - timedelta(days=i)))
    set_calendar_day(off, False, "区里调整")
    set_calendar_day(worked, True, "补班")
    db.session.commit()
    for n in (-61, -15, -3, -1, 0, 1, 2, 3, 5, 15, 40, 60):
        expected = walk_add(today, n)
        assert add_workdays(today, n) == expected, (today, n)
        assert workdays_between(today, expected) == n
    for days in (-40, -7, -1, 0, 1, 6, 13, 45, 400):
        other = today + timedelta(days=days)
        assert workdays_between(today, other) == walk_between(today, other), (today, other)
    assert not is_workday(off) and is_workday(worked)
    assert workdays_between(off - timedelta(days=1), off) == 0
    assert workdays_between(worked - timedelta(days=1), worked) == 1


def test_time_left_is_a_subtraction_on_every_edge_date(app, on_date):
    deadline = add_workdays(on_date, 3)
    left = time_left(deadline)
    assert left.workdays_left == 3 and not left.is_overdue
    before = add_workdays(on_date, -4)
    late = time_left(before)
    # Workdays after the deadline up to today (today counts when it is a workday).
    assert late.is_overdue and late.overdue_workdays == walk_between(before, on_date) == 3 + is_workday(on_date)


def test_steps_do_not_grow_with_the_distance(app, monkeypatch):
    calls = []
    real = cal._ordinal
    monkeypatch.setattr(cal, "_ordinal", lambda i, c: calls.append(i) or real(i, c))
    start = date(2026, 9, 30)
    add_workdays(start, 1)
    near = len(calls)
    calls.clear()
    far = add_workdays(start, 15_000)
    assert far.year > 2080
    assert len(calls) <= near + 2 and near < 40, (near, len(calls))
    calls.clear()
    assert workdays_between(date(2001, 1, 1), date(2098, 12, 31)) > 23_000
    assert len(calls) == 2


@pytest.mark.parametrize("call", [
    lambda: is_workday(date(1999, 12, 31)),
    lambda: is_workday(date(2100, 1, 1)),
    lambda: add_workdays(date(2099, 12, 28), 5),
    lambda: add_workdays(date(2000, 1, 5), -10),
    lambda: add_workdays(date(2026, 10, 1), 10**9),
    lambda: workdays_between(date(2026, 1, 1), date(9999, 12, 31)),
])
def test_dates_outside_the_range_are_refused_clearly(app, call):
    with pytest.raises(OutsideCalendar) as caught:
        call()
    assert isinstance(caught.value, Invalid)  # what operations answer with the form again (4xx/200)
    assert "工作日历" in str(caught.value)


def test_the_edges_of_the_range_still_count(app):
    assert add_workdays(cal.LAST_DAY - timedelta(days=10), 3) <= cal.LAST_DAY
    assert add_workdays(cal.FIRST_DAY + timedelta(days=20), -3) >= cal.FIRST_DAY


def test_a_date_field_refuses_a_year_the_calendar_does_not_know(app):
    from flask_wtf import FlaskForm

    class DayForm(FlaskForm):
        class Meta:
            csrf = False

        day = LocalDateField("day")

    with app.test_request_context():
        form = DayForm(formdata=MultiDict({"day": "9999-12-31"}))
        assert not form.validate()
        assert "2099-12-31" in form.day.errors[0]
        ok = DayForm(formdata=MultiDict({"day": "2026-10-08"}))
        assert ok.validate() and ok.day.data == date(2026, 10, 8)
