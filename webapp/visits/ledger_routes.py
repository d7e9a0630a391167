"""走访台账: every visit the user may read, with filters, the Excel export, the printed 走访记录表
(one visit, A4) and a village's 台账 (A4 landscape, header repeated, pages numbered); and the
office's list of visits not linked to a register entry, fixed by hand or matched by name.
"""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases.access import mask_phone
from ..cases.models import Problem
from ..core import clock
from ..core.errors import Invalid
from ..core.extensions import db
from ..core.numbering import format_number
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..org.models import Unit, UnitKind
from . import access, exports, queries
from . import operations as ops
from .models import VISIT_MODE_LABELS, Enterprise, Household, Visit, VisitMode

bp = Blueprint("ledger", __name__)
bp.before_request(access.refuse_departments)
readers = roles_required(*access.READERS)
office = roles_required(Role.office)
PAGE_SIZE = 50
MAX_PRINT = 2000  # visits in one printed village ledger


@bp.record_once
def _menu(_state) -> None:
    nav.register("ledger.index", _l("走访台账"), when=access.has_register_part)
    nav.register("ledger.unlinked", _l("未关联走访"), when=access.has_register_part)


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@dataclass
class LedgerFilters:
    start: date | None = None
    end: date | None = None
    village: int | None = None
    mode: str = ""
    q: str = ""

    @classmethod
    def from_args(cls) -> "LedgerFilters":
        mode = request.args.get("mode", "")
        return cls(start=_date_arg("from"), end=_date_arg("to"), village=request.args.get("village", type=int),
                   mode=mode if mode in VisitMode.__members__ else "", q=(request.args.get("q") or "").strip()[:40])

    def as_args(self) -> dict:
        out = {"from": self.start.isoformat() if self.start else None, "to": self.end.isoformat() if self.end else None,
               "village": self.village, "mode": self.mode, "q": self.q}
        return {k: v for k, v in out.items() if v not in (None, "")}

    def conditions(self, user) -> list:
        cond = [access.visit_scope(user)]
        if self.start:
            cond.append(Visit.visited_on >= self.start)
        if self.end:
            cond.append(Visit.visited_on <= self.end)
        if self.village:
            cond.append(Visit.village_id == self.village)
        if self.mode:
            cond.append(Visit.mode == VisitMode(self.mode))
        if self.q:
            cond.append(Visit.household_name.like(f"%{self.q}%"))
        return cond


@bp.get("/visits/ledger")
@readers
def index():
    """走访台账: the visits the user may read, newest first, filtered."""
    filters = LedgerFilters.from_args()
    cond = filters.conditions(current_user)
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    items = list(db.session.scalars(
        select(Visit).options(joinedload(Visit.village), joinedload(Visit.created_by))
        .where(*cond).order_by(Visit.visited_on.desc(), Visit.id.desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    readable = set(db.session.scalars(select(Visit.id).where(
        Visit.id.in_([v.id for v in items] or [-1]), _record_scope(current_user))))
    return render("visits/ledger.html", block="results", filters=filters, items=items, total=total, page=page,
                  pages=pages, villages=queries.places(current_user, villages=True), modes=VISIT_MODE_LABELS,
                  readable=readable)


def _record_scope(user):
    # The 走访记录表 page is for those who read the visit pages (the town's people read the ledger).
    return access.visit_scope(user) if user.role in (Role.cadre, Role.group_lead, Role.office, Role.leader) \
        else Visit.id.is_(None)


@bp.get("/visits/ledger/export.xlsx")
@readers
def export():
    """The filtered ledger as a workbook, streamed (write-only)."""
    return exports.ledger_workbook(LedgerFilters.from_args().conditions(current_user))


def _visit_or_404(visit_id: int) -> Visit:
    visit = db.session.scalar(select(Visit).options(
        joinedload(Visit.village), joinedload(Visit.town), joinedload(Visit.created_by),
        selectinload(Visit.problems)).where(Visit.id == visit_id, access.visit_scope(current_user)))
    if visit is None:
        abort(404)
    return visit


@bp.get("/visits/<int:visit_id>/record.pdf")
@readers
def record_pdf(visit_id: int):
    """走访记录表 (A4) of one visit; the residents' numbers masked."""
    visit = _visit_or_404(visit_id)
    problems = db.session.scalars(select(Problem).options(joinedload(Problem.category))
                                  .where(Problem.visit_id == visit.id).order_by(Problem.id)).all()
    with force_locale("zh_CN"):
        doc_number = format_number("visit_record", visit.record_no) if visit.record_no else ""
        data = render_pdf("visit_record", doc_title="走访记录表", doc_number=doc_number, visit=_visit_row(visit), problems=[
            {"number": p.number, "title": p.title, "category": p.category.name if p.category else "",
             "resident": p.resident_name, "phone": mask_phone(p.resident_phone)} for p in problems],
            printed_on=clock.today())
    return pdf_response(data, f"走访记录表-{visit.visited_on.isoformat()}-{visit.id}.pdf")


def _visit_row(v: Visit) -> dict:
    return {"date": v.visited_on, "town": v.town.name, "village": v.village.name, "name": v.household_name,
            "kind": "企" if v.household_kind.value == "enterprise" else "户", "mode": str(VISIT_MODE_LABELS[v.mode]),
            "met": v.met, "visitors": v.visitors, "situation": v.situation, "demands": v.demands,
            "follow_up": v.follow_up, "problems": len(v.problems) if "problems" in v.__dict__ else None}


@bp.get("/visits/ledger/village.pdf")
@readers
def village_pdf():
    """A village's 走访台账 (A4 landscape, the header on every page, pages numbered)."""
    filters = LedgerFilters.from_args()
    village = db.session.get(Unit, filters.village or 0)
    if village is None or village.kind != UnitKind.village:
        abort(404)
    cond = filters.conditions(current_user)
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond))
    if total > MAX_PRINT:
        flash(_("一次最多打印 %(n)d 条走访记录，请缩小日期范围。", n=MAX_PRINT), "error")
        return redirect(url_for("ledger.index", **filters.as_args()))
    visits = db.session.scalars(select(Visit).options(
        joinedload(Visit.village), joinedload(Visit.town), selectinload(Visit.problems))
        .where(*cond).order_by(Visit.visited_on, Visit.id)).all()
    with force_locale("zh_CN"):
        data = render_pdf("village_ledger", doc_title=f"{village.name}走访台账", village=village.name,
                          town=village.parent.name if village.parent else "", start=filters.start, end=filters.end,
                          rows=[_visit_row(v) for v in visits], printed_on=clock.today())
    return pdf_response(data, f"{village.name}走访台账.pdf")


# ---------------------------------------------------------------- visits not linked


@bp.get("/visits/unlinked")
@office
def unlinked():
    """Visits recorded by name that no household or enterprise of the register matched."""
    page = max(1, request.args.get("page", 1, type=int))
    cond = [Visit.household_id.is_(None), Visit.enterprise_id.is_(None), Visit.unregistered_reason == ""]
    total = db.session.scalar(select(func.count()).select_from(Visit).where(*cond))
    items = list(db.session.scalars(select(Visit).options(joinedload(Visit.village), joinedload(Visit.town))
                                    .where(*cond).order_by(Visit.village_id, Visit.household_name, Visit.id)
                                    .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    # Candidates: the open entries of each shown visit's village (households) or town (enterprises).
    villages = {v.village_id for v in items if v.household_kind.value != "enterprise"}
    towns = {v.town_id for v in items if v.household_kind.value == "enterprise"}
    homes: dict[int, list] = {}
    for h in db.session.scalars(select(Household).where(Household.village_id.in_(villages or [-1]),
                                                        Household.is_closed.is_(False))
                                .order_by(Household.initials, Household.number).limit(5000)):
        homes.setdefault(h.village_id, []).append(h)
    firms: dict[int, list] = {}
    for e in db.session.scalars(select(Enterprise).where(Enterprise.town_id.in_(towns or [-1]),
                                                         Enterprise.is_closed.is_(False))
                                .order_by(Enterprise.initials).limit(5000)):
        firms.setdefault(e.town_id, []).append(e)
    pages = max(1, -(-total // PAGE_SIZE))
    return render("visits/unlinked.html", items=items, total=total, page=page, pages=pages, homes=homes, firms=firms)


@bp.post("/visits/unlinked/match")
@office
def match():
    """Link every visit whose name and village match exactly one register entry."""
    n = ops.link_visits_by_name()
    db.session.commit()
    flash(_("已按姓名和村（社区）关联 %(n)d 条走访记录。", n=n), "success")
    return redirect(url_for("ledger.unlinked"))


@bp.post("/visits/<int:visit_id>/link")
@office
def link(visit_id: int):
    """Tie one visit to the household or enterprise the office picked."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        abort(404)
    target = request.form.get("entry", "")
    kind, _sep, raw_id = target.partition(":")
    model = {"h": Household, "e": Enterprise}.get(kind)
    entry = db.session.get(model, int(raw_id)) if model is not None and raw_id.isdigit() else None
    if entry is None or entry.is_closed:
        flash(_("请选择要关联的户或企业。"), "error")
        return redirect(url_for("ledger.unlinked"))
    try:
        ops.link_visit(visit, current_user, household=entry if kind == "h" else None,
                       enterprise=entry if kind == "e" else None)
        db.session.commit()
    except Invalid as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("已关联。"), "success")
    return redirect(url_for("ledger.unlinked"))
