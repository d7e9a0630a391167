"""Password reset by one-time code: the system admin never holds a working password, the code
is single-use and expires after 24 hours, the owner is told, and a password change ends the
user's other sessions."""

import json
from datetime import timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import Browser
from webapp.accounts.models import User, UserSession
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

NEW = "Pan#Anhu2026x"


def user(name):
    db.session.commit()
    return db.session.scalar(select(User).where(User.username == name))


def events(name):
    db.session.commit()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.seq)).all()


def issue(login_as, name):
    admin = login_as("sysadmin")
    target = user(name)
    admin.get(f"/admin/users/{target.id}/edit")
    resp = admin.post(f"/admin/users/{target.id}/reset-password", {"version": str(target.version)})
    html = resp.get_data(as_text=True)
    return html.split('<code class="secret">', 1)[1].split("<", 1)[0]


def redeem(app, name, code, password=NEW):
    b = Browser(app.test_client())
    b.get("/login/reset")
    return b.post("/login/reset", {"username": name, "code": code, "new": password, "confirm": password})


def test_the_code_is_no_password_and_is_stored_hashed(app, login_as):
    code = issue(login_as, "town")
    assert len(code) == 19 and code.count("-") == 3
    u = user("town")
    assert code not in (u.reset_code_hash or "") and u.reset_code_hash.startswith("$argon2")
    assert Browser(app.test_client()).login("town", code).status_code == 200  # not a password
    assert Browser(app.test_client()).login("town").status_code == 302  # the old one still works
    [ev] = events("user.reset_code_issued")
    assert code not in ev.detail and json.loads(ev.detail)["via"] == "web"


def test_the_code_works_once(app, login_as):
    code = issue(login_as, "town")
    assert redeem(app, "town", code.lower().replace("-", " ")).status_code == 302  # typed loosely
    assert Browser(app.test_client()).login("town", NEW).status_code == 302
    again = redeem(app, "town", code, "Other#Pass2026")
    assert again.status_code == 200 and "重置码已使用" in again.get_data(as_text=True)
    assert Browser(app.test_client()).login("town", NEW).status_code == 302
    assert len(events("user.password_reset_used")) == 1 and len(events("user.reset_code_refused")) == 1


def test_the_code_expires_after_24_hours(app, login_as):
    code = issue(login_as, "town")
    with time_machine.travel(clock.now() + timedelta(hours=24, minutes=1), tick=False):
        resp = redeem(app, "town", code)
    assert resp.status_code == 200 and "已过期" in resp.get_data(as_text=True)
    assert Browser(app.test_client()).login("town", NEW).status_code == 200


def test_a_wrong_code_or_user_is_refused_and_a_weak_password_keeps_the_code(app, login_as):
    code = issue(login_as, "town")
    assert "重置码不正确" in redeem(app, "dept", code).get_data(as_text=True)  # someone else's code
    assert "重置码不正确" in redeem(app, "nobody", code).get_data(as_text=True)
    weak = redeem(app, "town", code, "short")
    assert weak.status_code == 200 and "密码至少需要" in weak.get_data(as_text=True)
    assert 'value="town"' in weak.get_data(as_text=True)  # the input is kept
    assert redeem(app, "town", code).status_code == 302  # the code was not spent


def test_the_owner_is_told_at_the_next_login(app, login_as):
    issue(login_as, "town")
    b = Browser(app.test_client())
    b.get("/login")
    resp = b.post("/login", {"username": "town", "password": "Huiyin@2026"})
    page = b.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "为您的账号签发一次性密码重置码" in page
    b2 = Browser(app.test_client())
    b2.login("town")
    assert "签发一次性密码重置码" not in b2.client.get("/").get_data(as_text=True)  # told once


def test_a_password_change_ends_the_other_sessions(app, login_as):
    phone = login_as("town")
    desk = login_as("town")
    assert phone.get("/").status_code == 200 and desk.get("/").status_code == 200
    desk.get("/account/password")
    resp = desk.post("/account/password", {"current": "Huiyin@2026", "new": NEW, "confirm": NEW})
    assert resp.status_code == 302
    assert desk.get("/").status_code == 200  # this session goes on
    gone = phone.get("/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert "账号密码已修改" in phone.get("/login").get_data(as_text=True)
    u = user("town")
    assert u.session_epoch == 1
    open_rows = db.session.scalars(
        select(UserSession).where(UserSession.user_id == u.id, UserSession.ended_at.is_(None))).all()
    assert len(open_rows) == 1 and open_rows[0].epoch == 1


def test_a_session_from_an_older_epoch_ends_even_if_its_row_was_left_open(app, login_as):
    b = login_as("town")
    u = user("town")
    u.session_epoch += 1  # as after a password change in another process
    db.session.commit()
    assert b.get("/").status_code == 302


def test_using_the_code_ends_every_session(app, login_as):
    b = login_as("town")
    code = issue(login_as, "town")
    assert b.get("/").status_code == 200
    assert redeem(app, "town", code).status_code == 302
    assert b.get("/").status_code == 302
