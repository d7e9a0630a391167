"""TOTP two-factor login: required for the three admins and for the roles the security admin
names, optional for the rest; enrolment with a QR code and ten one-time recovery codes; a code
is never accepted twice; reset only by the security admin, audited."""

import re

import pyotp
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORD, Browser
from webapp.accounts.models import RecoveryCode, User
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.demo.org import DEMO_TOTP_SECRET


def user(name) -> User:
    db.session.commit()
    return db.session.scalar(select(User).where(User.username == name))


def events(name):
    db.session.commit()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def password_step(app, name, password=DEMO_PASSWORD):
    b = Browser(app.test_client())
    b.get("/login")
    return b, b.post("/login", {"username": name, "password": password})


def code_step(b, code):
    b.get("/login/totp")
    return b.post("/login/totp", {"code": code})


def enrol(b) -> tuple[str, list[str]]:
    """Enrol like a person: read the secret off the page, type the app's code, keep the codes."""
    page = b.get("/account/totp").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    secret = re.search(r'<code class="secret">([A-Z2-7]{32})</code>', page).group(1)
    resp = b.post("/account/totp", {"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    codes = re.findall(r'<code class="secret">([a-z0-9]{5}-[a-z0-9]{5})</code>', resp.get_data(as_text=True))
    return secret, codes


def test_an_admin_needs_the_code_after_the_password(app):
    b, resp = password_step(app, "auditor")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp")
    assert b.client.get("/audit/").status_code == 302  # not logged in yet
    wrong = code_step(b, "000000" if pyotp.TOTP(DEMO_TOTP_SECRET).now() != "000000" else "111111")
    assert wrong.status_code == 200 and "验证码不正确" in wrong.get_data(as_text=True)
    assert [e for e in events("login.failure") if '"totp"' in (e.detail or "")]
    ok = code_step(b, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    assert ok.status_code == 302
    assert b.client.get("/audit/").status_code == 200


def test_a_code_is_accepted_once(app):
    code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
    b1, _r = password_step(app, "auditor")
    assert code_step(b1, code).status_code == 302
    b2, _r = password_step(app, "auditor")
    again = code_step(b2, code)
    assert again.status_code == 200 and b2.client.get("/audit/").status_code == 302
    assert [e for e in events("login.failure") if "totp_replayed" in (e.detail or "")]


def test_the_second_step_expires_and_needs_the_password_first(app):
    b = Browser(app.test_client())
    resp = code_step(b, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")


def test_optional_enrolment_with_recovery_codes_used_once(app, login_as):
    b = login_as("town")
    secret, codes = enrol(b)
    assert len(codes) == 10 and len(set(codes)) == 10
    u = user("town")
    assert u.totp_secret == secret
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == u.id)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)
    assert len(events("user.totp_enrolled")) == 1
    # From now on the password alone is not enough.
    b2, resp = password_step(app, "town")
    assert resp.headers["Location"].endswith("/login/totp")
    assert code_step(b2, codes[0].upper()).status_code == 302  # a recovery code, typed loosely
    assert b2.client.get("/").status_code == 200
    b3, _r = password_step(app, "town")
    assert code_step(b3, codes[0]).status_code == 200  # used up
    assert len(events("user.recovery_code_used")) == 1


def test_roles_named_by_the_security_admin_must_enrol(app, login_as):
    sec = login_as("secadmin")
    html = sec.get("/admin/security/policy").get_data(as_text=True)
    assert 'value="office"' in html and 'value="sysadmin"' not in html  # admins always need it
    version = re.search(r'name="version"[^>]*value="(\d+)"', html).group(1)
    data = {"min_length": "10", "min_classes": "3", "forbid_username": "y", "max_age_days": "90",
            "lockout_threshold": "5", "lockout_minutes": "15", "idle_minutes": "30", "absolute_hours": "12",
            "totp_roles": "office", "version": version}
    assert sec.post("/admin/security/policy", data).status_code == 302
    office = login_as("office")
    resp = office.client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/totp")
    enrol(office)
    assert office.client.get("/").status_code == 200
    # Not named: other casework roles still log in with the password alone.
    assert login_as("town").client.get("/").status_code == 200


def test_only_the_security_admin_resets_and_it_is_audited(app, login_as):
    town = login_as("town")
    enrol(town)
    target = user("town")
    assert login_as("sysadmin").post(f"/admin/security/users/{target.id}/totp-reset").status_code == 403
    assert user("town").totp_secret is not None
    sec = login_as("secadmin")
    sec.get(f"/admin/security/users/{target.id}/role")
    assert sec.post(f"/admin/security/users/{target.id}/totp-reset").status_code == 302
    assert user("town").totp_secret is None
    assert db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == target.id)).all() == []
    [ev] = events("user.totp_reset")
    assert ev.username == "secadmin"
    # Never one's own.
    me = user("secadmin")
    sec.post(f"/admin/security/users/{me.id}/totp-reset")
    assert user("secadmin").totp_secret is not None


def test_an_admin_without_totp_must_enrol_before_anything_else(app, login_as):
    sec = login_as("secadmin")
    target = user("auditor")
    sec.get(f"/admin/security/users/{target.id}/role")
    sec.post(f"/admin/security/users/{target.id}/totp-reset")
    b, resp = password_step(app, "auditor")
    assert resp.status_code == 302 and not resp.headers["Location"].endswith("/login/totp")
    gate = b.client.get("/audit/")
    assert gate.status_code == 302 and gate.headers["Location"].endswith("/account/totp")
    enrol(b)
    assert b.client.get("/audit/").status_code == 200
