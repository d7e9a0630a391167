"""Lockout as a weapon: failing someone's password only slows the guesser down, never locks
the owner out; bursts reach the security admin."""

import datetime as dt
from datetime import timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORD, Browser
from webapp.accounts.models import User
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db


def attempt(client, username, password, address="203.0.113.9"):
    b = Browser(client)
    b.get("/login")
    return b.post("/login", {"username": username, "password": password}, environ_base={"REMOTE_ADDR": address})


def bursts():
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == "login.burst")).all()


def test_an_outsider_cannot_lock_an_admin_out(app):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        attacker = app.test_client()
        for _ in range(12):
            attempt(attacker, "secadmin", "guess")
            traveller.shift(timedelta(minutes=16))  # waits out every delay: a patient attacker
        admin = db.session.scalar(select(User).where(User.username == "secadmin"))
        db.session.refresh(admin)
        assert admin.locked_until is None
        resp = attempt(app.test_client(), "secadmin", DEMO_PASSWORD, address="10.0.0.7")
        assert resp.status_code == 302


def test_delays_grow_for_the_guessing_address(app):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        c = app.test_client()
        for _ in range(5):
            assert attempt(c, "town", "wrong").status_code == 200
        resp = attempt(c, "town", DEMO_PASSWORD)
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "15"
        traveller.shift(timedelta(seconds=16))
        assert attempt(c, "town", "wrong").status_code == 200  # sixth failure
        resp = attempt(c, "town", DEMO_PASSWORD)
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "30"
        traveller.shift(timedelta(seconds=31))
        assert attempt(c, "town", DEMO_PASSWORD).status_code == 302


def test_unknown_accounts_are_throttled_alike(app):
    with time_machine.travel(clock.now(), tick=False):
        c = app.test_client()
        for name in ("town", "nobody-here"):
            for _ in range(5):
                attempt(c, name, "wrong")
            resp = attempt(c, name, "wrong")
            assert resp.status_code == 429 and "请 15 秒后再试" in resp.get_data(as_text=True)


def test_many_addresses_slow_the_account_to_a_minute_at_most_and_alert(app, login_as):
    with time_machine.travel(clock.now(), tick=False):
        c = app.test_client()
        for i in range(50):
            attempt(c, "office", "wrong", address=f"198.51.100.{i}")
        resp = attempt(c, "office", DEMO_PASSWORD, address="10.9.9.9")
        assert resp.status_code == 429 and int(resp.headers["Retry-After"]) <= 60
        kinds = sorted(e.detail for e in bursts())
        assert any('"kind": "account"' in d for d in kinds)
        page = login_as("secadmin").get("/admin/security/roles").get_data(as_text=True)
        assert "近24小时的集中登录失败" in page and "office" in page


def test_one_address_is_rate_limited_whatever_the_account(app):
    app.config["LOGIN_RATE_LIMIT"] = "5 per minute"
    c = app.test_client()
    codes = [attempt(c, f"user{i}", "wrong", address="192.0.2.1").status_code for i in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    assert attempt(c, "town", DEMO_PASSWORD, address="192.0.2.2").status_code == 302


def test_tries_straddling_the_end_of_a_window_still_count_together(app):
    # One try, four more just before the minute is out, then two after it: a fixed window would
    # start a fresh count at the minute and let a guesser try ten times in a few seconds.
    app.config["LOGIN_RATE_LIMIT"] = "5 per minute"
    c = app.test_client()
    start = dt.datetime(2026, 3, 2, 10, 0, 0, tzinfo=dt.UTC)

    def tries(n):
        return [attempt(c, f"straddle{i}", "wrong", address="192.0.2.9").status_code for i in range(n)]

    with time_machine.travel(start, tick=False) as t:
        codes = tries(1)
        t.move_to(start + dt.timedelta(seconds=58))
        codes += tries(4)
        t.move_to(start + dt.timedelta(seconds=61))
        codes += tries(2)
    assert codes == [200] * 6 + [429]
