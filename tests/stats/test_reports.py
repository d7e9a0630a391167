"""Half-month reports: periods, ranking (ties), frozen figures, corrections that keep the old
version, the change against the previous period, and the operations' refusals."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.stats import data
from webapp.cases.models import Problem
from webapp.core.audit import AuditEvent
from webapp.core.errors import Conflict
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.stats import reports as rep


@pytest.fixture
def traveller():
    with data.frozen() as t:
        yield t


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(("day", "start", "end"), [
    (date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 15)),
    (date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 15)),
    (date(2026, 3, 16), date(2026, 3, 16), date(2026, 3, 31)),
    (date(2026, 2, 20), date(2026, 2, 16), date(2026, 2, 28)),
    (date(2028, 2, 29), date(2028, 2, 16), date(2028, 2, 29)),
    (date(2026, 4, 30), date(2026, 4, 16), date(2026, 4, 30)),
])
def test_half_month_periods(day, start, end):
    p = Period.of(day)
    assert (p.start, p.end) == (start, end)
    assert p.previous().end == start - timedelta(days=1)
    assert p.next().start == end + timedelta(days=1)


def test_period_bounds_are_local_midnight():
    p = Period(date(2026, 3, 1), date(2026, 3, 15))
    # 1 March 00:00 and 16 March 00:00 in Jiawang are 16:00 UTC the day before.
    assert p.start_utc.isoformat() == "2026-02-28T16:00:00+00:00"
    assert p.end_utc.isoformat() == "2026-03-15T16:00:00+00:00"
    assert p.issue_no == 5 and Period.of(date(2026, 12, 31)).issue_no == 24
    assert Period.starting(date(2026, 3, 2)) is None


# ---------------------------------------------------------------- ranking


def _r(name, solved, total, overdue):
    return {"name": name, "solved": solved, "total": total, "overdue": overdue}


def test_ranking_by_solve_rate_then_fewer_overdue():
    rows = [
        _r("甲", 1, 2, 3),   # 50 %, 3 overdue
        _r("乙", 3, 4, 0),   # 75 %
        _r("丙", 2, 4, 1),   # 50 %, 1 overdue: before 甲
        _r("丁", 0, 0, 0),   # no problems: not ranked, last
        _r("戊", 4, 8, 1),   # 50 %, 1 overdue: the same as 丙 exactly → shares its rank
        _r("己", 1, 3, 0),   # 33.3 %
        _r("庚", 2, 6, 0),   # 33.3 % (2/6 = 1/3 exactly), 0 overdue → ties with 己
    ]
    ranked = rep.rank(rows)
    assert [(r["name"], r["rank"]) for r in ranked] == [
        ("乙", 1), ("丙", 2), ("戊", 2), ("甲", 4), ("己", 5), ("庚", 5), ("丁", None)]


def test_ranking_compares_exact_rates_not_rounded_ones():
    # 66.67 % and 66.66 % both round to 66.7: the one truly ahead stays ahead.
    ranked = rep.rank([_r("甲", 6666, 10000, 0), _r("乙", 2, 3, 5)])
    assert [(r["name"], r["rank"]) for r in ranked] == [("乙", 1), ("甲", 2)]


# ---------------------------------------------------------------- issue, freeze, correct


def _stored(report_id: int) -> dict:
    db.session.expire_all()
    return db.session.get(rep.HalfMonthReport, report_id).figures


def _cat_row(figures: dict, category_id: int) -> dict:
    return next(r for r in figures["categories"] if r["key"] == category_id)


def test_an_issued_report_is_frozen_and_a_correction_keeps_the_old_version(app, traveller):
    cat = data.new_category("报表测试甲")
    p = data.build(traveller, cat.name)  # now 1 April
    office = f.user("office")
    report = rep.issue(office, data.MARCH_1)
    db.session.commit()
    issued = _stored(report.id)
    row = _cat_row(issued, cat.id)
    assert {k: row[k] for k in data.AS_OF_MARCH_15} == data.AS_OF_MARCH_15
    assert issued["period"] == {"start": "2026-03-01", "end": "2026-03-15"}

    # Later changes: B is replied to and closed, a problem is recorded for a day in the period
    # (the clock moved back), D is solved — none of it alters the issued report.
    hf.reply(p["B"])
    data.solve(p["D"])
    traveller.move_to(data.MON + timedelta(days=7))
    f.register(category=cat.name)
    traveller.move_to(data.LATER + timedelta(days=1))
    assert _stored(report.id) == issued
    fresh = rep.compute_report(data.MARCH_1)
    assert _cat_row(fresh, cat.id)["total"] == 15  # what a recomputation would say now

    # Re-issue: a new version, the old one kept and no longer current; audited with the reason.
    with pytest.raises(rep.ReportInvalid):
        rep.reissue(office, report, reason="  ", version=report.version)
    v2 = rep.reissue(office, report, reason="补录3月9日登记的问题。", version=1)
    db.session.commit()
    db.session.expire_all()
    old, new = db.session.get(rep.HalfMonthReport, report.id), db.session.get(rep.HalfMonthReport, v2.id)
    assert (old.version, old.is_current, new.version, new.is_current) == (1, False, 2, True)
    assert new.replaces_id == old.id and new.correction_reason == "补录3月9日登记的问题。"
    assert old.figures == issued
    assert _cat_row(new.figures, cat.id)["total"] == 15
    assert rep.current_report(data.MARCH_1).id == new.id
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.event.like("stats.report_%"))
                                .order_by(AuditEvent.id)).all()
    assert [e.event for e in events] == ["stats.report_issue", "stats.report_reissue"]
    assert "补录3月9日登记的问题。" in events[1].detail and events[1].object_id == str(new.id)

    # The old version cannot be corrected again, nor the current one with a stale version.
    with pytest.raises(Conflict):
        rep.reissue(office, old, reason="再次更正", version=1)
    with pytest.raises(Conflict):
        rep.reissue(office, new, reason="再次更正", version=1)
    db.session.rollback()


def test_issue_refuses_a_running_period_and_a_second_first_version(app, traveller):
    office = f.user("office")
    with pytest.raises(rep.ReportInvalid):
        rep.issue(office, Period.of(data.MON.date()))  # 1–15 March is running on 2 March
    traveller.move_to(data.LATER)
    rep.issue(office, data.MARCH_1)
    db.session.commit()
    with pytest.raises(Conflict):
        rep.issue(office, data.MARCH_1)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(rep.HalfMonthReport)) == 1


def test_two_first_versions_cannot_both_be_stored(app, traveller):
    """The unique (period, version) constraint: what a concurrent second issue runs into."""
    from sqlalchemy.exc import IntegrityError

    traveller.move_to(data.LATER)
    office = f.user("office")
    for _i in range(2):
        db.session.add(rep.HalfMonthReport(period_start=data.MARCH_1.start, period_end=data.MARCH_1.end,
                                           version=1, is_current=True, issued_by_id=office.id, figures={}))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_change_against_the_previous_period_and_rankings(app, traveller):
    # 潘安湖街道 (its area's problems): 1 of 2 solved by 28 February, 3 of 5 by 15 March.
    traveller.move_to(datetime(2026, 2, 26, 2, 0, tzinfo=UTC))
    hf.closed()
    hf.in_progress()
    traveller.move_to(data.MON)
    hf.closed()
    hf.closed()
    hf.in_progress(dept=True)  # 区民政局 leads it
    traveller.move_to(data.LATER)
    hf.in_progress(dept=True)  # 1 April: 区民政局 leads one more
    office = f.user("office")
    feb = rep.issue(office, data.MARCH_1.previous())
    db.session.commit()
    mar = rep.issue(office, data.MARCH_1)
    db.session.commit()
    fb, mr = _stored(feb.id), _stored(mar.id)
    assert fb["previous"] is None and all(r["change"] is None for r in fb["territories"])
    assert mr["previous"] == {"id": feb.id, "version": 1, "start": "2026-02-16", "end": "2026-02-28"}

    town = f.unit("潘安湖街道").id
    before = next(r for r in fb["territories"] if r["key"] == town)
    now = next(r for r in mr["territories"] if r["key"] == town)
    assert now["total"] - before["total"] == 3 and now["solved"] - before["solved"] == 2
    assert now["change"]["total"] == 3 and now["change"]["solved"] == 2
    assert now["change"]["solve_rate"] == round(now["solve_rate"] - before["solve_rate"], 1)
    assert now["change"]["rank"] == before["rank"] - now["rank"]
    if (before["total"], before["solved"], now["total"], now["solved"]) == (2, 1, 5, 3):  # no other problems
        assert (before["solve_rate"], now["solve_rate"], now["change"]["solve_rate"]) == (50.0, 60.0, 10.0)
    assert mr["district"]["change"]["total"] == mr["district"]["total"] - fb["district"]["total"]

    # Every active town/street/zone and department is listed, ranked where it has problems.
    from webapp.org.models import TERRITORIAL, Unit, UnitKind

    towns = set(db.session.scalars(select(Unit.id).where(Unit.kind.in_(TERRITORIAL), Unit.is_active.is_(True))))
    depts = set(db.session.scalars(select(Unit.id).where(Unit.kind == UnitKind.department,
                                                         Unit.is_active.is_(True))))
    assert {r["key"] for r in mr["territories"]} >= towns
    assert {r["key"] for r in mr["departments"]} >= depts
    for group in ("territories", "departments"):
        ranked = [r for r in mr[group] if r["rank"] is not None]
        assert all(r["total"] for r in ranked) and all(not r["total"] for r in mr[group] if r["rank"] is None)
        keys = [(-r["solved"] / r["total"], r["overdue"]) for r in ranked]
        assert keys == sorted(keys)
    # 区民政局's problem of 1 April is after 15 March: not in the March report.
    mzj = next(r for r in mr["departments"] if r["key"] == f.unit("区民政局").id)
    live_mzj = db.session.scalar(select(func.count()).select_from(Problem).where(
        Problem.lead_unit_id == f.unit("区民政局").id))
    assert mzj["total"] == live_mzj - 1
    # Units with overdue problems are named (none overdue on 15 March among ours).
    assert all(u["overdue"] > 0 for u in mr["overdue_units"])


def test_no_report_for_a_period_before_the_campaign_started(app, traveller, login_as):
    hf.in_progress()  # the campaign's first problem: registered on Monday 2 March 2026
    traveller.move_to(data.LATER)
    assert rep.campaign_start() == date(2026, 3, 1)
    february = Period.of(date(2026, 2, 20))
    with pytest.raises(rep.ReportInvalid) as refused:
        rep.issue(f.user("office"), february)
    assert "2026-03-01" in str(refused.value)
    db.session.rollback()
    # The office's form offers the periods since the start only.
    page = login_as("office").get("/stats/reports").get_data(as_text=True)
    assert 'value="2026-03-01"' in page and 'value="2026-03-16"' in page
    assert 'value="2026-02-16"' not in page and 'value="2026-02-01"' not in page
    # Posting the earlier period anyway: refused with the reason, nothing issued.
    b = login_as("office")
    resp = b.post("/stats/reports", {"period": "2026-02-16"})
    assert resp.status_code == 200 and "此前的半月不能出具统计表" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(rep.HalfMonthReport)) == 0
