"""The audit admin's pages: browse and filter the log, export it, verify the keyed hash chain
against the anchors, and read the latest anchors to note them on paper.

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
from ..core import anchors, audit, jobs
from ..core.extensions import db
from ..core.render import is_htmx, render
from . import queries, sentences, tasks
from .forms import AuditFilterForm

bp = Blueprint("audit", __name__, url_prefix="/audit")

nav.register("audit.index", _l("审计日志"))

CHAIN_PROBLEMS = {
    "edited": _l("记录被改动（内容与其密钥哈希不符）"),
    "recomputed": _l("记录被无密钥重算（哈希是内容的普通 SHA-256）"),
    "downgraded": _l("密钥化之后出现无密钥记录（被无密钥重算）"),
    "gap": _l("序号不连续（有记录被删除）"),
    "link": _l("前序哈希不符（前一条记录被删除、插入或替换）"),
    "inserted": _l("记录被插入（与前后记录顺序不符）"),
    "tail": _l("链尾与链头不符（末尾有记录被删除）"),
    "head_seal": _l("链头被改动（其密钥签名不符）"),
    "head_missing": _l("链头记录缺失"),
    "anchor_missing": _l("锚定的记录已不存在（有记录被删除，包括末尾）"),
    "anchor_changed": _l("锚定的记录与锚点不符（被改动或重算）"),
    "anchor_forged": _l("锚点文件中的一行被改动或伪造"),
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
        report = audit.verify_chain(anchors.read_anchors())
        audit.record(
            "audit.verified",
            result="success" if report.ok else "failure",
            detail={"checked": report.checked, "problem": report.first.code if report.first else None,
                    "event_id": report.event_id, "findings": [
                        {"code": f.code, "seq": f.seq, "event_id": f.event_id} for f in report.findings]},
        )
        db.session.commit()
        if report.ok:
            flash(_("审计链完整：已校验 %(n)s 条记录，未发现篡改。", n=report.checked), "success")
        else:
            flash(
                _("审计链已被破坏：发现 %(count)s 处问题，首个为“%(problem)s”（问题记录 ID：%(id)s）；%(n)s 条记录校验通过。",
                  count=len(report.findings), problem=CHAIN_PROBLEMS[report.first.code], n=report.checked,
                  id=report.event_id if report.event_id is not None else "—"),
                "error",
            )
        return redirect(url_for("audit.verify"))
    last = queries.last_verification()
    detail = json.loads(last.detail) if last is not None and last.detail else {}
    findings = [
        {**f, "label": CHAIN_PROBLEMS.get(f.get("code"), f.get("code"))} for f in detail.get("findings", [])
    ]
    return render_template("audit/verify.html", last=last, last_detail=detail, findings=findings,
                           anchors=anchors.latest(10), anchor_file=str(anchors.anchor_path()))
