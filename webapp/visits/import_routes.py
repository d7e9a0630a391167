"""The office imports the districts' Excel 台账 of households and enterprises, and the historical
visits with their problems (``visit_imports``).

The upload is saved as it arrives (refused past ``IMPORT_MAX_MB`` without reading the rest) and
its first bytes checked (an .xlsx, not a password-protected or old .xls file); the rows are read
and written by a background job (``imports.import_register``) whose page shows the progress and,
when done, the counts and the error rows to download.
"""

import io
import secrets
from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core import jobs
from ..core import storage as store
from ..core.extensions import db
from ..core.render import render
from ..documents.excel import XLSX_MIME
from . import imports, visit_imports

bp = Blueprint("imports", __name__)
office = roles_required(Role.office)
CHUNK = 64 * 1024


@bp.record_once
def _menu(_state) -> None:
    nav.register("imports.households", _l("导入台账"))


class ImportForm(FlaskForm):
    file = FileField(_l("Excel 文件（.xlsx）"))
    valid_only = BooleanField(_l("只导入无误的行（有错误的行列在错误表中，不导入）"))


def _page(kind: str, form: ImportForm, status: int = 200):
    max_bytes, max_rows = imports.limits()
    return render("visits/import.html", kind=kind, form=form, title=imports.KINDS[kind], status=status,
                  max_mb=max_bytes // (1024 * 1024), max_rows=max_rows, columns=imports.columns(kind))


def _save_upload(storage, max_bytes: int) -> str:
    """Hand the upload to the job through the upload store (whichever host runs the job reads
    it there); ``ValueError`` with a message when refused."""
    name = f"{secrets.token_hex(12)}.xlsx"
    size, data = 0, io.BytesIO()
    while block := storage.stream.read(CHUNK):
        size += len(block)
        if size > max_bytes:
            raise ValueError(_("文件超过 %(n)d MB 的上限：请拆分成几个文件分别导入。", n=max_bytes // (1024 * 1024)))
        data.write(block)
    if size == 0:
        raise ValueError(_("文件是空的。"))
    problem = imports.check_header_bytes(data.getvalue()[:8])
    if problem:
        raise ValueError(problem)
    store.current().put(imports.UPLOADS + name, data)
    return name


def _import(kind: str):
    form = ImportForm()
    if request.method == "GET":
        return _page(kind, form)
    try:
        valid = form.validate()
    except RequestEntityTooLarge:
        valid = False
    storage = request.files.get("file")
    if not valid:
        return _page(kind, form)
    if storage is None or not storage.filename:
        form.file.errors = [_("请选择要导入的 Excel 文件。")]
        return _page(kind, form)
    max_bytes, _rows = imports.limits()
    try:
        stored = _save_upload(storage, max_bytes)
    except ValueError as exc:
        form.file.errors = [str(exc)]
        return _page(kind, form)
    title = f"{imports.KINDS[kind]}：{storage.filename}"[:200]
    if kind == "visits":
        job = jobs.start_job("visits.import.visits", current_user, title, visit_imports.import_visits, stored,
                             bool(form.valid_only.data), storage.filename[:120])
    else:
        job = jobs.start_job(f"visits.import.{kind}", current_user, title, imports.import_register, kind, stored,
                             bool(form.valid_only.data), storage.filename[:120])
    db.session.commit()
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/visits/import/households", methods=["GET", "POST"])
@office
def households():
    """Import households from the 户籍台账 template."""
    return _import("households")


@bp.route("/visits/import/enterprises", methods=["GET", "POST"])
@office
def enterprises():
    """Import enterprises from the 企业台账 template."""
    return _import("enterprises")


@bp.route("/visits/import/visits", methods=["GET", "POST"])
@office
def visits():
    """Import historical visits and the problems raised in them from the 走访台账 template."""
    return _import("visits")


@bp.get("/visits/import/<kind>/template.xlsx")
@office
def template(kind: str):
    """The template to fill in: the header row and one example row."""
    if kind not in imports.KINDS:
        abort(404)
    resp = Response(imports.template_workbook(kind), mimetype=XLSX_MIME)
    name = {"households": "户籍台账导入模板.xlsx", "enterprises": "企业台账导入模板.xlsx",
            "visits": "历史走访台账导入模板.xlsx"}[kind]
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return resp
