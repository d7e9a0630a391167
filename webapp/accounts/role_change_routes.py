"""The admins' page of two-person role changes (三员分立): what waits for a second admin's
approval, and what was decided lately. Any of the three admins may approve what another asked;
nobody approves their own request or a change of their own account."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..core.extensions import db
from . import nav, role_changes
from .gates import roles_required
from .models import RoleChange
from .roles import ADMIN_ROLES

bp = Blueprint("role_changes", __name__, url_prefix="/admin/role-changes")
admins_only = roles_required(*ADMIN_ROLES)

nav.register("role_changes.index", _l("角色变更审批"))

STALE = _l("该变更已被他人处理或账号已变化，未作任何更改。请核对最新情况。")


@bp.get("/")
@admins_only
def index():
    """The requests waiting for approval and the latest decisions."""
    pending, decided = role_changes.listing()
    return render_template("security/role_changes.html", pending=pending, decided=decided)


def _decide(change_id: int, operation, done: str):
    change = db.get_or_404(RoleChange, change_id)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = None
    try:
        operation(current_user._get_current_object(), change, version)
        db.session.commit()
    except (role_changes.Stale, StaleDataError):
        db.session.rollback()
        abort(409, description=str(STALE))
    except role_changes.Refused as exc:
        db.session.rollback()
        flash(exc.args[0], "error")
        return redirect(url_for("role_changes.index"))
    flash(done, "success")
    return redirect(url_for("role_changes.index"))


@bp.post("/<int:change_id>/approve")
@admins_only
def approve(change_id: int):
    """Approve another admin's request: the role changes now."""
    return _decide(change_id, role_changes.approve, _("已批准，角色变更已生效。"))


@bp.post("/<int:change_id>/reject")
@admins_only
def reject(change_id: int):
    """Turn a request down, or withdraw one's own."""
    return _decide(change_id, role_changes.reject, _("已驳回（撤回）该变更。"))
