"""Half-month reports (半月调度统计): the office issues a period's figures, frozen as JSON.

A report stores what was computed when it was issued (``figures``); later changes to problems
never alter it. Issuing again for the same period is an audited correction: the new version
becomes current and the old one stays, marked not current. Rankings and the change against
the previous period are computed at issue time and frozen with the rest.
"""

from datetime import date, datetime, timedelta
from fractions import Fraction

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..cases.models import Problem
from ..core import audit, clock
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.periods import Period
from ..core.types import UTCDateTime
from ..org.models import TERRITORIAL, Unit, UnitKind
from ..visits import coverage
from ..visits.models import Enterprise, Household, VisitRound
from . import figures as fig

SCHEMA = 1
REASON_MAX = 500
STALE_REPORT = _l("该期报告刚刚已被他人出具或更正，请刷新页面查看最新版本后再操作。")


class HalfMonthReport(db.Model):
    """One issued version of a period's 半月调度统计表."""

    __tablename__ = "half_month_reports"
    audit_type = "half_month_report"
    __table_args__ = (
        # Two clerks issuing the same period at once: the second insert fails (409), never two v1.
        UniqueConstraint("period_start", "version", name="period_version"),
        Index("ix_half_month_reports_current", "is_current", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Why a new version was issued (corrections only).
    correction_reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("half_month_reports.id"))
    figures: Mapped[dict] = mapped_column(JSON)

    issued_by: Mapped[User] = relationship()
    replaces: Mapped["HalfMonthReport | None"] = relationship(remote_side="HalfMonthReport.id")

    @property
    def period(self) -> Period:
        return Period(self.period_start, self.period_end)


# ---------------------------------------------------------------- ranking and change


def rank(rows: list[dict]) -> list[dict]:
    """Rank by solve rate (exact fractions, higher first), ties broken by fewer overdue problems;
    rows still tied share a rank (1, 2, 2, 4); among them, and among rows without problems (not
    ranked: ``None``, listed last), the given order is kept. Returns the rows in rank order;
    each gets ``rank``."""
    def key(r):
        return (-Fraction(r["solved"], r["total"]), r["overdue"])

    ranked = sorted((r for r in rows if r["total"]), key=key)
    previous = None
    for i, r in enumerate(ranked, start=1):
        r["rank"] = previous[1] if previous and previous[0] == key(r) else i
        previous = (key(r), r["rank"])
    rest = [r for r in rows if not r["total"]]
    for r in rest:
        r["rank"] = None
    return ranked + rest


def _change(row: dict, before: dict | None) -> dict | None:
    if before is None:
        return None
    rate = None
    if row["solve_rate"] is not None and before.get("solve_rate") is not None:
        rate = round(row["solve_rate"] - before["solve_rate"], 1)
    rank_change = None
    if row.get("rank") is not None and before.get("rank") is not None:
        rank_change = before["rank"] - row["rank"]  # positive: moved up
    return {"total": row["total"] - before["total"], "solved": row["solved"] - before["solved"],
            "overdue": row["overdue"] - before["overdue"], "solve_rate": rate, "rank": rank_change}


def _with_all_units(rows: list[dict], units: list[Unit]) -> list[dict]:
    """Every active unit of the group appears, with zeros when it has no problems."""
    by_key = {r["key"]: r for r in rows}
    out = []
    for u in units:
        row = by_key.pop(u.id, None) or fig.add_rates({**dict.fromkeys(fig.COUNTS, 0), "key": u.id})
        row.update(name=u.name, kind=u.kind.value)
        out.append(row)
    out.extend(by_key.values())  # a unit deactivated since, still holding problems
    return out


def current_report(period: Period) -> HalfMonthReport | None:
    return db.session.scalar(select(HalfMonthReport).where(
        HalfMonthReport.period_start == period.start, HalfMonthReport.is_current.is_(True)))


def compute_report(period: Period) -> dict:
    """The report's figures as of the period end (district-wide), ranked, with the change
    against the previous period's current report. Names are taken in Chinese."""
    with force_locale("zh_CN"):
        f = fig.compute([], fig.AsOf(period))
    units = db.session.scalars(select(Unit).where(
        Unit.is_active.is_(True), Unit.kind.in_(TERRITORIAL | {UnitKind.department})).order_by(Unit.id)).all()
    territories = rank(_with_all_units(f.territories, [u for u in units if u.kind in TERRITORIAL]))
    departments = rank(_with_all_units(f.departments, [u for u in units if u.kind == UnitKind.department]))
    prev = current_report(period.previous())
    prev_rows = {}
    if prev is not None:
        for group in ("territories", "departments"):
            prev_rows[group] = {r["key"]: r for r in prev.figures.get(group, [])}
    for group, rows in (("territories", territories), ("departments", departments)):
        for r in rows:
            r["change"] = _change(r, prev_rows[group].get(r["key"])) if prev else None
    district = f.district
    district["change"] = _change(district, prev.figures["district"]) if prev else None
    start = campaign_start()
    return {
        "schema": SCHEMA,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        # 第N期, counted from the campaign's first half month (frozen with the figures).
        "issue_no": period.number_from(start) if start is not None else 1,
        "as_of": period.end_utc.isoformat(),
        "computed_at": clock.now().isoformat(),
        "district": district,
        "territories": territories,
        "departments": departments,
        "categories": f.categories,
        "sources": f.sources,
        "coverage": coverage_figures(period),
        "trend": campaign_trend(period, start),
        "overdue_units": [{"key": r["key"], "name": r["name"], "kind": r["kind"], "overdue": r["overdue"]}
                          for r in f.overdue_units],
        "previous": ({"id": prev.id, "version": prev.version, "start": prev.period_start.isoformat(),
                      "end": prev.period_end.isoformat()} if prev else None),
    }


def campaign_trend(period: Period, start: date | None) -> list[dict]:
    """Every half month from the campaign's first to ``period``: registered and solved within it,
    and the cumulative solve rate at its end (one statement, ``figures.trend``)."""
    if start is None:
        return []
    periods = [Period.of(start)]
    while periods[-1] < period:
        periods.append(periods[-1].next())
    return [{"start": r["period"].start.isoformat(), "label": r["label"], "registered": r["registered"],
             "solved": r["solved"], "total": r["total"], "solved_total": r["solved_total"],
             "solve_rate": r["solve_rate"]} for r in fig.trend([], periods)]


def _coverage_row(name: str, key, homes: "coverage.Figure | None", firms: "coverage.Figure | None") -> dict:
    ht, hc = (homes.total, homes.covered) if homes else (0, 0)
    et, ec = (firms.total, firms.covered) if firms else (0, 0)
    return {"key": key, "name": name, "households": ht, "households_covered": hc,
            "household_rate": fig.pct(hc, ht), "enterprises": et, "enterprises_covered": ec,
            "enterprise_rate": fig.pct(ec, et), "rate": fig.pct(hc + ec, ht + et)}


def coverage_figures(period: Period) -> dict | None:
    """The visits coverage of the round under way at the period end (``visits.coverage``, read
    through its public functions): per town and for the district as it stands when frozen, and
    the weekly trend of the district's rate since the round began. None without a round."""
    visit_round = coverage.current_round(period.end)
    if visit_round is None or visit_round.starts_on > period.end:
        return None
    everything = sa_true()
    homes = {f.key: f for f in coverage.figures(Household, visit_round, "town", everything)}
    firms = {f.key: f for f in coverage.figures(Enterprise, visit_round, "town", everything)}
    names = {f.key: f.name for f in [*homes.values(), *firms.values()]}
    towns = [_coverage_row(names[k], k, homes.get(k), firms.get(k)) for k in names]
    towns.sort(key=lambda r: (-(r["rate"] or 0), r["name"]))
    all_homes, all_firms = coverage.total(list(homes.values())), coverage.total(list(firms.values()))
    district = _coverage_row("", None, all_homes[0] if all_homes else None, all_firms[0] if all_firms else None)
    # The weekly trend: covered by the end of each week of the round, up to the period end (a
    # round cut at that day, never stored).
    upto = min(visit_round.ends_on, period.end)
    weeks = []
    day = visit_round.starts_on
    while day <= upto:
        end = min(day + timedelta(days=6), upto)
        cut = VisitRound(name=visit_round.name, starts_on=visit_round.starts_on, ends_on=end)
        h = coverage.total(coverage.figures(Household, cut, "district", everything))
        e = coverage.total(coverage.figures(Enterprise, cut, "district", everything))
        row = _coverage_row("", None, h[0] if h else None, e[0] if e else None)
        weeks.append({"end": end.isoformat(), "rate": row["rate"], "household_rate": row["household_rate"],
                      "enterprise_rate": row["enterprise_rate"]})
        day = end + timedelta(days=1)
    return {"round": visit_round.name, "starts_on": visit_round.starts_on.isoformat(),
            "ends_on": visit_round.ends_on.isoformat(), "district": district, "towns": towns, "weeks": weeks}


# ---------------------------------------------------------------- operations (flush, never commit)


class ReportInvalid(Invalid):
    """Field errors: field name → message."""

    def __init__(self, errors: dict):
        super().__init__(next(iter(errors.values())))
        self.errors = errors


def campaign_start() -> date | None:
    """The first day of the half month in which the campaign's first problem was registered."""
    first = db.session.scalar(select(func.min(Problem.registered_at)))
    return Period.of(clock.local(first).date()).start if first is not None else None


def issue(user, period: Period, *, today: date | None = None) -> HalfMonthReport:
    """出具: the first version of a period's report (the period must have ended, and must not
    lie before the campaign's start)."""
    if not period.ended(today):
        raise ReportInvalid({"period": _l("该半月尚未结束，不能出具统计表。")})
    start = campaign_start()
    if start is not None and period.end < start:
        raise ReportInvalid({"period": _l("活动从%(day)s所在的半月开始，此前的半月不能出具统计表。",
                                          day=start.isoformat())})
    if current_report(period) is not None:
        raise Conflict(_l("该期统计表已经出具。如需更正，请在报告页面重新出具。"))
    report = HalfMonthReport(period_start=period.start, period_end=period.end, version=1, is_current=True,
                             issued_by_id=user.id, issued_at=clock.now(), figures=compute_report(period))
    db.session.add(report)
    db.session.flush()
    audit.record("stats.report_issue", obj=report, user=user, detail={
        "period": [period.start.isoformat(), period.end.isoformat()], "version": 1})
    return report


def reissue(user, report: HalfMonthReport, *, reason: str, version) -> HalfMonthReport:
    """更正: a new version computed afresh; the old one stays, no longer current (audited)."""
    reason = (reason or "").strip()
    if not reason:
        raise ReportInvalid({"reason": _l("请填写更正原因。")})
    if len(reason) > REASON_MAX:
        raise ReportInvalid({"reason": _l("更正原因不能超过%(n)s字。", n=REASON_MAX)})
    if not report.is_current or str(version) != str(report.version):
        raise Conflict(STALE_REPORT)
    report.is_current = False
    db.session.flush()
    period = report.period
    new = HalfMonthReport(period_start=period.start, period_end=period.end, version=report.version + 1,
                          is_current=True, issued_by_id=user.id, issued_at=clock.now(), correction_reason=reason,
                          replaces_id=report.id, figures=compute_report(period))
    db.session.add(new)
    db.session.flush()
    audit.record("stats.report_reissue", obj=new, user=user, detail={
        "period": [period.start.isoformat(), period.end.isoformat()], "version": new.version,
        "replaces": report.id, "replaced_version": report.version, "reason": reason})
    return new
