"""Campaign settings: DOMAIN §5 defaults until the office saves; every change audited."""

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine

from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.core.settings import (
    CampaignSettings,
    Settings,
    SettingsError,
    StaleSettings,
    get_settings,
    update_settings,
)


def _events():
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.event == "settings.changed").order_by(AuditEvent.seq)
    ).all()


def test_defaults_when_the_office_has_not_saved(app):
    assert db.session.get(CampaignSettings, 1) is None
    s = get_settings()
    assert (s.sign_for_days, s.return_within_days) == (1, 2)
    assert (s.tier_immediate_days, s.tier_quick_days, s.tier_joint_max_days) == (3, 15, 60)
    assert (s.tier_days("immediate"), s.tier_days("quick"), s.tier_days("joint")) == (3, 15, 60)
    assert s.extension_min_days_before == 1
    assert s.reply_after_signoff_days == 2
    assert (s.remind_after_days, s.notice_after_overdue_days) == (1, 5)
    assert s.due_soon_days == 2
    assert s.version == 0


def test_campaign_deadline_defaults_to_30_september_of_the_local_year(app):
    # 16:30 UTC on 31 December 2027 is already 1 January 2028 in Jiawang.
    with time_machine.travel(datetime(2027, 12, 31, 16, 30, tzinfo=UTC), tick=False):
        assert Settings().campaign_deadline == date(2028, 9, 30)
    with time_machine.travel(datetime(2027, 3, 1, tzinfo=UTC), tick=False):
        assert Settings().campaign_deadline == date(2027, 9, 30)


def test_update_stores_changes_and_audits_before_and_after(app):
    new = update_settings(sign_for_days=2, due_soon_days=3)
    assert (new.sign_for_days, new.due_soon_days, new.version) == (2, 3, 1)
    assert get_settings() == new
    db.session.commit()
    db.session.expire_all()
    row = db.session.get(CampaignSettings, 1)
    # The first save stores every number; the campaign deadline stays "30 September, this year".
    assert (row.sign_for_days, row.tier_quick_days, row.campaign_deadline) == (2, 15, None)
    (event,) = _events()
    assert event.object_type == "settings" and event.object_id == "1"
    assert json.loads(event.detail) == {
        "before": {"due_soon_days": 2, "sign_for_days": 1},
        "after": {"due_soon_days": 3, "sign_for_days": 2},
    }


def test_campaign_deadline_can_be_set_and_reset(app):
    update_settings(campaign_deadline=date(2026, 10, 31))
    assert get_settings().campaign_deadline == date(2026, 10, 31)
    update_settings(campaign_deadline=None)
    assert get_settings().campaign_deadline == Settings().campaign_deadline
    update_settings(campaign_deadline=None)  # already the default: nothing to record
    first, second = _events()
    assert json.loads(second.detail) == {
        "before": {"campaign_deadline": "2026-10-31"}, "after": {"campaign_deadline": None},
    }


def test_no_change_no_event(app):
    update_settings(sign_for_days=1)  # the default: nothing to save
    assert db.session.get(CampaignSettings, 1) is None
    update_settings(sign_for_days=2)
    update_settings(sign_for_days=2)
    assert len(_events()) == 1


def test_stale_version_is_refused(app):
    assert update_settings(expected_version=0, remind_after_days=2).version == 1
    assert update_settings(expected_version=1, remind_after_days=3).version == 2
    with pytest.raises(StaleSettings):
        update_settings(expected_version=1, remind_after_days=4)
    assert get_settings().remind_after_days == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sign_for_days": 0}, "sign_for_days"),
        ({"tier_joint_max_days": 366}, "tier_joint_max_days"),
        ({"due_soon_days": -1}, "due_soon_days"),
        ({"return_within_days": "2"}, "return_within_days"),
        ({"return_within_days": True}, "return_within_days"),
        ({"campaign_deadline": "2026-09-30"}, "campaign_deadline"),
        ({"campaign_deadline": datetime(2026, 9, 30, tzinfo=UTC)}, "campaign_deadline"),
        ({"tier_quick_days": 2}, "tier_quick_days"),  # shorter than 好事即办 (3)
        ({"tier_joint_max_days": 10}, "tier_joint_max_days"),  # shorter than 实事快办 (15)
        ({"notice_after_overdue_days": 1, "remind_after_days": 2}, "notice_after_overdue_days"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_invalid_values_are_refused_with_a_message_per_field(app, changes, field):
    with pytest.raises(SettingsError) as exc:
        update_settings(**changes)
    assert field in exc.value.errors and exc.value.errors[field]
    assert db.session.get(CampaignSettings, 1) is None and _events() == []


def test_zero_is_allowed_where_it_means_something(app):
    s = update_settings(due_soon_days=0, extension_min_days_before=0, remind_after_days=0)
    assert (s.due_soon_days, s.extension_min_days_before, s.remind_after_days) == (0, 0, 0)
