"""Pages of 催办通知书 and 通报: the list (the office issues from it), one paper with each unit's
problems and acknowledgement, its A4 print, and the unit's 签收. Units see only their own part;
a paper that does not concern the user's unit is not found."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import UNIT_ROLES, Role
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from . import papers
from .models import PaperKind, PaperRecipient, SupervisionPaper

bp = Blueprint("papers", __name__, url_prefix="/supervision/papers")
viewers = roles_required(Role.office, Role.leader, *UNIT_ROLES)


@bp.record_once
def _menu(_state) -> None:
    nav.register("papers.index", _l("催办通报"))


def _load(paper_id: int) -> SupervisionPaper:
    paper = db.session.get(SupervisionPaper, paper_id)
    if paper is None or not papers.may_see(current_user, paper):
        abort(404)
    return paper


@bp.get("")
@viewers
def index():
    """Papers issued (the office and the leader: all; a unit: those naming it)."""
    pending = {}
    if current_user.role == Role.office:
        pending = {k: sum(len(v) for v in papers.candidates(k).values()) for k in PaperKind}
    return render("supervision/papers/index.html", papers=papers.papers_for(current_user),
                  labels=papers.KIND_LABELS, pending=pending, may_issue=current_user.role == Role.office,
                  mine=current_user.unit_id if current_user.role in UNIT_ROLES else None)


@bp.post("")
@roles_required(Role.office)
def issue():
    """The office issues a 催办通知书 or 通报 to the units it concerns."""
    kind = request.form.get("kind")
    if kind not in PaperKind.__members__:
        abort(400)
    try:
        paper = papers.issue(PaperKind(kind), current_user._get_current_object(),
                             title=request.form.get("title"), body=request.form.get("body"))
    except Invalid as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("papers.index"))
    db.session.commit()
    flash(_("已下发 %(n)s，送达 %(u)d 个单位。", n=paper.number, u=len(paper.recipients)), "success")
    return redirect(url_for("papers.show", paper_id=paper.id))


@bp.get("/<int:paper_id>")
@viewers
def show(paper_id: int):
    """One paper: per unit, the problems it names and whether the unit acknowledged."""
    paper = _load(paper_id)
    recipients = papers.visible_recipients(current_user, paper)
    ctx = papers.print_context(paper, recipients)
    return render("supervision/papers/show.html", paper=paper, recipients=recipients, ctx=ctx,
                  label=papers.KIND_LABELS[paper.kind],
                  may_ack=current_user.role in UNIT_ROLES)


@bp.get("/<int:paper_id>.pdf")
@viewers
def pdf(paper_id: int):
    """The paper in A4, official look (a unit's print holds its own part only)."""
    paper = _load(paper_id)
    with force_locale("zh_CN"):
        ctx = papers.print_context(paper, papers.visible_recipients(current_user, paper))
        data = render_pdf("supervision_paper", **ctx)
    return pdf_response(data, f"{ctx['doc_title']}-{paper.number}.pdf")


@bp.post("/<int:paper_id>/acknowledge")
@roles_required(*UNIT_ROLES)
def acknowledge(paper_id: int):
    """签收: the unit confirms the paper reached it."""
    paper = _load(paper_id)
    recipient = next((r for r in paper.recipients if r.unit_id == current_user.unit_id), None)
    if recipient is None:
        abort(404)
    version = request.form.get("version", "")
    try:
        papers.acknowledge(recipient, current_user._get_current_object(),
                           version=int(version) if version.isdigit() else None)
        db.session.commit()
    except (Conflict, StaleDataError, Invalid) as exc:
        db.session.rollback()
        flash(str(exc) if not isinstance(exc, StaleDataError) else _("该文件已被本单位他人签收，请刷新页面。"), "error")
        return redirect(url_for("papers.show", paper_id=paper_id)), 303
    flash(_("已签收。"), "success")
    return redirect(url_for("papers.show", paper_id=paper_id))


__all__ = ["PaperRecipient"]
