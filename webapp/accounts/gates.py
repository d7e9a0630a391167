"""The role gate: who may call a view. One hook enforces it for every request (fail closed).

Object-level checks (ownership, unit scope) happen where the object is loaded, through the
scoping functions of each area; this gate only answers "may this role use this route at all".
"""

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..core.gates import gate_of
from .auth import password_change_due
from .roles import Role
from .totp import enrolment_due

# Endpoints a logged-in user may reach while a password change is due.
PASSWORD_CHANGE_ALLOWED = {"accounts.change_password", "accounts.logout", "static", "accounts.set_locale"}
# … and while enrolment in TOTP is due (the password is changed first).
TOTP_ENROLMENT_ALLOWED = {"totp.enrol", "accounts.logout", "static", "accounts.set_locale"}


def roles_required(*roles: Role):
    """Allow the view to logged-in users holding one of ``roles``."""
    allowed = frozenset(roles)

    def decorate(view):
        view.gate = allowed
        return view

    return decorate


def any_user(view):
    """Allow the view to every logged-in user, whatever the role (home, own password)."""
    view.gate = "any_user"
    return view


def role_may(role: Role | None, endpoint: str) -> bool:
    """Whether ``role`` passes the gate of ``endpoint`` (used by the navigation too)."""
    view = current_app.view_functions.get(endpoint)
    gate = gate_of(view)
    if gate == "public":
        return True
    if gate == "any_user":
        return (role is not None or endpoint in PASSWORD_CHANGE_ALLOWED or endpoint in TOTP_ENROLMENT_ALLOWED
                or endpoint == "accounts.home")
    if isinstance(gate, frozenset):
        return role in gate
    return False


def enforce_gate():
    """``before_request``: refuse what the endpoint's gate does not allow."""
    if request.endpoint is None:
        return None  # 404 follows
    if request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    gate = gate_of(view)
    if gate is None:
        current_app.logger.error("endpoint %s has no gate; refused", request.endpoint)
        abort(403)
    if gate == "public":
        return None
    if not current_user.is_authenticated:
        from ..core.extensions import login_manager

        return login_manager.unauthorized()
    if password_change_due(current_user) and request.endpoint not in PASSWORD_CHANGE_ALLOWED:
        flash(_("请先修改密码。"), "warning")
        return redirect(url_for("accounts.change_password"))
    if enrolment_due(current_user) and request.endpoint not in TOTP_ENROLMENT_ALLOWED:
        flash(_("您的角色须使用双因素认证：请先绑定认证器应用。"), "warning")
        return redirect(url_for("totp.enrol"))
    if not role_may(current_user.role, request.endpoint):
        abort(403)
    return None
