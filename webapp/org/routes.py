"""The system administrator's unit pages: tree, search, create, edit, move, (de)activate, Excel.

Only the system administrator may use them (三员分立: no casework role, not the security or
audit admin). Every change is one operation, one audit event and one commit.
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core import clock
from ..core.extensions import db
from ..core.render import render
from ..documents.excel import WorkbookError, read_rows, xlsx_response
from . import excel, operations
from .forms import ImportForm, UnitCreateForm, UnitEditForm, UnitMoveForm, VersionForm
from .models import ALLOWED_PARENTS, Unit, UnitKind
from .queries import ancestors, export_units, get_unit, org_tree, search_units

bp = Blueprint("org", __name__, url_prefix="/admin/units")
sysadmin_only = roles_required(Role.sysadmin)

nav.register("org.index", _l("单位管理"))

STALE_MESSAGE = _l("该单位已被他人修改。下面保留了您填写的内容，并列出了当前保存的值；请核对后再次提交。")


def _units(ids) -> list[Unit] | None:
    """The units with these ids, or None when one does not exist."""
    ids = list(dict.fromkeys(i for i in ids if i is not None))
    if not ids:
        return []
    units = db.session.scalars(select(Unit).where(Unit.id.in_(ids))).all()
    return sorted(units, key=lambda u: u.id) if len(units) == len(ids) else None


def _unit_or_error(unit_id, field) -> Unit | None:
    if unit_id is None:
        return None
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        field.errors.append(_("所选单位不存在。"))
    return unit


def _add_errors(form, exc: operations.UnitError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + exc.messages
    else:
        form.form_errors.extend(exc.messages)


def _is_stale(form, unit: Unit) -> bool:
    return (form.version.data or "") != str(unit.version)


@bp.get("/")
@sysadmin_only
def index():
    """The whole organisation as a tree; with ``q``, the units matching by name or pinyin."""
    q = request.args.get("q", "").strip()[:64]
    results = search_units(q) if q else None
    tree = None if q else org_tree()
    return render("org/index.html", block="results", q=q, results=results, tree=tree)


@bp.get("/<int:unit_id>")
@sysadmin_only
def detail(unit_id: int):
    """One unit: where it sits, its children, and what may be done with it."""
    unit = get_unit(unit_id)
    return _detail_page(unit)


def _detail_page(unit: Unit, *, error: str | None = None, status: int = 200):
    form = VersionForm(formdata=None, data={"version": unit.version})
    blockers = operations.deactivation_blockers(unit) if unit.is_active else []
    return render_template(
        "org/detail.html", unit=unit, path=ancestors(unit), form=form, blockers=blockers,
        error=error, UnitKind=UnitKind,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@sysadmin_only
def new():
    """Create a unit (``?parent=…&kind=…`` preset the form from the tree)."""
    form = UnitCreateForm()
    form.load_choices()
    if request.method == "GET":
        form.parent.data = request.args.get("parent", type=int)
        kind = request.args.get("kind")
        if kind in UnitKind.__members__:
            form.kind.data = kind
    if form.validate_on_submit():
        parent = _unit_or_error(form.parent.data, form.parent)
        lead = _unit_or_error(form.lead_unit.data, form.lead_unit)
        covered = _units(form.covered_units.data or [])
        if covered is None:
            form.covered_units.errors.append(_("所选单位不存在。"))
        if not (form.parent.errors or form.lead_unit.errors or form.covered_units.errors):
            if parent is not None:
                parent = get_unit(parent.id, for_update=True)  # no deactivation meanwhile
            try:
                unit = operations.create_unit(
                    name=form.name.data, kind=UnitKind(form.kind.data), parent=parent,
                    code=form.code.data, short_name=form.short_name.data, note=form.note.data,
                    lead_unit=lead, covered_units=covered,
                )
            except operations.UnitError as exc:
                db.session.rollback()
                _add_errors(form, exc)
            else:
                db.session.commit()
                flash(_("已新建单位“%(name)s”。", name=unit.name), "success")
                return redirect(url_for("org.detail", unit_id=unit.id))
    return render_template("org/form.html", form=form, unit=None)


@bp.route("/<int:unit_id>/edit", methods=["GET", "POST"])
@sysadmin_only
def edit(unit_id: int):
    """Rename a unit and change its code, short name and note (work groups: lead and covered)."""
    unit = get_unit(unit_id, for_update=request.method == "POST")
    is_group = unit.kind == UnitKind.work_group
    form = UnitEditForm(obj=unit if request.method == "GET" else None)
    if is_group:
        form.load_work_group_choices()
    if request.method == "GET":
        form.version.data = unit.version
        form.lead_unit.data = unit.lead_unit_id
        form.covered_units.data = [u.id for u in unit.covered_units]
    if form.validate_on_submit():
        if _is_stale(form, unit):
            return _edit_conflict(form, unit)
        extra = {}
        if is_group:
            lead = _unit_or_error(form.lead_unit.data, form.lead_unit)
            covered = _units(form.covered_units.data or [])
            if covered is None:
                form.covered_units.errors.append(_("所选单位不存在。"))
            extra = {"lead_unit": lead, "covered_units": covered or []}
        if not (form.lead_unit.errors or form.covered_units.errors):
            try:
                events = operations.update_unit(
                    unit, name=form.name.data, code=form.code.data, short_name=form.short_name.data,
                    note=form.note.data, **extra,
                )
                db.session.commit()
            except StaleDataError:
                return _edit_conflict(form, unit)
            except operations.UnitError as exc:
                db.session.rollback()
                _add_errors(form, exc)
            else:
                flash(_("已保存。") if events else _("没有修改任何内容。"), "success" if events else "info")
                return redirect(url_for("org.detail", unit_id=unit.id))
    return render_template("org/form.html", form=form, unit=unit)


def _edit_conflict(form, unit: Unit):
    """409: keep the user's input, show what is saved now, and carry the current version."""
    db.session.rollback()
    current = get_unit(unit.id)
    form.version.data = current.version
    form.form_errors.append(str(STALE_MESSAGE))
    return render_template("org/form.html", form=form, unit=current, conflict=True), 409


@bp.route("/<int:unit_id>/move", methods=["GET", "POST"])
@sysadmin_only
def move(unit_id: int):
    """Put a unit under another parent (allowed kinds only; never under itself or its own)."""
    unit = get_unit(unit_id, for_update=request.method == "POST")
    form = UnitMoveForm()
    form.load_choices(unit)
    if request.method == "GET":
        form.version.data = unit.version
        form.parent.data = unit.parent_id
    if form.validate_on_submit():
        if _is_stale(form, unit):
            db.session.rollback()
            current = get_unit(unit.id)
            form.version.data = current.version
            form.form_errors.append(str(STALE_MESSAGE))
            return render_template("org/move.html", form=form, unit=current, path=ancestors(current),
                                   allowed=operations.kind_labels(ALLOWED_PARENTS[current.kind])), 409
        parent = _unit_or_error(form.parent.data, form.parent)
        if not form.parent.errors:
            if parent is not None:
                parent = get_unit(parent.id, for_update=True)
            try:
                operations.move_unit(unit, parent)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                flash(str(STALE_MESSAGE), "error")
                return redirect(url_for("org.move", unit_id=unit_id))
            except operations.UnitError as exc:
                db.session.rollback()
                unit = get_unit(unit_id)
                _add_errors(form, exc)
            else:
                flash(_("已把“%(name)s”移到“%(parent)s”之下。", name=unit.name, parent=parent.name), "success")
                return redirect(url_for("org.detail", unit_id=unit.id))
    return render_template("org/move.html", form=form, unit=unit, path=ancestors(unit),
                           allowed=operations.kind_labels(ALLOWED_PARENTS[unit.kind]))


def _toggle(unit_id: int, operation, done_message):
    unit = get_unit(unit_id, for_update=True)
    form = VersionForm()
    if not form.validate_on_submit():
        return _detail_page(unit, error=_("表单无效，请刷新页面后重试。"), status=400)
    if _is_stale(form, unit):
        return _detail_page(unit, error=str(STALE_MESSAGE), status=409)
    try:
        operation(unit)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _detail_page(get_unit(unit_id), error=str(STALE_MESSAGE), status=409)
    except operations.UnitError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "error")
    else:
        flash(done_message % {"name": unit.name}, "success")
    return redirect(url_for("org.detail", unit_id=unit_id))


@bp.post("/<int:unit_id>/deactivate")
@sysadmin_only
def deactivate(unit_id: int):
    """Stop using a unit; refused while it still has active users, children or work groups."""
    return _toggle(unit_id, operations.deactivate_unit, _("已停用“%(name)s”。"))


@bp.post("/<int:unit_id>/reactivate")
@sysadmin_only
def reactivate(unit_id: int):
    """Use an inactive unit again."""
    return _toggle(unit_id, operations.reactivate_unit, _("已启用“%(name)s”。"))


@bp.get("/export.xlsx")
@sysadmin_only
def export():
    """Every unit as an Excel workbook (the import's format)."""
    return xlsx_response(f"单位-{clock.today():%Y%m%d}.xlsx", [excel.export_sheet(export_units())])


@bp.get("/import/template.xlsx")
@sysadmin_only
def import_template():
    """The blank import workbook, with a sheet explaining each column."""
    return xlsx_response("单位导入模板.xlsx", excel.template_sheets())


@bp.route("/import", methods=["GET", "POST"])
@sysadmin_only
def import_units():
    """Import units from Excel: every row is checked first; one bad row and nothing is created."""
    form = ImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            rows = read_rows(upload.read(), excel.REQUIRED_HEADERS)
        except WorkbookError as exc:
            # The file itself is refused (not a workbook, a DTD, a zip bomb, too many rows).
            form.file.errors.append(str(exc))
            return render_template("org/import.html", form=form, errors=errors), 400
        else:
            plan, errors = excel.plan_import(rows)
            if not errors:
                try:
                    units = operations.import_units(plan, upload.filename or "")
                    db.session.commit()
                except operations.UnitError as exc:
                    db.session.rollback()
                    errors = [excel.RowError(0, exc.messages)]
                else:
                    flash(_("已导入 %(n)s 个单位。", n=len(units)), "success")
                    return redirect(url_for("org.index"))
    return render_template("org/import.html", form=form, errors=errors)
