"""Each role's home page: its counts, each a link to the list behind it; the next things to do
by deadline; an empty state that says what comes next."""

import re

from tests.cases import factories as f
from tests.conftest import travel_to
from webapp.core.calendar import add_workdays


def _counts(html: str) -> dict[str, tuple[int, str]]:
    return {key: (int(n), href) for href, key, n in re.findall(
        r'<a class="home-count[^"]*" href="([^"]+)" data-count="([a-z_]+)"><span class="n">(\d+)</span>', html)}


def test_unit_handler_sees_to_sign_and_late_sign_for_linking_to_the_queue(app, login_as):
    problem = f.assigned_to_town()
    with travel_to(add_workdays(problem.sign_for_deadline, 1)):
        town = login_as("town")
        html = town.get("/").get_data(as_text=True)
        counts = _counts(html)
        assert counts["to_sign"][0] >= 1 and counts["to_sign"][1] == "/cases?tab=to_sign"
        assert counts["late_sign_for"][0] >= 1
        assert "unread" in counts
        # The number behind the link is the queue's own count for that tab.
        queue = town.get(counts["to_sign"][1]).get_data(as_text=True)
        assert problem.number in queue
        # The next thing to do: sign for it (its limit has passed: shown first, in red).
        todo = html.split('id="todo-h"')[1]
        assert problem.number in todo and "签收" in todo


def test_group_lead_and_office_counts(app, login_as):
    assert {"to_triage", "to_verify", "overdue"} <= set(_counts(login_as("grouplead").get("/").get_data(as_text=True)))
    office = _counts(login_as("office").get("/").get_data(as_text=True))
    assert {"to_verify", "owes_reply", "overdue", "late_sign_for", "failed"} <= set(office)
    assert office["failed"][1] == "/notifications/outbox?tab=failed"


def test_admins_see_no_casework_counts(app, login_as):
    counts = _counts(login_as("sysadmin").get("/").get_data(as_text=True))
    assert set(counts) == {"unread"}
