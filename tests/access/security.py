"""Security admin routes (安全管理员): only the security admin, never the other two admins."""

from sqlalchemy import select

from webapp.accounts.models import User, current_policy
from webapp.accounts.security_ops import policy_values
from webapp.core.extensions import db

from . import Rule

SECADMIN = {"secadmin"}
ADMINS = {"sysadmin", "secadmin", "auditor"}


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _role_path(_objects) -> str:
    return f"/admin/security/users/{_user('cadre').id}/role"


def _role_data(_objects) -> dict:
    db.session.commit()  # a fresh snapshot: see what earlier requests committed
    user = _user("cadre")
    return {"role": "cadre", "version": str(user.version)}  # unchanged: nothing to save


def _policy_data(_objects) -> dict:
    db.session.commit()
    policy = current_policy()
    values = policy_values(policy)
    data = {k: str(v) for k, v in values.items() if k not in ("forbid_username", "totp_roles")}
    if values["forbid_username"]:
        data["forbid_username"] = "y"
    data["version"] = str(policy.version)
    return data


def _change(_objects):
    """A pending two-person role change (the desk operator to no role, asked by the security admin)."""
    from webapp.accounts.models import RoleChange, RoleChangeStatus
    from webapp.core import clock

    db.session.commit()
    change = db.session.scalar(select(RoleChange))
    if change is None:
        desk = _user("desk")
        change = RoleChange(user=desk, from_role=desk.role, to_role=None, status=RoleChangeStatus.pending,
                            requested_by=_user("secadmin"), requested_at=clock.now())
        db.session.add(change)
        db.session.commit()
    return change


def _decision(_objects) -> dict:
    return {"version": str(_change(_objects).version)}


RULES = [
    Rule("role_changes.index", "/admin/role-changes/", ADMINS),
    Rule("role_changes.approve", lambda o: f"/admin/role-changes/{_change(o).id}/approve", ADMINS,
         method="POST", data=_decision),
    Rule("role_changes.reject", lambda o: f"/admin/role-changes/{_change(o).id}/reject", ADMINS,
         method="POST", data=_decision),
    Rule("security.roles", "/admin/security/roles", SECADMIN),
    Rule("security.user_role", _role_path, SECADMIN),
    Rule("security.user_role", _role_path, SECADMIN, method="POST", data=_role_data, note="post"),
    Rule("security.unlock", lambda o: f"/admin/security/users/{_user('town').id}/unlock", SECADMIN,
         method="POST"),
    Rule("security.totp_reset", lambda o: f"/admin/security/users/{_user('town').id}/totp-reset", SECADMIN,
         method="POST", note="not enrolled: nothing to clear"),
    Rule("security.policy", "/admin/security/policy", SECADMIN),
    Rule("security.policy", "/admin/security/policy", SECADMIN, method="POST", data=_policy_data,
         note="post"),
]
