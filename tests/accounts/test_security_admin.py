"""The security admin: roles (one per user, fitting the unit, never one's own), the policy, unlock."""

import json
import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from webapp.accounts.auth import password_change_due
from webapp.accounts.models import SecurityPolicy, User
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.org.models import unit_by_name

ROLES = "/admin/security/roles"
POLICY = "/admin/security/policy"
DEMO_PASSWORD = "Huiyin@2026"


def fresh():
    """End the test's own transaction, so that it sees what the requests committed (SQLite
    keeps a read transaction on its snapshot)."""
    db.session.commit()
    db.session.expire_all()


def user(username) -> User:
    fresh()
    return db.session.scalar(select(User).where(User.username == username))


def events(name):
    fresh()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.seq)).all()


def role_url(username):
    return f"/admin/security/users/{user(username).id}/role"


def form_version(html: str) -> str:
    m = re.search(r'name="version"[^>]*value="(\d+)"', html) or re.search(r'value="(\d+)"[^>]*name="version"', html)
    assert m, "no version in the form"
    return m.group(1)


def options(html: str) -> list[str]:
    select_html = re.search(r'<select[^>]*name="role".*?</select>', html, re.S).group(0)
    return re.findall(r'<option[^>]*value="([^"]*)"', select_html)


def policy_data(**changes) -> dict:
    fresh()
    p = db.session.get(SecurityPolicy, 1)
    data = {
        "min_length": p.min_length, "min_classes": p.min_classes, "max_age_days": p.max_age_days,
        "lockout_threshold": p.lockout_threshold, "lockout_minutes": p.lockout_minutes,
        "idle_minutes": p.idle_minutes, "absolute_hours": p.absolute_hours, "version": p.version,
    }
    if p.forbid_username:
        data["forbid_username"] = "y"
    data.update(changes)
    return {k: str(v) for k, v in data.items() if v is not None}


# Roles ---------------------------------------------------------------------------------------

def test_roles_page_lists_users_with_unit_and_role_and_searches(login_as):
    sec = login_as("secadmin")
    html = sec.get(ROLES).get_data(as_text=True)
    for name in ("cadre", "潘安湖街道工作组", "走访队员", "auditor", "审计管理员", "区民政局"):
        assert name in html
    found = sec.get(ROLES + "?q=民政").get_data(as_text=True)
    assert "dept" in found and "deptlead" in found and "潘安湖街道工作组" not in found
    # htmx active search: only the results block comes back.
    frag = sec.get(ROLES + "?q=pahjd", headers={"HX-Request": "true"})
    text = frag.get_data(as_text=True)
    assert frag.status_code == 200 and "<html" not in text and 'id="user-results"' in text
    assert "town" in text and "townlead" in text and "dept" not in text
    # The search box is an htmx active search without trigger filters or hx-on.
    assert 'hx-trigger="input changed delay:300ms, search"' in html and "hx-on" not in html
    # A LIKE wildcard is taken literally.
    assert "没有找到符合条件的用户" in sec.get(ROLES + "?q=%25").get_data(as_text=True)


def test_roles_page_paginates(login_as):
    unit = unit_by_name("潘安湖街道")
    for i in range(30):
        db.session.add(User(username=f"tst-{i:02d}", full_name=f"测试{i}", unit=unit, password_hash="x"))
    db.session.commit()
    sec = login_as("secadmin")
    first = sec.get(ROLES + "?q=tst-").get_data(as_text=True)
    second = sec.get(ROLES + "?q=tst-&page=2").get_data(as_text=True)
    assert "共 30 个用户" in first and "第 1 / 2 页" in first
    assert "tst-00" in first and "tst-24" in first and "tst-25" not in first
    assert "tst-25" in second and "tst-29" in second and "tst-24" not in second
    assert "page=2" in first and "q=tst-" in first


def test_role_change_is_audited_with_before_and_after(login_as):
    sec = login_as("secadmin")
    page = sec.get(role_url("cadre")).get_data(as_text=True)
    version = form_version(page)
    # Only roles fitting a work group are offered.
    assert options(page) == ["", "cadre", "group_lead"]
    resp = sec.post(role_url("cadre"), {"role": "group_lead", "version": version})
    assert resp.status_code == 302
    assert user("cadre").role is Role.group_lead
    assert user("cadre").version == int(version) + 1
    [ev] = events("user.role_changed")
    assert ev.username == "secadmin" and ev.object_type == "user" and ev.object_id == str(user("cadre").id)
    assert json.loads(ev.detail) == {"username": "cadre", "before": "cadre", "after": "group_lead"}
    assert "工作组牵头负责人" in sec.get(resp.headers["Location"]).get_data(as_text=True)


def test_a_role_not_fitting_the_unit_is_refused(login_as):
    sec = login_as("secadmin")
    version = form_version(sec.get(role_url("cadre")).get_data(as_text=True))
    # 区活动办 and the admin roles do not fit a work group; the server checks, not just the select.
    for role in ("office", "sysadmin", "auditor", "nonsense"):
        resp = sec.post(role_url("cadre"), {"role": role, "version": version})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 200
        assert "不适用于" in text or "请选择有效的角色" in text
    assert user("cadre").role is Role.cadre
    assert events("user.role_changed") == []


def test_admin_roles_are_exclusive_one_role_per_user(login_as):
    sec = login_as("secadmin")
    version = form_version(sec.get(role_url("sysadmin")).get_data(as_text=True))
    assert sec.post(role_url("sysadmin"), {"role": "auditor", "version": version}).status_code == 302
    assert user("sysadmin").role is Role.sysadmin  # an admin role waits for a second admin
    from webapp.accounts.models import RoleChange

    change = db.session.scalar(select(RoleChange))
    auditor = login_as("auditor")
    auditor.get("/admin/role-changes/")
    assert auditor.post(f"/admin/role-changes/{change.id}/approve", {"version": str(change.version)}).status_code == 302
    # The user now holds the auditor role only: the sysadmin role is gone (one column, one role).
    assert user("sysadmin").role is Role.auditor
    assert sec.get("/").status_code == 200


def test_nobody_changes_their_own_role(login_as):
    sec = login_as("secadmin")
    page = sec.get(role_url("secadmin")).get_data(as_text=True)
    assert "不能修改自己的角色" in page and 'name="role"' not in page
    resp = sec.post(role_url("secadmin"), {"role": "auditor", "version": str(user("secadmin").version)})
    assert resp.status_code == 403 and "不能修改自己的角色" in resp.get_data(as_text=True)
    assert user("secadmin").role is Role.secadmin
    assert events("user.role_changed") == []


def test_a_stale_role_change_is_refused_with_409_and_changes_nothing(login_as):
    sec = login_as("secadmin")
    version = form_version(sec.get(role_url("town")).get_data(as_text=True))
    # Someone else changes the account after the form was shown.
    town = user("town")
    town.full_name = "张伟伟"
    db.session.commit()
    resp = sec.post(role_url("town"), {"role": "unit_leader", "version": version})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "已被他人修改" in text
    assert user("town").role is Role.handler
    assert events("user.role_changed") == []
    # The form now carries the fresh version, and resubmitting works.
    assert form_version(text) == str(user("town").version)
    assert sec.post(role_url("town"), {"role": "unit_leader", "version": form_version(text)}).status_code == 302
    assert user("town").role is Role.unit_leader


def test_unknown_user_is_404(login_as):
    sec = login_as("secadmin")
    assert sec.get("/admin/security/users/999999/role").status_code == 404
    assert sec.post("/admin/security/users/999999/unlock").status_code == 404


# Policy ------------------------------------------------------------------------------------

def test_policy_min_length_takes_effect_on_password_change(login_as):
    sec = login_as("secadmin")
    sec.get(POLICY)
    resp = sec.post(POLICY, policy_data(min_length=12))
    assert resp.status_code == 302
    fresh()
    assert db.session.get(SecurityPolicy, 1).min_length == 12
    [ev] = events("policy.changed")
    assert json.loads(ev.detail) == {"before": {"min_length": 10}, "after": {"min_length": 12}}
    town = login_as("town")
    town.get("/account/password")
    eleven = "Abcdefg1!23"
    resp = town.post("/account/password", {"current": DEMO_PASSWORD, "new": eleven, "confirm": eleven})
    assert resp.status_code == 200 and "密码至少需要 12 个字符" in resp.get_data(as_text=True)
    twelve = "Abcdefg1!234"
    resp = town.post("/account/password", {"current": DEMO_PASSWORD, "new": twelve, "confirm": twelve})
    assert resp.status_code == 302


def test_policy_threshold_takes_effect_and_lifting_the_delay_works(login_as, app):
    from tests.conftest import Browser

    sec = login_as("secadmin")
    sec.get(POLICY)
    assert sec.post(POLICY, policy_data(lockout_threshold=3)).status_code == 302
    other = Browser(app.test_client())
    for _ in range(3):
        other.post("/login", {"username": "town", "password": "wrong"})
    town = user("town")
    assert town.locked_until is None and town.failed_logins == 3
    assert len(events("login.burst")) == 1
    assert other.login("town").status_code == 429  # throttled: the right password must wait
    # The security admin's page shows the burst with a button that lifts the delay.
    page = sec.get(ROLES).get_data(as_text=True)
    assert "近24小时的集中登录失败" in page and f"/admin/security/users/{town.id}/unlock" in page
    resp = sec.post(f"/admin/security/users/{town.id}/unlock")
    assert resp.status_code == 302
    town = user("town")
    assert town.failed_logins == 0
    [ev] = events("account.unlocked")
    assert ev.username == "secadmin" and ev.object_id == str(town.id)
    assert other.login("town").status_code == 302
    # Lifting the delays of an account that has none changes nothing and writes nothing.
    assert sec.post(f"/admin/security/users/{town.id}/unlock").status_code == 302
    assert len(events("account.unlocked")) == 1


def test_invalid_policy_values_rerender_with_messages_and_keep_input(login_as):
    sec = login_as("secadmin")
    sec.get(POLICY)
    fresh()
    before = db.session.get(SecurityPolicy, 1).version
    resp = sec.post(POLICY, policy_data(min_length=7, min_classes="abc", lockout_minutes="",
                                        idle_minutes=241, absolute_hours=25, max_age_days=-1,
                                        lockout_threshold=21))
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for msg in ("请输入 8 到 64 之间的整数。", "请输入整数。", "请填写此项。", "请输入 5 到 240 之间的整数。",
                "请输入 1 到 24 之间的整数。", "请输入 0 到 365 之间的整数。", "请输入 3 到 20 之间的整数。"):
        assert msg in text, msg
    assert 'value="7"' in text and 'value="abc"' in text and 'value="241"' in text
    fresh()
    p = db.session.get(SecurityPolicy, 1)
    assert p.version == before and p.min_length == 10
    assert events("policy.changed") == []
    # Idle time longer than the whole session is refused too.
    resp = sec.post(POLICY, policy_data(idle_minutes=120, absolute_hours=1))
    assert resp.status_code == 200 and "会话空闲超时不能长于会话最长时间" in resp.get_data(as_text=True)


def test_a_stale_policy_change_is_refused_with_409(login_as):
    sec = login_as("secadmin")
    sec.get(POLICY)
    stale = policy_data(min_length=14)
    assert sec.post(POLICY, policy_data(idle_minutes=20)).status_code == 302
    resp = sec.post(POLICY, stale)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "安全策略已被他人修改" in text
    fresh()
    p = db.session.get(SecurityPolicy, 1)
    assert p.min_length == 10 and p.idle_minutes == 20
    assert len(events("policy.changed")) == 1
    assert form_version(text) == str(p.version)


def test_unchanged_policy_writes_nothing(login_as):
    sec = login_as("secadmin")
    sec.get(POLICY)
    assert sec.post(POLICY, policy_data()).status_code == 302
    assert events("policy.changed") == []


def test_forbid_username_can_be_switched_off(login_as):
    sec = login_as("secadmin")
    sec.get(POLICY)
    data = policy_data()
    data.pop("forbid_username")
    assert sec.post(POLICY, data).status_code == 302
    fresh()
    assert db.session.get(SecurityPolicy, 1).forbid_username is False
    [ev] = events("policy.changed")
    assert json.loads(ev.detail)["after"] == {"forbid_username": False}


def test_max_age_zero_means_passwords_never_expire(login_as, app):
    from tests.conftest import Browser

    unit = unit_by_name("潘安湖街道")
    db.session.add(User(
        username="oldpw", full_name="旧密码", unit=unit, role=Role.handler,
        password_hash=hash_password("Old-Password-9"), must_change_password=False,
        password_changed_at=clock.now() - timedelta(days=400),
    ))
    db.session.commit()
    assert password_change_due(user("oldpw"))
    b = Browser(app.test_client())
    b.login("oldpw", "Old-Password-9")
    assert "/account/password" in b.client.get("/").headers.get("Location", "")
    sec = login_as("secadmin")
    sec.get(POLICY)
    assert sec.post(POLICY, policy_data(max_age_days=0)).status_code == 302
    fresh()
    assert not password_change_due(user("oldpw"))
    assert b.client.get("/").status_code == 200
    with time_machine.travel(clock.now() + timedelta(days=3650), tick=False):
        assert not password_change_due(user("oldpw"))
