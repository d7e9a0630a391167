"""Deadlines and time left, in working days, in the district's local time (Asia/Shanghai).

Timestamps are stored in UTC; deadlines are local dates. A deadline date is met by the end of
that day: a problem is overdue from the next day on. ``deadline_for`` converts an instant to its
local date first (17:00 UTC on 30 September is already 1 October in Jiawang).
"""

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext

from . import clock
from .calendar import add_workdays, workdays_between
from .settings import get_settings


def local_date(value: dt.datetime | dt.date) -> dt.date:
    """The local date of an instant (naive datetimes count as UTC); a date is returned as is."""
    if isinstance(value, dt.datetime):
        return clock.local(value).date()
    return value


def deadline_for(start: dt.datetime | dt.date, workdays: int) -> dt.date:
    """The date ``workdays`` working days after the local date of ``start`` (which does not count)."""
    return add_workdays(local_date(start), workdays)


def latest_extension_request(deadline: dt.date) -> dt.date:
    """The last day an extension may be requested (``extension_min_days_before`` workdays ahead)."""
    return add_workdays(deadline, -get_settings().extension_min_days_before)


@dataclass(frozen=True)
class TimeLeft:
    deadline: dt.date
    today: dt.date
    workdays_left: int       # workdays after today up to the deadline; negative when overdue
    overdue_workdays: int    # workdays after the deadline up to today (0 when not overdue)
    is_overdue: bool
    is_due_soon: bool        # not overdue, and at most ``due_soon_days`` workdays left
    needs_reminder: bool     # 催办: overdue by at least ``remind_after_days`` workdays
    needs_notice: bool       # 通报: overdue by at least ``notice_after_overdue_days`` workdays
    state: str               # "overdue" | "today" | "soon" | "ok" (for CSS classes)
    label: str               # "剩余 3 个工作日" / "今天到期" / "已超期 2 个工作日"


def time_left(
    deadline: dt.date, now: dt.datetime | None = None, *, due_soon_days: int | None = None
) -> TimeLeft:
    """How much time a deadline leaves at ``now`` (default: the clock), in working days."""
    settings = get_settings()
    if due_soon_days is None:
        due_soon_days = settings.due_soon_days
    today = local_date(now if now is not None else clock.now())
    if today > deadline:
        overdue = workdays_between(deadline, today)
        return TimeLeft(
            deadline=deadline, today=today, workdays_left=-overdue, overdue_workdays=overdue,
            is_overdue=True, is_due_soon=False,
            needs_reminder=overdue >= settings.remind_after_days,
            needs_notice=overdue >= settings.notice_after_overdue_days,
            state="overdue",
            label=ngettext("已超期 %(num)d 个工作日", "已超期 %(num)d 个工作日", overdue)
            if overdue else _("已超期"),
        )
    left = workdays_between(today, deadline)
    if today == deadline:
        state, label = "today", _("今天到期")
    elif left == 0:
        # The deadline falls on a day off with no workday before it: due by that date.
        state, label = "soon", _("%(month)d月%(day)d日到期", month=deadline.month, day=deadline.day)
    else:
        state = "soon" if left <= due_soon_days else "ok"
        label = ngettext("剩余 %(num)d 个工作日", "剩余 %(num)d 个工作日", left)
    return TimeLeft(
        deadline=deadline, today=today, workdays_left=left, overdue_workdays=0,
        is_overdue=False, is_due_soon=left <= due_soon_days,
        needs_reminder=False, needs_notice=False, state=state, label=label,
    )
