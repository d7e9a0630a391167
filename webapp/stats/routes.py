"""Statistics pages: the dashboard (each role its slice), the half-month reports (issue, correct,
view, history, PDF and Excel).

The dashboard reads ``figures.dashboard`` (six grouped queries whatever the data size); every
count links to the work queue filtered to the problems behind it, as far as the queue's filters
reach. Reports are read from their frozen JSON, never recomputed.
"""

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases.access import UNIT_ROLES
from ..cases.workflow import Status
from ..core import clock
from ..core.errors import Conflict
from ..core.extensions import db
from ..core.periods import Period, recent
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..visits import access as visit_access
from ..visits import coverage
from . import documents, figures, sums
from . import reports as rep
from .forms import IssueForm, ReissueForm

bp = Blueprint("stats", __name__, url_prefix="/stats")
DASHBOARD_ROLES = (Role.office, Role.leader, Role.group_lead, Role.handler, Role.unit_leader, Role.desk)
dashboard_gate = roles_required(*DASHBOARD_ROLES)
readers = roles_required(Role.office, Role.leader)
office = roles_required(Role.office)
ISSUABLE_PERIODS = 12  # the office may issue any of the last twelve ended periods


@bp.record_once
def _menu(_state) -> None:
    nav.register("stats.dashboard", _l("统计分析"))


# ---------------------------------------------------------------- links to the queue


class QueueLinks:
    """The work-queue address behind a count, or None where the queue cannot filter to it.

    The queue filters by one status, lead unit, town, category and overdue
    (``cases.queries.QueueFilter``). A count of one status links with that status; a count of
    several statuses (solved, in progress, awaiting, other endings) links with the name of the
    group only when the queue accepts that name as a status value (``STATUS_GROUPS``; none is a
    status of its own) — detected, not assumed, so a link never shows another list than its number.
    """

    FIGURES = {
        "total": {},
        "overdue": {"overdue": "1"},
        "cannot_solve": {"status": Status.cannot_solve.value},
    }
    STATUS_GROUPS = {"solved": "solved", "in_progress": "handling", "awaiting": "awaiting",
                     "other_ended": "other_ended"}

    def __init__(self, user):
        from ..cases.queries import QueueFilter

        self.enabled = "cases.queue" in current_app.view_functions
        self.base = {"unit": user.unit_id} if user.role in UNIT_ROLES else {}
        self.figures = dict(self.FIGURES)
        self._built: dict[tuple, str] = {}
        for figure, group in self.STATUS_GROUPS.items():
            if QueueFilter.from_args({"status": group}).status == group:
                self.figures[figure] = {"status": group}

    KEY = "0000000000"  # stands for a row's id in a link built once per column

    def __call__(self, dim: str, key, figure: str) -> str | None:
        if not self.enabled or figure not in self.figures:
            return None
        if dim in ("unit", "department") and key is None:
            return None
        if dim not in ("district", "territory", "unit", "department", "category"):
            return None  # no queue filter by source
        # A table's hundreds of cells share a few links but for the row's id: each column's link
        # is built once per page and the id put in its place.
        keyed = dim != "district" and key is not None
        column = (dim, figure, keyed)
        link = self._built.get(column)
        if link is None:
            args = dict(self.base)
            if dim != "district":
                args[{"territory": "town", "category": "category"}.get(dim, "unit")] = self.KEY if keyed else None
            args.update(self.figures[figure])
            # The district's total is every problem: the queue's "all" tab, not the one it opens on.
            link = self._built[column] = url_for("cases.queue", **(args or {"tab": "all"}))
        return link.replace(self.KEY, str(int(key))) if keyed else link


# ---------------------------------------------------------------- the dashboard


def _chart_data(f: figures.Figures) -> dict:
    """What static/js/charts.js draws (the same numbers as the tables under each chart)."""
    overdue = f.overdue_units[:15]
    return {
        "trend": {
            "labels": [t["label"] for t in f.trend],
            "registered": [t["registered"] for t in f.trend],
            "solved": [t["solved"] for t in f.trend],
            "rate": [t["solve_rate"] for t in f.trend],
            "names": [_("新增问题"), _("化解问题"), _("累计化解率（%）")],
        },
        "overdue": {"labels": [r["name"] for r in overdue], "values": [r["overdue"] for r in overdue],
                    "names": [_("超期问题")]},
        "categories": {"labels": [r["name"] for r in f.categories], "total": [r["total"] for r in f.categories],
                       "solved": [r["solved"] for r in f.categories], "names": [_("问题总数"), _("已化解")]},
    }


def _scope_label(user) -> str:
    if user.role in (Role.office, Role.leader):
        return _("全区")
    if user.role == Role.group_lead:
        return _("%(unit)s登记的问题", unit=user.unit.name)
    return _("%(unit)s牵头办理的问题", unit=user.unit.name)


@bp.get("")
@dashboard_gate
def dashboard():
    """The figures of the user's slice: summary, charts (with their tables), breakdowns."""
    user = current_user
    f = sums.dashboard(user)
    visit_coverage = (coverage.dashboard_panel(user, visit_access.register_scope)
                      if user.role in (Role.office, Role.leader) or visit_access.is_town_user(user) else None)
    return render("stats/dashboard.html", f=f, links=QueueLinks(user), chart_data=_chart_data(f),
                  scope_label=_scope_label(user), today=clock.today(),
                  sees_reports=user.role in (Role.office, Role.leader), visit_coverage=visit_coverage)


# ---------------------------------------------------------------- half-month reports


def _issuable(issued: set) -> list[Period]:
    """Ended periods since the campaign's start, newest first, not issued yet."""
    start = rep.campaign_start()
    return [p for p in reversed(recent(ISSUABLE_PERIODS, include_current=False))
            if p.start not in issued and (start is None or p.end >= start)]


def _reports_page(form: IssueForm | None = None, *, status: int = 200):
    user = current_user
    reports = db.session.scalars(
        select(rep.HalfMonthReport).options(selectinload(rep.HalfMonthReport.issued_by))
        .order_by(rep.HalfMonthReport.period_start.desc(), rep.HalfMonthReport.version.desc()).limit(500)
    ).all()
    issued = {r.period_start for r in reports if r.is_current}
    is_office = user.role == Role.office
    if is_office:
        form = form or IssueForm()
        form.period.choices = [(p.start.isoformat(), p.label) for p in _issuable(issued)]
    return render("stats/reports.html", status=status, reports=reports, form=form if is_office else None)


@bp.get("/reports")
@readers
def reports():
    """The history of issued reports (every version); the office's form to issue one."""
    return _reports_page()


def _period_from(value: str | None) -> Period | None:
    try:
        return Period.starting(date.fromisoformat(value or ""))
    except ValueError:
        return None


@bp.post("/reports")
@office
def issue():
    """出具 a period's report (the figures are frozen now)."""
    form = IssueForm()
    form.period.choices = []
    if not form.validate_on_submit():
        return _reports_page(form, status=200)
    period = _period_from(form.period.data)
    if period is None:
        form.period.errors = [_("请选择统计期间。")]
        return _reports_page(form)
    try:
        report = rep.issue(current_user, period)
        db.session.commit()
    except rep.ReportInvalid as exc:
        db.session.rollback()
        form.period.errors = [str(m) for m in exc.errors.values()]
        return _reports_page(form)
    except (Conflict, IntegrityError) as exc:
        db.session.rollback()
        message = str(exc) if isinstance(exc, Conflict) else str(rep.STALE_REPORT)
        flash(message, "error")
        return _reports_page(form, status=409)
    flash(_("已出具%(period)s半月调度统计表。", period=period.label), "success")
    return redirect(url_for("stats.report", report_id=report.id))


def _get_report_or_404(report_id: int, *, for_update: bool = False) -> rep.HalfMonthReport:
    q = select(rep.HalfMonthReport).where(rep.HalfMonthReport.id == report_id)
    if for_update:
        q = q.with_for_update()
    report = db.session.scalar(q)
    if report is None:
        abort(404)
    return report


def _report_page(report: rep.HalfMonthReport, form: ReissueForm | None = None, *, status: int = 200):
    versions = db.session.scalars(
        select(rep.HalfMonthReport).options(selectinload(rep.HalfMonthReport.issued_by)).where(rep.HalfMonthReport.period_start == report.period_start)
        .order_by(rep.HalfMonthReport.version.desc())).all()
    current = next((v for v in versions if v.is_current), None)
    if current_user.role == Role.office and report.is_current:
        form = form or ReissueForm(version=str(report.version))
    else:
        form = None
    extra = [*documents.coverage_sections(report.figures), documents.trend_section(report.figures)]
    return render("stats/report.html", status=status, report=report, f=report.figures, versions=versions,
                  current=current, form=form, period=report.period, extra_sections=extra)


@bp.get("/reports/<int:report_id>")
@readers
def report(report_id: int):
    """One issued version (an old one says which version replaced it)."""
    return _report_page(_get_report_or_404(report_id))


@bp.post("/reports/<int:report_id>/reissue")
@office
def reissue(report_id: int):
    """重新出具: a correction; the new version is computed afresh, the old one kept."""
    report = _get_report_or_404(report_id, for_update=True)
    form = ReissueForm()
    if not form.validate_on_submit():
        return _report_page(report, form)
    try:
        new = rep.reissue(current_user, report, reason=form.reason.data, version=form.version.data)
        db.session.commit()
    except rep.ReportInvalid as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors = [str(message)]
        return _report_page(_get_report_or_404(report_id), form)
    except (Conflict, IntegrityError):
        db.session.rollback()
        flash(str(rep.STALE_REPORT), "error")
        return _report_page(_get_report_or_404(report_id), form, status=409)
    flash(_("已重新出具（第%(version)s版），原版本已保留。", version=new.version), "success")
    return redirect(url_for("stats.report", report_id=new.id))


def _filename(report: rep.HalfMonthReport, ext: str) -> str:
    return f"半月调度统计表-{report.period.label_compact}-第{report.version}版.{ext}"


@bp.get("/reports/<int:report_id>/report.pdf")
@readers
def report_pdf(report_id: int):
    """半月调度统计表 as the printed document (A4 landscape; Chinese whatever the user's language)."""
    report = _get_report_or_404(report_id)
    with force_locale("zh_CN"):
        data = render_pdf("half_month_report", **documents.print_context(report))
    return pdf_response(data, _filename(report, "pdf"))


@bp.get("/reports/<int:report_id>/report.xlsx")
@readers
def report_xlsx(report_id: int):
    """The same table in Excel, laid out as the printed document."""
    report = _get_report_or_404(report_id)
    with force_locale("zh_CN"):
        data = documents.workbook(report)
    return documents.xlsx_download(data, _filename(report, "xlsx"))
