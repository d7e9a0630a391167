"""The security admin (安全管理员): users' roles, the security policy, unlocking accounts.

三员分立: this area does no casework and cannot read the audit log; the audit admin does.
"""

import json
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.exc import StaleDataError

from ..core import clock
from ..core.audit import AuditEvent
from ..core.extensions import db
from ..core.render import render
from ..org.models import Unit
from . import nav, throttle, totp
from . import security_ops as ops
from .gates import roles_required
from .models import User, current_policy
from .roles import CASEWORK_ROLES, Role
from .security_forms import POLICY_FIELDS, PolicyForm, RoleForm

bp = Blueprint("security", __name__, url_prefix="/admin/security")

nav.register("security.roles", _l("角色分配"))
nav.register("security.policy", _l("安全策略"))

PER_PAGE = 25
STALE_USER = _l("该用户的信息已被他人修改，未作任何更改。以下为最新信息，请核对后重新提交。")
STALE_POLICY = _l("安全策略已被他人修改，未作任何更改。以下为最新设置，请核对后重新提交。")


def _users(q: str):
    stmt = select(User).join(User.unit).options(contains_eager(User.unit))
    if q:
        stmt = stmt.where(
            or_(
                User.username.icontains(q, autoescape=True),
                User.full_name.icontains(q, autoescape=True),
                Unit.name.icontains(q, autoescape=True),
                Unit.pinyin_initials.icontains(q.lower(), autoescape=True),
            )
        )
    return stmt.order_by(User.username)


def _version(raw) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


@bp.get("/roles")
@roles_required(Role.secadmin)
def roles():
    """Every account with its unit and role; search, pages, and the accounts locked now."""
    q = (request.args.get("q") or "").strip()[:64]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    now = clock.now()
    pagination = db.paginate(_users(q), page=page, per_page=PER_PAGE, error_out=False)
    locked = db.session.scalars(
        select(User).where(User.locked_until > now).order_by(User.username)
    ).all()
    return render(
        "security/roles.html", block="results", q=q, pagination=pagination, locked=locked, now=now,
        bursts=_recent_bursts(now),
    )


def _recent_bursts(now) -> list[dict]:
    """Bursts of failed logins in the last day (``login.burst``), newest first, with the account
    they aimed at when it exists (its delays can be lifted here)."""
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "login.burst", AuditEvent.created_at > now - timedelta(days=1))
        .order_by(AuditEvent.created_at.desc()).limit(20)
    ).all()
    out = []
    for row in rows:
        try:
            detail = json.loads(row.detail or "{}")
        except ValueError:
            detail = {}
        name = detail.get("username")
        account = db.session.scalar(select(User).where(User.username == name)) if name else None
        out.append({"at": row.created_at, "username": name, "address": detail.get("address"),
                    "failures": detail.get("failures"), "kind": detail.get("kind"), "user": account})
    return out


def _role_form(user: User, formdata=None, **kw) -> RoleForm:
    form = RoleForm(
        formdata=formdata,
        data={"role": user.role.value if user.role else "", "version": user.version},
        **kw,
    )
    form.role.choices = [("", _("（不分配角色）"))] + [
        (role.value, role.label) for role in ops.assignable_roles(user)
    ]
    return form


def _role_page(user: User, form: RoleForm, status: int = 200, message: str | None = None):
    return render_template(
        "security/user_role.html",
        user=user,
        form=form,
        message=message,
        is_self=user.id == current_user.id,
        locked=ops.is_locked(user),
        totp_enrolled=totp.enrolled(user),
        totp_required=totp.required(user),
        role_fits=user.role is None or user.role in ops.assignable_roles(user),
    ), status


@bp.route("/users/<int:user_id>/role", methods=["GET", "POST"])
@roles_required(Role.secadmin)
def user_role(user_id: int):
    """Set one user's role, from the roles that fit the user's unit; never one's own."""
    user = db.get_or_404(User, user_id)
    if request.method == "GET":
        return _role_page(user, _role_form(user))
    form = _role_form(user, formdata=request.form)
    if not form.validate():
        return _role_page(user, form)
    raw = form.role.data or ""
    try:
        role = Role(raw) if raw else None
    except ValueError:
        form.role.errors.append(_("请选择有效的角色。"))
        return _role_page(user, form)
    try:
        changed = ops.set_role(current_user._get_current_object(), user, role, _version(form.version.data))
        db.session.commit()
    except (ops.StaleVersion, StaleDataError):
        db.session.rollback()
        user = db.session.get(User, user_id)
        return _role_page(user, _role_form(user), 409, str(STALE_USER))
    except ops.Refused as exc:
        db.session.rollback()
        form.role.errors.append(str(exc))
        return _role_page(user, form, 403 if user.id == current_user.id else 200)
    if changed == ops.PENDING:
        flash(_("管理员角色的变更已提交，须由另一名管理员批准后生效。"), "warning")
        return redirect(url_for("role_changes.index"))
    if changed == ops.CHANGED:
        flash(_("已将 %(name)s（%(username)s）的角色设为“%(role)s”。",
                name=user.full_name, username=user.username, role=user.role_label), "success")
    else:
        flash(_("角色未变化，未作修改。"), "info")
    return redirect(url_for("security.roles", q=user.username))


@bp.post("/users/<int:user_id>/unlock")
@roles_required(Role.secadmin)
def unlock(user_id: int):
    """Lift a lockout: clear the lock time and the failure count."""
    user = db.get_or_404(User, user_id)
    try:
        throttled = throttle.clear(user.username)
        done = ops.unlock(user) or throttled
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        abort(409, description=_("该用户的信息已被他人修改，请刷新后重试。"))
    if done:
        flash(_("已解除 %(name)s（%(username)s）的账号锁定。", name=user.full_name, username=user.username), "success")
    else:
        flash(_("该账号未被锁定。"), "info")
    return redirect(url_for("security.roles"))


@bp.post("/users/<int:user_id>/totp-reset")
@roles_required(Role.secadmin)
def totp_reset(user_id: int):
    """Clear a user's TOTP (lost phone): they enrol again at next login. Never one's own."""
    user = db.get_or_404(User, user_id)
    try:
        done = totp.reset(current_user._get_current_object(), user)
        db.session.commit()
    except totp.Refused as exc:
        db.session.rollback()
        flash(exc.args[0], "error")
        return redirect(url_for("security.user_role", user_id=user_id))
    except StaleDataError:
        db.session.rollback()
        abort(409, description=_("该用户的信息已被他人修改，请刷新后重试。"))
    if done:
        flash(_("已重置 %(name)s（%(username)s）的双因素认证，其下次登录时须重新绑定。",
                name=user.full_name, username=user.username), "success")
    else:
        flash(_("该账号未启用双因素认证。"), "info")
    return redirect(url_for("security.user_role", user_id=user_id))


def _policy_form(formdata=None) -> PolicyForm:
    stored = current_policy()
    values = ops.policy_values(stored)
    values["totp_roles"] = [n for n in (values["totp_roles"] or "").split(",") if n]
    form = PolicyForm(formdata=formdata, data={**values, "version": stored.version or 0})
    form.totp_roles.choices = [(r.value, r.label) for r in Role if r in CASEWORK_ROLES]
    return form


@bp.route("/policy", methods=["GET", "POST"])
@roles_required(Role.secadmin)
def policy():
    """The password and session policy (one row); every change is audited."""
    if request.method == "GET":
        return render_template("security/policy.html", form=_policy_form())
    form = _policy_form(request.form)
    if not form.validate():
        return render_template("security/policy.html", form=form)
    values = {name: getattr(form, name).data for name in POLICY_FIELDS}
    values["totp_roles"] = ",".join(sorted(values["totp_roles"] or []))
    try:
        changes = ops.update_policy(values, _version(form.version.data))
        db.session.commit()
    except (ops.StaleVersion, StaleDataError):
        db.session.rollback()
        return render_template("security/policy.html", form=_policy_form(), message=STALE_POLICY), 409
    if changes:
        flash(_("安全策略已保存，立即生效。"), "success")
    else:
        flash(_("安全策略未变化，未作修改。"), "info")
    return redirect(url_for("security.policy"))
