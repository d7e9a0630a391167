"""Every date a form accepts is bounded: campaign years, and deadlines within a few years of today."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.cases.triage_pages import form_values, fresh, text
from tests.handling import factories as hf
from webapp.core import clock
from webapp.core.extensions import db
from webapp.core.forms import DEADLINE_YEARS, EARLIEST, LATEST, date_error
from webapp.handling.models import Extension


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31), date(2101, 1, 1), date(9999, 12, 31)])
def test_dates_outside_the_campaign_years_are_refused(day):
    assert "2000-01-01" in date_error(day)


def test_dates_inside_the_campaign_years_pass():
    assert date_error(EARLIEST) is None and date_error(LATEST) is None


def test_a_deadline_far_ahead_is_refused_relative_to_today(on_date):
    today = clock.today()
    assert date_error(today + timedelta(days=365 * DEADLINE_YEARS - 10), ahead_years=DEADLINE_YEARS) is None
    message = date_error(today + timedelta(days=365 * DEADLINE_YEARS + 10), ahead_years=DEADLINE_YEARS)
    assert message and f"{DEADLINE_YEARS} 年内" in message


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2099-01-01"])
def test_an_extension_to_a_far_date_is_refused_with_the_input_kept(login_as, value):
    p = hf.in_progress()
    town = login_as("town")
    page = text(town.get(f"/cases/{p.id}/extension"))
    data = {**form_values(page, f"/cases/{p.id}/extension"), "new_deadline": value,
            "reason": "需等待区财政拨付维修资金。", "progress": "已完成勘察。"}
    resp = town.post(f"/cases/{p.id}/extension", data)
    body = resp.get_data(as_text=True)
    assert resp.status_code in (200, 422)
    assert "年内" in body or "2000-01-01" in body
    assert "需等待区财政拨付维修资金。" in body
    assert db.session.scalar(select(Extension).where(Extension.problem_id == p.id)) is None
    assert fresh(p).deadline == p.deadline


def test_the_audit_filter_refuses_year_one_without_a_server_error(login_as):
    resp = login_as("auditor").get("/audit/?date_from=0001-01-01&date_to=9999-12-31")
    assert resp.status_code < 500
    assert "2000-01-01" in resp.get_data(as_text=True)
