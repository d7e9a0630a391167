"""The half-month report freezes what the live figures said at the instant it was issued: the
problem figures (one rounding rule), the visits coverage of the round by town, and the trend over
the whole campaign; data changed afterwards moves the live figures, never the issued report."""

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import true

from tests.cases import factories as f
from tests.cases.pages import text
from tests.pdfcheck import assert_pdf
from tests.stats import data
from tests.visits import factories as vf
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.stats import figures as fig
from webapp.stats import reports as rep
from webapp.visits import coverage
from webapp.visits.models import Enterprise, Household

LATE_MARCH = Period(date(2026, 3, 16), date(2026, 3, 31))
RATES = ("solve_rate", "on_time_rate", "sign_rate", "reply_rate", "satisfaction", "reopen_rate")


@pytest.fixture
def traveller():
    with data.frozen() as t:
        yield t


def live_coverage(visit_round):
    homes = coverage.total(coverage.figures(Household, visit_round, "district", true()))[0]
    firms = coverage.total(coverage.figures(Enterprise, visit_round, "district", true()))
    return homes.total, homes.covered, (firms[0].covered if firms else 0)


def test_frozen_figures_equal_the_live_ones_at_the_freeze_instant_and_stay(app, traveller, login_as):
    cat = data.new_category("冻结测试")
    round_ = vf.visit_round(name="第一轮走访", starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 30))
    homes = [vf.household(f"F-{i}", head=f"冻结户{i}") for i in range(4)]
    firm = vf.enterprise("冻结测试企业", serial=4242)
    vf.visit(homes[0], date(2026, 3, 3))
    vf.visit(homes[1], date(2026, 3, 20))
    db.session.commit()
    data.build(traveller, cat.name)  # ends at 1 April 2026

    # The freeze instant: what the live figures say, then the report issued at the same instant.
    with f_locale():
        live = fig.compute([], fig.AsOf(LATE_MARCH))
    live_cov = live_coverage(round_)
    report = rep.issue(f.user("office"), LATE_MARCH)
    db.session.commit()
    frozen = report.figures
    for key in ("total", "solved", "in_progress", "overdue", "cannot_solve", "awaiting", *RATES):
        assert frozen["district"][key] == live.district[key], key
    live_towns = {r["key"]: r for r in live.territories}
    for row in frozen["territories"]:
        if row["key"] in live_towns:
            assert all(row[k] == live_towns[row["key"]][k] for k in ("total", "solved", *RATES)), row["name"]
    cov = frozen["coverage"]
    assert cov["round"] == "第一轮走访"
    assert (cov["district"]["households"], cov["district"]["households_covered"],
            cov["district"]["enterprises_covered"]) == live_cov == (4, 2, 0)
    assert cov["district"]["household_rate"] == fig.pct(2, 4) == 50.0
    assert cov["district"]["enterprises"] == 1
    # The weekly trend of the round up to the period end: covered by each week's end.
    assert [w["end"] for w in cov["weeks"]][:2] == ["2026-03-07", "2026-03-14"] and cov["weeks"][-1]["end"] == "2026-03-31"
    assert [w["household_rate"] for w in cov["weeks"]] == [25.0, 25.0, 50.0, 50.0, 50.0]
    # The trend spans the whole campaign: every half month from the first (1–15 March).
    assert [t["start"] for t in frozen["trend"]] == ["2026-03-01", "2026-03-16"]
    assert sum(t["registered"] for t in frozen["trend"]) == frozen["district"]["total"]

    # Later work moves the live figures …
    vf.visit(homes[2], date(2026, 4, 1))
    vf.visit(firm, date(2026, 4, 1))
    for _i in range(2):
        f.register(category=cat.name)
    db.session.commit()
    assert live_coverage(round_) != live_cov
    assert fig.trend([], [LATE_MARCH.next()])[0]["registered"] >= 2
    # … never the issued report: page, PDF and workbook show the freeze-instant numbers.
    db.session.expire_all()
    assert db.session.get(rep.HalfMonthReport, report.id).figures == frozen
    b = login_as("office")
    page = text(b.get(f"/stats/reports/{report.id}"))
    sentence = "全区4户已走访2户，覆盖率50.0%；企业1家已走访0家，覆盖率0.0%"
    assert sentence in page
    chart = re.search(r'<svg class="trend-chart".*?</svg>', page.split("活动以来半月趋势", 1)[1], re.S).group(0)
    assert len(re.findall(r"<circle", chart)) == len(frozen["trend"]) and "<script" not in page.split("<main", 1)[1]
    pdf = b.client.get(f"/stats/reports/{report.id}/report.pdf").data
    assert_pdf(pdf, ["七、走访覆盖情况", sentence, "八、本轮走访覆盖率周趋势", "九、活动以来半月趋势",
                     "2026年3月上半月", "2026年3月下半月"])
    wb = load_workbook(io.BytesIO(b.client.get(f"/stats/reports/{report.id}/report.xlsx").data))
    ws = wb["走访覆盖情况"]
    assert [c.value for c in ws[1]][:4] == ["镇（街道、功能区）", "户数", "已走访户数", "户覆盖率"]
    town = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "潘安湖街道")
    assert (town[1].value, town[2].value, town[3].value) == (4, 2, 0.5) and town[3].number_format == "0.0%"
    trend = list(wb["活动以来半月趋势"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in trend] == ["2026年3月上半月", "2026年3月下半月"]
    assert [r[1] for r in trend] == [t["registered"] for t in frozen["trend"]]


def f_locale():
    from flask_babel import force_locale

    return force_locale("zh_CN")
