"""Retention of residents' personal data: anonymised a set time after the campaign closes.

Once the campaign deadline the office saved (活动截止日期 in its settings; the purge refuses to
guess it from the yearly default) lies ``after_days`` days in the past, the problems that have ended (办结, 不予受理, 合并, 暂难解决) keep their content, place, unit,
dates and figures, but lose who raised them: the resident's name, phone, ID number, household
name and address, and the household name of the visits they came from. Problems still open keep
their contact data: someone still owes the resident a reply. The purge is one audited event
(``residents.purged``, counts only); the audit log itself is never deleted by the app (the
database refuses it) and keeps its entries for good, so at least the 180 days a level-3
assessment asks for.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update

from ..cases.models import Problem
from ..cases.workflow import ENDED
from ..core import audit
from ..core.extensions import db
from ..core.settings import CampaignSettings
from .models import Visit

ANONYMOUS = "（已匿名）"


class TooEarly(Exception):
    """The campaign has not been closed long enough; ``args[0]`` is the first day allowed."""


class NoDeadline(Exception):
    """The office has not saved the campaign deadline, so nothing says the campaign closed."""


@dataclass
class PurgeResult:
    problems: int
    visits: int
    deadline: date
    allowed_from: date


def purge(after_days: int, today: date, *, dry_run: bool = False) -> PurgeResult:
    """Anonymise the residents of the ended problems (and their visits); the caller commits."""
    stored = db.session.get(CampaignSettings, 1)
    if stored is None or stored.campaign_deadline is None:
        raise NoDeadline()
    deadline = stored.campaign_deadline
    allowed_from = deadline + timedelta(days=after_days + 1)
    if today < allowed_from:
        raise TooEarly(allowed_from)
    ids = db.session.scalars(
        select(Problem.id).where(Problem.status.in_(ENDED), Problem.resident_name != ANONYMOUS)
    ).all()
    visit_ids = sorted({v for v in db.session.scalars(
        select(Problem.visit_id).where(Problem.id.in_(ids), Problem.visit_id.is_not(None))).all()}) if ids else []
    result = PurgeResult(len(ids), len(visit_ids), deadline, allowed_from)
    if dry_run or not ids:
        return result
    for chunk in range(0, len(ids), 500):
        db.session.execute(
            update(Problem).where(Problem.id.in_(ids[chunk:chunk + 500])).values(
                resident_name=ANONYMOUS, resident_phone="", resident_id_number=None, household_name="",
                address="", resident_phone_index=None, resident_id_index=None, version=Problem.version + 1,
            ).execution_options(synchronize_session=False)
        )
    for chunk in range(0, len(visit_ids), 500):
        db.session.execute(
            update(Visit).where(Visit.id.in_(visit_ids[chunk:chunk + 500])).values(household_name=ANONYMOUS)
            .execution_options(synchronize_session=False)
        )
    audit.record("residents.purged", object_type="problem", detail={
        "problems": result.problems, "visits": result.visits, "after_days": after_days,
        "campaign_deadline": deadline.isoformat(),
    })
    return result
