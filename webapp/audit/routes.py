"""The audit admin's pages: browse and filter the log, export it, verify the hash chain.

The audit admin only reads. The export (a background job: ``audit.tasks``) and the chain check
are themselves audited; nothing else here writes. No other role (system or security admin included) may open these pages.
"""

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core import audit, jobs
from ..core.extensions import db
from ..core.render import is_htmx, render
from . import queries, sentences, tasks
from .forms import AuditFilterForm

bp = Blueprint("audit", __name__, url_prefix="/audit")

nav.register("audit.index", _l("审计日志"))

CHAIN_PROBLEMS = {
    "sequence gap (row removed)": _l("序号不连续（有记录被删除）"),
    "previous-hash mismatch (row missing or altered)": _l("前序哈希不符（有记录缺失或被改动）"),
    "content does not match its hash": _l("记录内容与其哈希不符（记录被改动）"),
    "chain end does not match the head (rows removed at the end)": _l("链尾与链头不符（末尾有记录被删除）"),
    "head row missing": _l("链头记录缺失"),
}


def _form(source, *, events: bool) -> AuditFilterForm:
    """The filter read from ``source``; ``events`` loads the event types for the select."""
    form = AuditFilterForm(formdata=source)
    form.set_choices(queries.event_codes() if events else [])
    return form


def _upto(source) -> int:
    upto = source.get("upto", type=int)
    return upto if upto is not None and upto >= 0 else queries.latest_seq()


@bp.get("/")
@roles_required(Role.auditor)
def index():
    """The log, newest first, 50 a page; the filter form swaps the results block (htmx)."""
    form = _form(request.args, events=True)
    if not form.validate():
        return render(
            "audit/index.html", block="results", form=form, flt=None, pg=None,
            status=422 if is_htmx() else 200,
        )
    flt = form.to_filter(_upto(request.args))
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    pg = queries.page(flt, number)
    names = sentences.names_for(pg.rows)
    return render(
        "audit/index.html", block="results", form=form, flt=flt, pg=pg,
        cap=queries.EXPORT_CAP, event_label=queries.event_label, result_label=queries.result_label,
        sentence=lambda ev, full_name: sentences.sentence(ev, full_name, names),
    )


@bp.post("/export")
@roles_required(Role.auditor)
def export():
    """Start the export of exactly the filtered rows (the snapshot the page showed, at most
    100,000) as a background job; its page shows the progress and offers the file."""
    form = _form(request.form, events=False)
    if not form.validate():
        flash(_("筛选条件有误，未导出。请更正后重试。"), "error")
        return redirect(url_for("audit.index"))
    flt = form.to_filter(_upto(request.form))
    job = jobs.start_job(tasks.KIND, current_user, _("导出审计日志"), tasks.export_audit_log,
                         flt.as_args(), str(get_locale()))
    db.session.commit()
    flash(_("已开始导出。完成后可在本页下载文件。"), "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.route("/verify", methods=["GET", "POST"])
@roles_required(Role.auditor)
def verify():
    """Recompute the hash chain on request (POST) and report; GET shows the last check."""
    if request.method == "POST":
        report = audit.verify_chain()
        audit.record(
            "audit.verified",
            result="success" if report.ok else "failure",
            detail={"checked": report.checked, "problem": report.problem, "event_id": report.event_id},
        )
        db.session.commit()
        if report.ok:
            flash(_("审计链完整：已校验 %(n)s 条记录，未发现篡改。", n=report.checked), "success")
        else:
            flash(
                _("审计链已被破坏：%(problem)s。在此之前有 %(n)s 条记录校验通过；问题记录 ID：%(id)s。",
                  problem=CHAIN_PROBLEMS.get(report.problem, report.problem), n=report.checked,
                  id=report.event_id if report.event_id is not None else "—"),
                "error",
            )
        return redirect(url_for("audit.verify"))
    last = queries.last_verification()
    detail = json.loads(last.detail) if last is not None and last.detail else {}
    return render_template("audit/verify.html", last=last, last_detail=detail)
