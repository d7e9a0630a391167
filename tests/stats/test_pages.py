"""The statistics pages as people use them: the dashboard (slices, links to the queue, charts
with their tables, a bounded number of queries), issuing and correcting a half-month report
through the forms, and the report read back from its PDF and its Excel workbook."""

import html
import io
import json
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import counted_queries, text
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf, page_texts
from tests.stats import data
from webapp.cases.models import Problem
from webapp.core.extensions import db
from webapp.stats import reports as rep


@pytest.fixture
def traveller():
    with data.frozen() as t:
        yield t


def _category_row(page: str, name: str) -> str:
    """The HTML of the dashboard's table row of category ``name`` (the category table)."""
    section = page.split('id="category-h"', 1)[1].split("</section>", 1)[0]
    m = re.search(r"<tr>\s*<th scope=\"row\">" + re.escape(name) + r"</th>(.*?)</tr>", section, re.S)
    assert m, f"no row for {name}"
    return m.group(1)


def _cells(row_html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).split()[0] if re.sub(r"<[^>]+>", "", c).split() else ""
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)]


def _queue_total(b, url: str) -> int:
    m = re.search(r"共 (\d+) 个问题", text(b.get(url)))
    assert m, f"no total on {url}"
    return int(m.group(1))


def test_dashboard_figures_and_links_to_the_queue(app, traveller, login_as):
    cat = data.new_category("页面测试甲")
    data.build(traveller, cat.name)
    b = login_as("office")
    resp = b.get("/stats")
    assert resp.status_code == 200
    page = text(resp)
    row = _category_row(page, "页面测试甲")
    # total, solved, in progress, overdue, cannot solve, then the six rates.
    assert _cells(row)[:5] == ["14", "4", "4", "4", "3"]
    assert _cells(row)[5:] == ["28.6%", "75.0%", "90.0%", "44.4%", "50.0%", "50.0%"]

    # Every link opens the queue on exactly the problems counted (counts of several statuses
    # link only if the queue can filter to them).
    expected = dict(zip(("total", "solved", "in_progress", "overdue", "cannot_solve"), (14, 4, 4, 4, 3),
                        strict=True))
    linked = {}
    for name, cell in zip(expected, re.findall(r"<td[^>]*>(.*?)</td>", row, re.S), strict=False):
        m = re.search(r'href="([^"]+)"', cell)
        if m:
            linked[name] = html.unescape(m.group(1))
            assert linked[name].startswith("/cases?") and f"category={cat.id}" in linked[name]
            assert _queue_total(b, linked[name]) == expected[name], (name, linked[name])
    assert linked["total"] == f"/cases?category={cat.id}"
    assert "overdue=1" in linked["overdue"] and "status=cannot_solve" in linked["cannot_solve"]


def test_group_links_are_never_a_single_status():
    """A group's name must not be a status: the queue would show that one status instead."""
    from webapp.cases.workflow import Status
    from webapp.stats.routes import QueueLinks

    assert not set(QueueLinks.STATUS_GROUPS.values()) & set(Status.__members__)


def test_a_unit_sees_its_own_slice(app, traveller, login_as):
    hf.in_progress(dept=True)
    hf.in_progress()
    b = login_as("dept")
    page = text(b.get("/stats"))
    lead = db.session.scalar(select(func.count()).select_from(Problem).where(
        Problem.lead_unit_id == f.unit("区民政局").id))
    tiles = page.split('id="summary-h"', 1)[1]
    m = re.search(r'问题总数</span>\s*<span class="stat-value">(?:<a href="([^"]+)">)?(\d+)', tiles)
    assert int(m.group(2)) == lead
    assert "潘安湖街道牵头" not in page and "区民政局牵头办理的问题" in page
    # Its links keep to its own problems (the queue's unit filter).
    assert f"unit={f.unit('区民政局').id}" in html.unescape(m.group(1))
    assert _queue_total(b, html.unescape(m.group(1))) == lead


def test_charts_load_only_on_the_dashboard_and_match_the_tables(app, traveller, login_as):
    hf.closed()
    hf.in_progress()
    b = login_as("leader")
    page = text(b.get("/stats"))
    assert "vendor/echarts/echarts.min.js" in page and "js/charts.js" in page
    assert "<script>" not in page  # no inline script (CSP): only the JSON data block
    raw = re.search(r'<script type="application/json" id="stats-chart-data">(.*?)</script>', page, re.S).group(1)
    charts = json.loads(raw)
    assert set(charts) == {"trend", "overdue", "categories"}
    assert sum(charts["trend"]["registered"]) >= 2 and charts["trend"]["solved"][-1] >= 1
    # Without JavaScript the chart boxes stay hidden and the tables carry the numbers.
    assert re.search(r'<div class="chart" data-chart="trend" hidden', page)
    for label, n in zip(charts["trend"]["labels"], charts["trend"]["registered"], strict=True):
        assert n is not None and label
    assert "echarts" not in text(b.get("/stats/reports"))
    js = b.client.get("/static/vendor/echarts/echarts.min.js")
    assert js.status_code == 200 and b"echarts" in js.data[:2000]
    js.close()


def test_dashboard_queries_do_not_grow_with_the_data(app, traveller, login_as):
    b = login_as("office")
    b.get("/stats")  # warm caches (settings, calendar)
    hf.closed()  # a change: the next page computes afresh
    with counted_queries() as small:
        assert b.get("/stats").status_code == 200
    cat = data.new_category("页面测试乙")
    for _i in range(3):
        hf.in_progress(dept=True, category=cat.name)
        hf.cannot_solve(category=cat.name)
        f.assigned_to_town(town="青山泉镇", village="房上村")
        f.transferred_to_desk()
    with counted_queries() as large:
        assert b.get("/stats").status_code == 200
    assert large[0] == small[0]
    # The layout's (session, user, policy, settings, calendar, the bell's unread count), the
    # dashboard's data version, its kept sums (whether counted, the breakdowns, the day's
    # overdue, the half months) and its lookups, and the visiting round's coverage section.
    assert small[0] <= 16


@contextmanager
def passes_over_problems():
    """The grouped passes over the problems (the dashboard's expensive statement) run inside."""
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY problems.town_id" in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


def test_dashboard_counts_are_reused_only_while_the_data_is_unchanged(app, traveller):
    from webapp.stats import figures as fig

    office = f.user("office")
    p = hf.signed_off()
    with passes_over_problems() as computed:
        first = fig.dashboard(office)
    assert len(computed) == 1 and (first.district["solved"], first.district["replied"]) == (1, 0)
    # Nothing changed: the counts of this data version are reused (no pass over the problems).
    with passes_over_problems() as again:
        second = fig.dashboard(office)
    assert again == [] and second.district == first.district and second.trend == first.trend
    # A reply changes the problem: the same call computes afresh and shows it.
    hf.reply(p)
    with passes_over_problems() as after:
        third = fig.dashboard(office)
    assert len(after) == 1 and (third.district["solved"], third.district["replied"]) == (1, 1)
    # A unit's own slice is kept the same way.
    town = f.user("town")
    for n in (1, 0):
        with passes_over_problems() as unit:
            assert fig.dashboard(town).district["total"] == 1
        assert len(unit) == n
    # Switched off (STATS_CACHE_SIZE=0), every call computes.
    app.config["STATS_CACHE_SIZE"] = 0
    with passes_over_problems() as uncached:
        assert fig.dashboard(office).district == third.district
    assert len(uncached) == 1


def test_issue_and_correct_through_the_pages(app, traveller, login_as):
    cat = data.new_category("页面测试丙")
    hf.closed(category=cat.name)
    hf.in_progress(category=cat.name)
    traveller.move_to(data.LATER)
    b = login_as("office")
    page = text(b.get("/stats/reports"))
    assert 'value="2026-03-16"' in page and 'value="2026-03-01"' in page
    assert 'value="2026-04-01"' not in page  # the running period cannot be issued

    # A made-up period start is refused with the field's message, nothing stored.
    resp = b.post("/stats/reports", {"period": "2026-03-02"})
    assert resp.status_code == 200 and "请选择统计期间" in text(resp)
    assert db.session.scalar(select(func.count()).select_from(rep.HalfMonthReport)) == 0

    resp = b.post("/stats/reports", {"period": "2026-03-01"})
    assert resp.status_code == 302
    report = db.session.scalar(select(rep.HalfMonthReport))
    assert resp.headers["Location"].endswith(f"/stats/reports/{report.id}")
    page = text(b.get(resp.headers["Location"]))
    assert "2026年3月上半月" in page and "页面测试丙" in page and "重新出具" in page
    # Issued already: the same period again is a conflict, the history lists it.
    resp = b.post("/stats/reports", {"period": "2026-03-01"})
    assert resp.status_code == 409 and "已经出具" in text(resp)
    assert 'value="2026-03-01"' not in text(b.get("/stats/reports"))

    # The leader reads it but cannot correct it.
    leader = login_as("leader")
    lpage = text(leader.get(f"/stats/reports/{report.id}"))
    assert "页面测试丙" in lpage and "重新出具（更正）" not in lpage

    # Correction: the reason is required; a stale version is a conflict; then version 2.
    resp = b.post(f"/stats/reports/{report.id}/reissue", {"reason": "", "version": "1"})
    assert resp.status_code == 200 and "请填写更正原因" in text(resp)
    resp = b.post(f"/stats/reports/{report.id}/reissue", {"reason": "补录", "version": "0"})
    assert resp.status_code == 409
    resp = b.post(f"/stats/reports/{report.id}/reissue", {"reason": "补录漏报问题", "version": "1"})
    assert resp.status_code == 302
    db.session.expire_all()
    versions = db.session.scalars(select(rep.HalfMonthReport).order_by(rep.HalfMonthReport.version)).all()
    assert [(v.version, v.is_current) for v in versions] == [(1, False), (2, True)]
    old_page = text(b.get(f"/stats/reports/{versions[0].id}"))
    assert "此版本已被更正" in old_page and "重新出具（更正）" not in old_page
    resp = b.post(f"/stats/reports/{versions[0].id}/reissue", {"reason": "再改", "version": "1"})
    assert resp.status_code == 409


def _issued(traveller, name: str):
    cat = data.new_category(name)
    data.build(traveller, cat.name)
    report = rep.issue(f.user("office"), data.MARCH_1)
    db.session.commit()
    return cat, report


def test_report_pdf_and_excel_read_back(app, traveller, login_as):
    cat, report = _issued(traveller, "导出测试")
    resp = login_as("leader").client.get(f"/stats/reports/{report.id}/report.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    d = report.figures["district"]
    assert_pdf(resp.data, [
        "半月调度统计表", "第1期（第1版）", "统计期间：2026年3月1日至2026年3月15日",
        "一、总体情况", "二、镇（街道、功能区）化解情况排名", "三、区级部门化解情况排名",
        "四、有超期问题的单位", "五、问题分类统计", "导出测试", "潘安湖街道", "区民政局",
        f"全区共登记问题{d['total']}件，已化解{d['solved']}件", "上期统计表未出具",
    ])

    # The workbook: a cover sheet, then one table per sheet, its header in the first row.
    resp = login_as("office").client.get(f"/stats/reports/{report.id}/report.xlsx")
    assert resp.status_code == 200
    assert "attachment" in resp.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(resp.data))
    assert wb.sheetnames == ["说明", "总体情况", "镇（街道、功能区）化解情况排名", "区级部门化解情况排名",
                             "有超期问题的单位", "问题分类统计", "问题来源统计", "活动以来半月趋势"]
    cover = [r[0] for r in wb["说明"].iter_rows(values_only=True)]
    assert cover[:4] == ["贾汪区“百千万”集中走访帮扶活动办公室", "半月调度统计表", "第1期（第1版）",
                         "统计期间：2026年3月1日至2026年3月15日"]
    assert any(isinstance(v, str) and v.startswith("一、总体情况：截至2026年3月15日") for v in cover)
    # The district's row under its header, as stored; its rates are numbers with a percent format.
    d = report.figures["district"]
    ws = wb["总体情况"]
    assert [c.value for c in ws[1]][:2] == ["问题总数", "已化解"] and ws.freeze_panes == "A2"
    row = list(ws[2])
    assert [c.value for c in row[:7]] == [d["total"], d["solved"], d["in_progress"], d["awaiting"], d["overdue"],
                                          d["cannot_solve"], d["other_ended"]]
    rate = row[7]
    assert rate.data_type == "n" and rate.number_format == "0.0%"
    assert rate.value == pytest.approx(d["solve_rate"] / 100)
    # The category's row: the known figures as of 15 March, rates as fractions.
    cat_row = next(r for r in wb["问题分类统计"].iter_rows(min_row=2) if r[0].value == "导出测试")
    known = data.AS_OF_MARCH_15
    assert [c.value for c in cat_row[:6]] == ["导出测试", known["total"], known["solved"], known["in_progress"],
                                              known["overdue"], known["cannot_solve"]]
    assert [round(c.value, 3) for c in cat_row[6:10]] == [0.214, 1.0, 0.5, 0.5]
    assert all(c.number_format == "0.0%" for c in cat_row[6:10])
    # Every town of the ranking, in rank order; no cell of a rate column holds text.
    ranking = wb["镇（街道、功能区）化解情况排名"]
    headers = [c.value for c in ranking[1]]
    names = [r[1] for r in ranking.iter_rows(min_row=2, values_only=True)]
    assert names == [t["name"] for t in report.figures["territories"]]
    for name in ("化解率", "按期办结率", "满意率"):
        col = headers.index(name)
        for r in ranking.iter_rows(min_row=2):
            assert r[col].value is None or (isinstance(r[col].value, float | int) and r[col].number_format == "0.0%")


def test_the_menu_offers_statistics_to_casework_roles(app, login_as):
    for username in ("office", "leader", "grouplead", "town", "dept", "desk"):
        assert 'href="/stats"' in text(login_as(username).get("/"))
    for username in ("cadre", "sysadmin", "auditor"):
        assert 'href="/stats"' not in text(login_as(username).get("/"))


def test_the_history_shows_the_frozen_figures(app, traveller, login_as):
    """The history page lists every version with the solve rate it was issued with."""
    hf.closed()
    hf.in_progress()
    traveller.move_to(data.LATER)
    report = rep.issue(f.user("office"), data.MARCH_1)
    db.session.commit()
    rate = report.figures["district"]["solve_rate"]
    for _i in range(3):
        hf.closed()  # later work changes the live rate, not the issued one
    page = text(login_as("office").get("/stats/reports"))
    row = re.search(r"2026年3月上半月.*?</tr>", page, re.S).group(0)
    assert f"{rate:.1f}%" in row


def test_periods_are_numbered_from_the_campaign_s_first_half_month(app, traveller, login_as):
    """第N期 counts half months from the one the campaign started in (2 March 2026 here), not
    within the year (where 1–15 March would be 第5期); the number is frozen with the report."""
    _cat, first = _issued(traveller, "期数测试")
    second = rep.issue(f.user("office"), data.MARCH_1.next())
    db.session.commit()
    assert (first.figures["issue_no"], second.figures["issue_no"]) == (1, 2)
    b = login_as("office").client
    assert "第2期（第1版）" in page_texts(b.get(f"/stats/reports/{second.id}/report.pdf").data)[0]
    cover = [r[0] for r in load_workbook(io.BytesIO(b.get(f"/stats/reports/{second.id}/report.xlsx").data))[
        "说明"].iter_rows(values_only=True)]
    assert cover[2] == "第2期（第1版）"
