"""三员分立: admin roles change only with a second admin's approval; no admin gets casework
rights or moves itself; the audit-admin role is never left empty."""

import re

from sqlalchemy import select

from webapp.accounts.models import RoleChange, RoleChangeStatus, User
from webapp.accounts.roles import Role
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.org.models import unit_by_name


def user(name) -> User:
    db.session.commit()
    return db.session.scalar(select(User).where(User.username == name))


def events(name):
    db.session.commit()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def set_role(browser, name, role):
    """The security admin's role form, as a person fills it in."""
    target = user(name)
    html = browser.get(f"/admin/security/users/{target.id}/role").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html).group(1)
    return browser.post(f"/admin/security/users/{target.id}/role", {"role": role, "version": version})


def pending(name) -> RoleChange | None:
    db.session.commit()
    return db.session.scalar(select(RoleChange).join(RoleChange.user).where(
        User.username == name, RoleChange.status == RoleChangeStatus.pending))


def decide(browser, change, action):
    browser.get("/admin/role-changes/")
    return browser.post(f"/admin/role-changes/{change.id}/{action}", {"version": str(change.version)})


def test_giving_an_admin_role_waits_for_a_second_admin(login_as):
    sec = login_as("secadmin")
    office = unit_by_name("区活动办")
    clerk = user("office")
    assert clerk.unit_id == office.id
    # Take the office clerk's casework role away first (no admin role involved: at once).
    assert set_role(sec, "office", "").status_code == 302 and user("office").role is None
    assert set_role(sec, "office", "auditor").status_code == 302
    assert user("office").role is None  # not yet
    change = pending("office")
    assert change.to_role is Role.auditor and change.requested_by.username == "secadmin"
    # The one who asked cannot approve; the page offers no button and the post is refused.
    page = sec.get("/admin/role-changes/").get_data(as_text=True)
    assert "等待批准" in page and f"/admin/role-changes/{change.id}/approve" not in page
    decide(sec, change, "approve")
    assert user("office").role is None and "不能批准自己提出的变更" in sec.get("/admin/role-changes/").get_data(as_text=True)
    # A second admin approves: now it takes effect, audited with both names.
    sysadmin = login_as("sysadmin")
    assert decide(sysadmin, pending("office"), "approve").status_code == 302
    assert user("office").role is Role.auditor
    [changed] = [e for e in events("user.role_changed") if '"approved_by": "sysadmin"' in (e.detail or "")]
    assert '"requested_by": "secadmin"' in changed.detail
    assert len(events("user.role_change_requested")) == 1 and len(events("user.role_change_approved")) == 1


def test_a_request_can_be_rejected_or_withdrawn(login_as):
    sec = login_as("secadmin")
    set_role(sec, "office", "")
    set_role(sec, "office", "secadmin")
    auditor = login_as("auditor")
    assert decide(auditor, pending("office"), "reject").status_code == 302
    assert user("office").role is None and pending("office") is None
    set_role(sec, "office", "secadmin")
    assert decide(sec, pending("office"), "reject").status_code == 302  # withdrawn by the asker
    assert user("office").role is None
    assert len(events("user.role_change_rejected")) == 2


def test_casework_roles_are_never_given_to_an_admin_account(login_as):
    sec = login_as("secadmin")
    sysadmin = user("sysadmin")
    sysadmin.unit = unit_by_name("区活动办")  # an admin sitting in the office unit
    db.session.commit()
    resp = set_role(sec, "sysadmin", "office")
    assert resp.status_code == 200 and "管理员账号不能被授予办理问题的角色" in resp.get_data(as_text=True)
    assert user("sysadmin").role is Role.sysadmin and pending("sysadmin") is None


def test_no_admin_moves_itself_into_the_activity_office(login_as):
    admin = login_as("sysadmin")
    me = user("sysadmin")
    office = unit_by_name("区活动办")
    assert me.unit_id != office.id
    admin.get(f"/admin/users/{me.id}/edit")
    resp = admin.post(f"/admin/users/{me.id}/edit", {"version": str(me.version), "full_name": me.full_name,
                                                     "phone": me.phone or "", "unit": str(office.id)})
    assert resp.status_code == 200 and "管理员不能调整自己的所在单位" in resp.get_data(as_text=True)
    assert user("sysadmin").unit_id == me.unit_id


def test_the_audit_admin_role_is_never_left_empty(login_as):
    sec = login_as("secadmin")
    resp = set_role(sec, "auditor", "")
    assert resp.status_code == 200 and "审计管理员角色不能空缺" in resp.get_data(as_text=True)
    assert user("auditor").role is Role.auditor and pending("auditor") is None
    # With a second auditor approved first, the first may leave the role (again with approval).
    set_role(sec, "office", "")
    set_role(sec, "office", "auditor")
    decide(login_as("sysadmin"), pending("office"), "approve")
    assert user("office").role is Role.auditor
    assert set_role(sec, "auditor", "").status_code == 302 and pending("auditor") is not None


def test_approval_rechecks_the_rule_at_approval_time(login_as):
    """Two requests that would each leave one auditor: only the first approved one goes through."""
    sec = login_as("secadmin")
    set_role(sec, "office", "")
    set_role(sec, "office", "auditor")
    sysadmin = login_as("sysadmin")
    decide(sysadmin, pending("office"), "approve")
    set_role(sec, "auditor", "")
    set_role(sec, "office", "")
    decide(sysadmin, pending("auditor"), "approve")
    assert user("auditor").role is None
    resp = decide(sysadmin, pending("office"), "approve")
    assert resp.status_code == 302
    assert user("office").role is Role.auditor  # refused: the last auditor stays


def test_the_sysadmin_cannot_approve_a_change_of_its_own_account(login_as):
    sec = login_as("secadmin")
    set_role(sec, "sysadmin", "")
    change = pending("sysadmin")
    sysadmin = login_as("sysadmin")
    assert f"/admin/role-changes/{change.id}/approve" not in sysadmin.get("/admin/role-changes/").get_data(as_text=True)
    decide(sysadmin, change, "approve")
    assert user("sysadmin").role is Role.sysadmin
    decide(login_as("auditor"), pending("sysadmin"), "approve")
    assert user("sysadmin").role is None


def test_casework_roles_cannot_open_the_approvals(login_as):
    assert login_as("office").get("/admin/role-changes/").status_code == 403
