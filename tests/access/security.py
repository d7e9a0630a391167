"""Security admin routes (安全管理员): only the security admin, never the other two admins."""

from sqlalchemy import select

from webapp.accounts.models import User, current_policy
from webapp.accounts.security_ops import policy_values
from webapp.core.extensions import db

from . import Rule

SECADMIN = {"secadmin"}


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
    data = {k: str(v) for k, v in values.items() if k != "forbid_username"}
    if values["forbid_username"]:
        data["forbid_username"] = "y"
    data["version"] = str(policy.version)
    return data


RULES = [
    Rule("security.roles", "/admin/security/roles", SECADMIN),
    Rule("security.user_role", _role_path, SECADMIN),
    Rule("security.user_role", _role_path, SECADMIN, method="POST", data=_role_data, note="post"),
    Rule("security.unlock", lambda o: f"/admin/security/users/{_user('town').id}/unlock", SECADMIN,
         method="POST"),
    Rule("security.policy", "/admin/security/policy", SECADMIN),
    Rule("security.policy", "/admin/security/policy", SECADMIN, method="POST", data=_policy_data,
         note="post"),
]
