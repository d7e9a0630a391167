"""Login, lockout, sessions and timeouts, with the clock moved by time-machine."""

from datetime import timedelta

import time_machine
from sqlalchemy import select

from webapp.accounts.models import User, UserSession
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

GENERIC = "用户名或密码错误，或账号暂时被锁定。"


def events(name):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def test_login_and_logout_end_the_server_side_session(web):
    resp = web.login("town")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = web.get("/")
    assert "潘安湖街道" in home.get_data(as_text=True)
    cookie = web.client.get_cookie("huiyin_session").value
    assert web.logout().status_code == 302
    # Replaying the old cookie after logout must not log anyone in.
    web.client.set_cookie("huiyin_session", cookie)
    assert web.client.get("/").status_code == 302
    row = db.session.scalars(select(UserSession)).one()
    assert row.ended_reason == "logout"
    assert [e.event for e in events("login.success")] == ["login.success"]
    assert len(events("logout")) == 1


def test_unknown_user_and_wrong_password_get_the_same_answer(web):
    a = web.post("/login", {"username": "nobody", "password": "whatever1A!"})
    b = web.post("/login", {"username": "town", "password": "wrong-password"})
    assert a.status_code == b.status_code == 200
    assert GENERIC in a.get_data(as_text=True) and GENERIC in b.get_data(as_text=True)
    assert len(events("login.failure")) == 2


def test_five_failures_slow_that_address_down_without_locking_the_owner_out(web, app):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for _ in range(5):
            web.post("/login", {"username": "town", "password": "wrong"})
        user = db.session.scalar(select(User).where(User.username == "town"))
        db.session.refresh(user)
        assert user.locked_until is None  # no lock an outsider could set
        # From the guessing address the right password must wait (15 s after the fifth failure).
        resp = web.post("/login", {"username": "town", "password": "Huiyin@2026"})
        assert resp.status_code == 429 and "请 15 秒后再试" in resp.get_data(as_text=True)
        # The owner, from another address, gets in at once.
        from tests.conftest import Browser

        owner = Browser(app.test_client())
        owner.get("/login")
        resp = owner.post("/login", {"username": "town", "password": "Huiyin@2026"},
                          environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert resp.status_code == 302
        traveller.shift(timedelta(seconds=16))
        assert web.login("town").status_code == 302


def test_idle_timeout_after_thirty_minutes(login_as):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        b = login_as("office")
        traveller.shift(timedelta(minutes=29))
        assert b.get("/").status_code == 200
        traveller.shift(timedelta(minutes=29))  # activity above moved last_seen
        assert b.get("/").status_code == 200
        traveller.shift(timedelta(minutes=31))
        resp = b.get("/")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
        assert "会话已超时" in b.get("/login").get_data(as_text=True)
    assert db.session.scalars(select(UserSession)).one().ended_reason == "idle"


def test_absolute_timeout_after_twelve_hours_even_when_active(login_as):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        b = login_as("office")
        for _ in range(24):  # active every 25 minutes for 10 hours
            traveller.shift(timedelta(minutes=25))
            assert b.get("/").status_code == 200
        traveller.shift(timedelta(hours=2, minutes=1))
        assert b.get("/").status_code == 302
    assert db.session.scalars(select(UserSession)).one().ended_reason == "absolute"


def test_a_new_session_at_each_login(app):
    from tests.conftest import Browser

    b = Browser(app.test_client())
    b.login("town")
    first = b.client.get_cookie("huiyin_session").value
    b.logout()
    b.login("town")
    assert b.client.get_cookie("huiyin_session").value != first
    rows = db.session.scalars(select(UserSession).order_by(UserSession.created_at)).all()
    assert len(rows) == 2 and rows[0].id != rows[1].id and rows[0].ended_at is not None


def test_next_parameter_never_leaves_the_site(web):
    web.get("/login")
    resp = web.post("/login?next=//evil.example/x", {"username": "town", "password": "Huiyin@2026"})
    assert resp.headers["Location"] == "/"


def test_a_first_visit_opens_the_login_form_without_a_warning_and_a_deep_link_says_why(app):
    c = app.test_client()
    first = c.get("/")
    assert first.status_code == 302 and first.headers["Location"].endswith("/login")
    assert "请先登录" not in c.get("/login").get_data(as_text=True)
    deep = c.get("/cases?tab=overdue")
    assert deep.status_code == 302 and "next=%2Fcases%3Ftab%3Doverdue" in deep.headers["Location"]
    assert "请先登录" in c.get(deep.headers["Location"]).get_data(as_text=True)
