"""The system administrator's user pages: list and search, create, edit, deactivate,
reactivate, reset password, Excel import and export.

Only the system administrator may use them. Roles are not set here (the security
administrator's page does that). One-time reset codes are shown once, in the answer to the
request that made them: they are kept neither in the database (only their hash) nor in the
session cookie, so the page is rendered directly instead of redirecting.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..core import audit, clock
from ..core.extensions import db
from ..core.render import render
from ..documents.excel import WorkbookError, read_rows, xlsx_response
from ..org.excel import RowError
from ..org.forms import ImportForm
from ..org.models import Unit
from . import admin_excel, admin_operations, nav
from .admin_forms import UserCreateForm, UserEditForm, VersionForm
from .admin_queries import all_users, get_user, search_users
from .gates import roles_required
from .roles import Role

bp = Blueprint("users", __name__, url_prefix="/admin/users")
sysadmin_only = roles_required(Role.sysadmin)

nav.register("users.index", _l("用户管理"))

STALE_MESSAGE = _l("该账号已被他人修改（或本人刚刚登录）。下面保留了您填写的内容，并列出了当前保存的值；请核对后再次提交。")


def _add_errors(form, exc: admin_operations.UserError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + exc.messages
    else:
        form.form_errors.extend(exc.messages)


def _is_stale(form, user) -> bool:
    return (form.version.data or "") != str(user.version)


def _unit(form) -> Unit | None:
    unit = db.session.get(Unit, form.unit.data) if form.unit.data is not None else None
    if form.unit.data is not None and unit is None:
        form.unit.errors.append(_("所选单位不存在。"))
    return unit


@bp.get("/")
@sysadmin_only
def index():
    """Every account, searchable by username, name and unit; ``unit`` narrows to one unit."""
    q = request.args.get("q", "").strip()[:64]
    unit_id = request.args.get("unit", type=int)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    page = search_users(q, unit.id if unit else None, request.args.get("page", 1, type=int))
    return render("users/index.html", block="results", q=q, unit=unit, page=page)


@bp.route("/new", methods=["GET", "POST"])
@sysadmin_only
def new():
    """Create an account (no role, no usable password) with a one-time reset code shown once."""
    form = UserCreateForm()
    form.load_choices()
    if request.method == "GET":
        form.unit.data = request.args.get("unit", type=int)
    if form.validate_on_submit():
        unit = _unit(form)
        if not form.unit.errors:
            try:
                user, password = admin_operations.create_user(
                    username=form.username.data, full_name=form.full_name.data,
                    phone=form.phone.data, unit=unit,
                )
                db.session.commit()
            except admin_operations.UserError as exc:
                db.session.rollback()
                _add_errors(form, exc)
            else:
                return render_template("users/passwords.html", created=[(user, password)], reset=False)
    return render_template("users/new.html", form=form)


def _edit_page(user, form=None, *, status=200, conflict=False, error=None):
    if form is None:
        form = UserEditForm(formdata=None, data={"full_name": user.full_name, "phone": user.phone,
                                  "unit": user.unit_id, "version": user.version})
    form.load_choices(user.unit)
    actions = VersionForm(formdata=None, data={"version": user.version})
    locked = bool(user.locked_until and user.locked_until > clock.now())
    return render_template("users/edit.html", user=user, form=form, actions=actions, conflict=conflict,
                           locked=locked, error=error, is_self=user.id == current_user.id), status


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@sysadmin_only
def edit(user_id: int):
    """Change name, phone and unit; the unit must fit the role the user holds."""
    user = get_user(user_id, for_update=request.method == "POST")
    if request.method == "GET":
        return _edit_page(user)
    form = UserEditForm()
    form.load_choices(user.unit)
    if form.validate_on_submit():
        if _is_stale(form, user):
            return _edit_conflict(form, user)
        unit = _unit(form)
        if not form.unit.errors:
            try:
                changed = admin_operations.update_user(user, full_name=form.full_name.data,
                                                       phone=form.phone.data, unit=unit,
                                                       actor=current_user._get_current_object())
                db.session.commit()
            except StaleDataError:
                return _edit_conflict(form, user)
            except admin_operations.UserError as exc:
                db.session.rollback()
                _add_errors(form, exc)
            else:
                flash(_("已保存。") if changed else _("没有修改任何内容。"), "success" if changed else "info")
                return redirect(url_for("users.edit", user_id=user_id))
    return _edit_page(get_user(user_id), form)


def _edit_conflict(form, user):
    """409: keep the input, show the saved values, carry the current version."""
    db.session.rollback()
    current = get_user(user.id)
    form.version.data = current.version
    form.form_errors.append(str(STALE_MESSAGE))
    return _edit_page(current, form, status=409, conflict=True)


def _action(user_id: int, operation, done_message: str | None = None):
    """Deactivate, reactivate or reset a password from the edit page's buttons."""
    user = get_user(user_id, for_update=True)
    form = VersionForm()
    if not form.validate_on_submit():
        return _edit_page(user, error=_("表单无效，请刷新页面后重试。"), status=400)
    if _is_stale(form, user):
        return _edit_page(user, error=str(STALE_MESSAGE), status=409)
    try:
        result = operation(user)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _edit_page(get_user(user_id), error=str(STALE_MESSAGE), status=409)
    except admin_operations.UserError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "error")
        return redirect(url_for("users.edit", user_id=user_id))
    if done_message is None:
        return render_template("users/passwords.html", created=[(user, result)], reset=True)
    flash(done_message % {"name": user.username}, "success")
    return redirect(url_for("users.edit", user_id=user_id))


@bp.post("/<int:user_id>/deactivate")
@sysadmin_only
def deactivate(user_id: int):
    """Stop an account; its sessions end at once. One's own account cannot be stopped."""
    actor = current_user._get_current_object()
    return _action(user_id, lambda u: admin_operations.deactivate_user(u, actor), _("已停用账号“%(name)s”。"))


@bp.post("/<int:user_id>/reactivate")
@sysadmin_only
def reactivate(user_id: int):
    """Let a stopped account log in again."""
    return _action(user_id, admin_operations.reactivate_user, _("已启用账号“%(name)s”。"))


@bp.post("/<int:user_id>/reset-password")
@sysadmin_only
def reset_password(user_id: int):
    """A one-time reset code, shown once, with which the owner sets a new password; unlocks."""
    actor = current_user._get_current_object()
    return _action(user_id, lambda u: admin_operations.reset_password(u, actor))


@bp.post("/export.xlsx")
@sysadmin_only
def export():
    """Every account as an Excel workbook. A POST because the export is audited (personal data)."""
    users = all_users()
    audit.record("users.export", object_type="user", detail={"count": len(users)})
    response = xlsx_response(f"用户-{clock.today():%Y%m%d}.xlsx", [admin_excel.export_sheet(users)])
    db.session.commit()
    return response


@bp.get("/import/template.xlsx")
@sysadmin_only
def import_template():
    """The blank import workbook, with a sheet explaining each column."""
    return xlsx_response("用户导入模板.xlsx", admin_excel.template_sheets())


@bp.route("/import", methods=["GET", "POST"])
@sysadmin_only
def import_users():
    """Import accounts: every row checked first; one bad row and nothing is created."""
    form = ImportForm()
    errors: list[RowError] = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            rows = read_rows(upload.read(), admin_excel.REQUIRED_HEADERS)
        except WorkbookError as exc:
            # The file itself is refused (not a workbook, a DTD, a zip bomb, too many rows).
            form.file.errors.append(str(exc))
            return render_template("users/import.html", form=form, errors=errors), 400
        else:
            plan, errors = admin_excel.plan_import(rows)
            if not errors:
                try:
                    created = admin_operations.import_users(plan, upload.filename or "")
                    db.session.commit()
                except admin_operations.UserError as exc:
                    db.session.rollback()
                    errors = [RowError(0, exc.messages)]
                else:
                    return render_template("users/passwords.html", created=created, reset=False)
    return render_template("users/import.html", form=form, errors=errors)
