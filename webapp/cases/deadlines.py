"""The problem's deadlines, from the office's time limits (core.settings) on the working-day calendar."""

from datetime import date, datetime

from ..core import calendar, clock
from ..core.deadlines import deadline_for
from ..core.settings import get_settings
from .models import Problem
from .workflow import Tier


def tier_workdays(tier: Tier, requested: int | None = None) -> int:
    """The handling time limit of a tier, in working days (难事联办: requested, capped)."""
    s = get_settings()
    if tier == Tier.immediate:
        return s.tier_immediate_days
    if tier == Tier.quick:
        return s.tier_quick_days
    if requested:
        return max(1, min(int(requested), s.tier_joint_max_days))
    return s.tier_joint_max_days


def handling_deadline(start: datetime, tier: Tier, requested: int | None = None) -> date:
    return deadline_for(start, tier_workdays(tier, requested))


def sign_for_deadline(start: datetime) -> date:
    return deadline_for(start, get_settings().sign_for_days)


def due_soon_cutoff(today: date) -> date:
    """The last deadline that counts as 即将到期 today."""
    return calendar.add_workdays(today, get_settings().due_soon_days)


def reply_deadline(start: datetime) -> date:
    return deadline_for(start, get_settings().reply_after_signoff_days)


def owe_reply(problem: Problem, now: datetime | None = None) -> None:
    """The problem has ended (or is signed off): the resident is owed a reply from now on."""
    problem.reply_due = reply_deadline(now or clock.now())
    problem.replied_at = None


def return_deadline(problem: Problem) -> date | None:
    """The last day the unit may return the problem without the office's consent."""
    if problem.assigned_at is None:
        return None
    return deadline_for(problem.assigned_at, get_settings().return_within_days)
