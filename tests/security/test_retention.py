"""Retention: residents' personal data is anonymised a set time after the campaign closes
(ended problems only, audited); the audit log is never deleted by the app."""

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from tests.conftest import travel_to
from tests.handling import factories as hf
from webapp.cases.models import Problem
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db
from webapp.core.settings import update_settings
from webapp.visits.retention import ANONYMOUS

DEADLINE = date(2026, 9, 29)  # never the yearly default (30 September), so it is stored


def close_campaign_on(day: date) -> None:
    update_settings(campaign_deadline=day)
    db.session.commit()


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_purge_anonymises_ended_problems_after_the_campaign(app, runner_factory):
    done = hf.closed()
    open_one = hf.in_progress()
    db.session.commit()
    done_id, open_id = done.id, open_one.id
    open_before = (open_one.resident_name, open_one.resident_phone, open_one.resident_id_number)
    version_before = done.version
    deadline = DEADLINE
    with travel_to(deadline + timedelta(days=400)):
        unset = runner_factory().invoke(args=["residents", "purge", "--after-days", "180"])
    assert unset.exit_code != 0 and "has not saved the campaign deadline" in unset.output
    close_campaign_on(deadline)

    with travel_to(deadline + timedelta(days=30)):
        early = runner_factory().invoke(args=["residents", "purge", "--after-days", "180"])
    assert early.exit_code != 0 and "possible from" in early.output
    db.session.expire_all()
    assert db.session.get(Problem, done_id).resident_name != ANONYMOUS

    events_before = audit_count()
    with travel_to(deadline + timedelta(days=181)):
        result = runner_factory().invoke(args=["residents", "purge", "--after-days", "180"])
        assert result.exit_code == 0, result.output
        again = runner_factory().invoke(args=["residents", "purge", "--after-days", "180"])
        assert "of 0 ended problems" in again.output
    db.session.expire_all()
    p = db.session.get(Problem, done_id)
    assert (p.resident_name, p.resident_phone, p.resident_id_number, p.household_name, p.address) == \
        (ANONYMOUS, "", None, "", "")
    assert p.version == version_before + 1  # an open form on it is told it is stale
    assert p.title and p.description  # the problem itself stays, for the figures
    q = db.session.get(Problem, open_id)
    assert (q.resident_name, q.resident_phone, q.resident_id_number) == open_before  # a reply is still owed
    # The purge is audited (counts only), and nothing was taken out of the audit log.
    [ev] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "residents.purged")).all()
    assert json.loads(ev.detail)["problems"] >= 1 and "resident" not in ev.detail
    assert audit_count() == events_before + 1
    assert verify_chain().ok


def test_dry_run_changes_nothing(app, runner_factory):
    done = hf.closed()
    close_campaign_on(DEADLINE)
    with travel_to(DEADLINE + timedelta(days=200)):
        result = runner_factory().invoke(args=["residents", "purge", "--after-days", "180", "--dry-run"])
    assert result.exit_code == 0 and "would anonymise" in result.output
    db.session.expire_all()
    assert db.session.get(Problem, done.id).resident_name != ANONYMOUS
