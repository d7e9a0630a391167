"""The password policy and forced changes."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from webapp.accounts.models import SecurityPolicy, User, current_policy
from webapp.accounts.passwords import hash_password, policy_errors
from webapp.core import clock
from webapp.core.extensions import db


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Short1!", False),  # too short
        ("alllowercaseletters", False),  # one class
        ("lowercase123456", False),  # two classes
        ("Lowercase123456", True),  # three classes
        ("lower-case-12345", True),  # lower, digit, symbol
        ("Zhangwei-2026x", True),
        ("my-town-Pass99", False),  # contains the username "town"
    ],
)
def test_default_policy(app, password, ok):
    errors = policy_errors(password, "town", SecurityPolicy(min_length=10, min_classes=3, forbid_username=True))
    assert (errors == []) is ok, errors


def test_policy_is_read_from_the_database(app):
    policy = db.session.get(SecurityPolicy, 1)
    policy.min_length = 14
    db.session.commit()
    assert current_policy().min_length == 14
    assert policy_errors("Abcdef-12345", "x", current_policy())  # 12 < 14


def _make_user(username="newclerk", must_change=True):
    office = db.session.scalar(select(User).where(User.username == "office")).unit
    from webapp.accounts.roles import Role

    user = User(username=username, full_name="新用户", unit=office, role=Role.office,
                password_hash=hash_password("Initial-Pass-1"), must_change_password=must_change,
                password_changed_at=clock.now())
    db.session.add(user)
    db.session.commit()
    return user


def test_first_login_forces_a_password_change(web):
    _make_user()
    web.login("newclerk", "Initial-Pass-1")
    resp = web.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password")
    # A rule-breaking password re-renders with the field's messages.
    resp = web.post("/account/password", {"current": "Initial-Pass-1", "new": "weakpassword", "confirm": "weakpassword"})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "至少 3 类" in text.replace("%(n)s", "3")
    resp = web.post("/account/password", {"current": "Initial-Pass-1", "new": "Better-Pass-2026", "confirm": "Better-Pass-2026"})
    assert resp.status_code == 302
    assert web.get("/").status_code == 200
    web.logout()
    assert web.login("newclerk", "Better-Pass-2026").status_code == 302


def test_password_expires_after_ninety_days(web):
    _make_user(must_change=False)
    with time_machine.travel(clock.now() + timedelta(days=91), tick=False):
        web.login("newclerk", "Initial-Pass-1")
        resp = web.get("/")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/password")


def test_demo_accounts_are_not_forced_to_change(web):
    with time_machine.travel(clock.now() + timedelta(days=200), tick=False):
        web.login("cadre")
        assert web.get("/").status_code == 200


def test_passwords_are_stored_as_argon2id(app):
    user = db.session.scalar(select(User).where(User.username == "cadre"))
    assert user.password_hash.startswith("$argon2id$")
