"""Deadlines and time left, in working days, in the district's local time (Asia/Shanghai).

Timestamps are stored in UTC; deadlines are local dates. A deadline date is met by the end of
that day: a problem is overdue from the next day on. ``deadline_for`` converts an instant to its
local date first (17:00 UTC on 30 September is already 1 October in Jiawang).
"""

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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


@dataclass(frozen=True)
class LimitRule:
    """One enforced time limit: what it is, who is reminded, told when late, escalated to."""

    code: str
    label: object
    limit: object
    remind: object
    overdue: object
    escalate: object


# The rules ``supervision.limits`` enforces, in the office's words (the settings page shows them).
LIMIT_RULES = [
    LimitRule("sign_for", _l("签收"), _l("交办后“签收时限”个工作日"), _l("截止当天提醒责任单位经办人"),
         _l("显示“超时未签收”，通知经办人和责任领导"), _l("再超期“通报”天数后告知交办单位")),
    LimitRule("return", _l("退回"), _l("交办后“退回时限”个工作日"), _l("—"),
         _l("逾期退回须经活动办同意"), _l("—")),
    LimitRule("handling", _l("办理"), _l("问题的办理时限"), _l("到期前“即将到期”天数提醒经办人"),
         _l("通知经办人和责任领导"), _l("按设置催办、通报")),
    LimitRule("step", _l("任务书步骤"), _l("时间表上每一步的日期"), _l("到期前提醒该步骤的责任单位"),
         _l("通知该单位经办人和责任领导"), _l("再超期“通报”天数后告知交办单位")),
    LimitRule("extension", _l("延期审批"), _l("申请时的办理时限"), _l("到期前提醒交办单位审批"),
         _l("通知交办单位负责人"), _l("—")),
    LimitRule("verification", _l("核验"), _l("领导同意销号后“核验时限”个工作日"), _l("到期前提醒交办单位"),
         _l("通知交办单位负责人"), _l("—")),
    LimitRule("reply", _l("回音"), _l("销号后“回音时限”个工作日"), _l("到期前提醒登记的走访队员"),
         _l("通知走访队员和工作组牵头负责人"), _l("—")),
]
