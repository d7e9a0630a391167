"""Integrity flags (诚信核查): the list, one flag with its evidence, the office's review, and
running the scan now.

The office reviews; the leading group reads; nobody else sees flags (units do not see what is
said about them here — the office takes it up through accountability records). Every page reads
a bounded number of statements whatever the number of flags.
"""

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core.errors import Conflict
from ..core.extensions import db
from ..core.render import render
from ..org.models import Unit
from . import operations as flags
from . import scan as integrity_scan
from .forms import ReviewForm
from .models import Flag, FlagKind, FlagStatus

bp = Blueprint("integrity", __name__, url_prefix="/integrity")
readers = roles_required(Role.office, Role.leader)
office = roles_required(Role.office)
PAGE_SIZE = 30

KIND_LABELS = {
    FlagKind.no_evidence: _l("销号无佐证材料"),
    FlagKind.bunched: _l("期末集中销号"),
    FlagKind.contradicted_reply: _l("群众反映已销号问题未解决"),
    FlagKind.raised_again: _l("办结后同户再次反映"),
    FlagKind.reopen_outlier: _l("单位重办率异常"),
    FlagKind.spot_check: _l("抽查回访不属实"),
}
STATUS_LABELS = {
    FlagStatus.open: _l("待核查"),
    FlagStatus.confirmed: _l("核查属实"),
    FlagStatus.dismissed: _l("核查排除"),
}
STATUS_BADGES = {FlagStatus.open: "red", FlagStatus.confirmed: "", FlagStatus.dismissed: "green"}


@bp.record_once
def _menu(_state) -> None:
    nav.register("integrity.index", _l("诚信核查"))


@bp.context_processor
def _labels():
    return {"flag_kind_labels": KIND_LABELS, "flag_status_labels": STATUS_LABELS,
            "flag_status_badges": STATUS_BADGES}


# ---------------------------------------------------------------- the list


def _enum_arg(name: str, cls):
    try:
        return cls(request.args.get(name) or "")
    except ValueError:
        return None


def _filters() -> dict:
    unit_id = request.args.get("unit", type=int)
    return {"kind": _enum_arg("kind", FlagKind), "status": _enum_arg("status", FlagStatus), "unit": unit_id}


def _args(f: dict, **over) -> dict:
    """The query string of the list with ``over`` changed (None values left out)."""
    merged = {"kind": f["kind"] and f["kind"].value, "status": f["status"] and f["status"].value,
              "unit": f["unit"], **over}
    return {k: v for k, v in merged.items() if v}


@bp.get("")
@readers
def index():
    """The flags, open ones first, newest first; tabs per kind with counts; filters by status and unit."""
    f = _filters()
    base = []
    if f["unit"]:
        base.append(Flag.unit_id == f["unit"])
    # One grouped count: per kind and status, within the unit filter.
    grouped = db.session.execute(
        select(Flag.kind, Flag.status, func.count()).where(*base).group_by(Flag.kind, Flag.status)).all()
    per_kind = {k: 0 for k in FlagKind}
    open_per_kind = {k: 0 for k in FlagKind}
    for kind, status, n in grouped:
        if f["status"] is None or status == f["status"]:
            per_kind[kind] += n
        if status == FlagStatus.open:
            open_per_kind[kind] += n
    conds = list(base)
    if f["status"] is not None:
        conds.append(Flag.status == f["status"])
    total_all = sum(per_kind.values())
    if f["kind"] is not None:
        conds.append(Flag.kind == f["kind"])
        total = per_kind[f["kind"]]
    else:
        total = total_all
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    items = db.session.scalars(
        select(Flag).where(*conds)
        .options(selectinload(Flag.unit), selectinload(Flag.problem))
        .order_by(case((Flag.status == FlagStatus.open, 0), else_=1), Flag.detected_at.desc(), Flag.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    units = db.session.execute(
        select(Unit.id, Unit.name).where(Unit.id.in_(select(Flag.unit_id).distinct())).order_by(Unit.name)).all()
    return render("integrity/flags/index.html", items=items, f=f, per_kind=per_kind, open_per_kind=open_per_kind,
                  total=total, total_all=total_all, page=page, pages=pages, units=units,
                  args=lambda **over: _args(f, **over), kinds=list(FlagKind),
                  may_scan=current_user.role == Role.office)


# ---------------------------------------------------------------- one flag


def _get_flag_or_404(flag_id: int, *, for_update: bool = False) -> Flag:
    q = select(Flag).where(Flag.id == flag_id).options(
        selectinload(Flag.unit), selectinload(Flag.problem), selectinload(Flag.reviewed_by),
        selectinload(Flag.detected_by))
    if for_update:
        q = q.with_for_update()
    flag = db.session.scalar(q.execution_options(populate_existing=True))
    if flag is None:
        abort(404)
    return flag


def _accountability_links(flag: Flag) -> dict:
    """Where to record 问责 on this flag, or the record it rests on (when those pages exist)."""
    views = current_app.view_functions
    out = {"new": None, "record": None}
    if flag.accountability_id is not None:
        if "accountability.show" in views:
            try:
                out["record"] = url_for("accountability.show", record_id=flag.accountability_id)
            except BuildError:
                out["record"] = None
    elif current_user.role == Role.office and flag.status != FlagStatus.dismissed and "accountability.new" in views:
        out["new"] = url_for("accountability.new", unit_id=flag.unit_id, flag_id=flag.id)
    return out


def _show(flag: Flag, form: ReviewForm | None = None, *, status: int = 200):
    if current_user.role == Role.office:
        form = form or ReviewForm(formdata=None, version=str(flag.version),
                                  status=flag.status.value if flag.status != FlagStatus.open else None,
                                  note=flag.review_note or "")
    else:
        form = None
    return render("integrity/flags/show.html", status=status, flag=flag, ev=flag.evidence or {}, form=form,
                  links=_accountability_links(flag))


@bp.get("/flags/<int:flag_id>")
@readers
def show(flag_id: int):
    """The flag, the evidence behind it (with links to the problems), the office's review form."""
    return _show(_get_flag_or_404(flag_id))


@bp.post("/flags/<int:flag_id>/review")
@office
def review(flag_id: int):
    """核查: confirm or dismiss (with a note); a stale form is refused with 409."""
    flag = _get_flag_or_404(flag_id, for_update=True)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _show(flag, form)
    try:
        flags.review(flag, current_user, status=form.status.data, note=form.note.data, version=form.version.data)
        db.session.commit()
    except flags.ReviewInvalid as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, str(message)]
        return _show(_get_flag_or_404(flag_id), form)
    except (Conflict, StaleDataError):
        db.session.rollback()
        flash(str(flags.STALE_FLAG), "error")
        return _show(_get_flag_or_404(flag_id), form, status=409)
    flash(_("已记录核查结论：%(status)s。", status=STATUS_LABELS[flag.status]), "success")
    return redirect(url_for("integrity.show", flag_id=flag_id))


# ---------------------------------------------------------------- the scan


@bp.post("/scan")
@office
def scan():
    """立即核查: run every detector now (the daily command does the same)."""
    counts = integrity_scan.scan(user=current_user, source="web")
    db.session.commit()
    total = sum(counts.values())
    if total:
        detail = "、".join(f"{KIND_LABELS[FlagKind(k)]} {n}" for k, n in counts.items() if n)
        flash(_("核查完成，新发现线索 %(n)d 条：%(detail)s。", n=total, detail=detail), "success")
    else:
        flash(_("核查完成，没有发现新的线索。"), "success")
    return redirect(url_for("integrity.index"))
