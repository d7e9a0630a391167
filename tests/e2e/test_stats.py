"""Statistics in a real browser: the dashboard and the half-month reports.

1. ``office`` (desktop) opens 统计分析: the district tiles match the database, the ECharts
   charts are drawn (a canvas or svg in every chart box) over their tables, and the 问题总数
   tile links to the queue, which counts the same problems.
2. ``town`` (phone) reaches 统计分析 from the menu and sees only its own slice (the problems
   潘安湖街道 leads); it has no report pages, in the menu or behind the URL.
3. ``office`` issues the report of the latest ended half-month, finds it in the history, and
   reads back its PDF and Excel (the same figure as the page).
4. ``leader`` sees the dashboard and the report but no issue/re-issue form, and the server
   refuses its POSTs (403) even with a valid CSRF token.

The database is only read, to compute what the pages must show.
"""

import io
import json
import re
from datetime import datetime, time, timedelta

import pytest
import time_machine
from flask_babel import force_locale
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_intake_assignment import PHONE_MOBILE, as_user, no_sideways_scroll, read_db
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.cases.models import Problem
from webapp.core import clock
from webapp.core.extensions import db
from webapp.core.periods import recent
from webapp.documents.pdf import cn_date
from webapp.handling.models import Verdict
from webapp.org.models import Unit
from webapp.stats.reports import HalfMonthReport

pytestmark = pytest.mark.e2e

TOWN = "潘安湖街道"


# ---------------------------------------------------------------- helpers


def seed(server) -> None:
    """A few problems of different fates, registered early in the latest ended half-month (the
    demo data holds none): solved, cannot solve, in progress, overdue, a department's, new."""
    def fn():
        start = recent(1, include_current=False)[0].start + timedelta(days=1)
        with time_machine.travel(datetime.combine(start, time(10), clock.LOCAL_TZ), tick=True):
            hf.closed()
            hf.signed_off(category="教育")
            hf.cannot_solve(category="医疗卫生")
            hf.in_progress()
            hf.in_progress(category="教育")
            hf.reply(hf.signed_off(dept=True), Verdict.unsatisfied)
            hf.assigned()  # never signed for: overdue by now
            hf.accepted(dept=True, category="就业创业")
            f.register(category="医疗卫生")

    read_db(server, fn)


def problem_count(server, lead_unit: str | None = None) -> int:
    def fn():
        q = select(func.count(Problem.id))
        if lead_unit is not None:
            q = q.join(Unit, Problem.lead_unit_id == Unit.id).where(Unit.name == lead_unit)
        return db.session.scalar(q)

    return read_db(server, fn)


def tile(page: Page, label: str):
    """The value of a summary tile (the first row of tiles: counts)."""
    return page.locator(".stat-tiles li").filter(
        has=page.locator(".stat-label", has_text=re.compile(f"^{label}$"))).first.locator(".stat-value")


def tile_number(page: Page, label: str) -> int:
    return int(tile(page, label).inner_text().strip())


def queue_total(page: Page) -> int:
    status = page.get_by_role("status").filter(has_text=re.compile(r"共 \d+ 个问题"))
    expect(status).to_be_visible()
    return int(re.search(r"共 (\d+) 个问题", status.inner_text()).group(1))


def open_dashboard(page: Page) -> None:
    page.goto("/")
    menu = page.locator("details.menu")
    if not page.get_by_role("navigation", name="主导航").is_visible():
        menu.locator(":scope > summary").click()
    nav = page.get_by_role("navigation", name="主导航")
    nav.get_by_role("link", name="统计分析", exact=True).click()
    expect(page.get_by_role("heading", name="统计分析", level=1)).to_be_visible()


def charts_drawn(page: Page) -> int:
    """Every chart box is shown and holds what ECharts drew; each is followed by its table."""
    charts = page.locator(".chart[data-chart]")
    expect(charts.first).to_be_visible()
    n = charts.count()
    assert n >= 1
    for i in range(n):
        chart = charts.nth(i)
        expect(chart).to_be_visible()
        expect(chart.locator("canvas, svg").first).to_be_attached()
        box = chart.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100, (chart.get_attribute("data-chart"), box)
        # The numbers behind the chart, as a table in the same section.
        table = chart.locator("xpath=ancestor::section[1]").locator("table.figures")
        expect(table).to_be_visible()
        assert table.locator("tbody tr").count() >= 1
    return n


def csrf_token(page: Page) -> str:
    return json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]


# ---------------------------------------------------------------- the dashboard


def test_dashboard_office_and_town(fresh_live_server, server, new_context, artifacts):
    seed(server)
    # office, desktop: the whole district.
    page = as_user(new_context, "office", DESKTOP)
    open_dashboard(page)
    expect(page.locator(".hint").first).to_contain_text("范围：全区")
    total = problem_count(server)
    assert total == 9, total
    expect(tile(page, "问题总数")).to_have_text(str(total))
    assert charts_drawn(page) >= 1
    for heading in ("按问题类别", "按镇（街道、功能区）", "按区级部门", "按牵头单位", "按问题来源"):
        section = page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))
        expect(section.locator("table.figures")).to_be_visible()
    # The territories' totals add up to the district's (every problem lies in one town).
    towns = page.locator("section").filter(has=page.get_by_role("heading", name="按镇（街道、功能区）"))
    cells = towns.locator("table.figures tbody tr td:nth-of-type(1)").all_inner_texts()
    assert sum(int(c) for c in cells) == total, cells
    expect(page.get_by_role("link", name="半月调度统计表")).to_be_visible()
    no_sideways_scroll(page, "the dashboard (desktop)")
    page.screenshot(path=artifacts / "stats-dashboard-desktop.png", full_page=True)

    # The count opens the queue on the same problems.
    tile(page, "问题总数").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/cases(\?.*)?$"))
    assert queue_total(page) == total

    # town (潘安湖街道's handler), phone: only the problems it leads, no reports.
    phone = as_user(new_context, "town", PHONE, **PHONE_MOBILE)
    open_dashboard(phone)
    expect(phone.locator(".hint").first).to_contain_text(f"范围：{TOWN}牵头办理的问题")
    own = problem_count(server, TOWN)
    assert 0 < own < total, (own, total)
    expect(tile(phone, "问题总数")).to_have_text(str(own))
    charts_drawn(phone)
    no_sideways_scroll(phone, "the dashboard (phone)")
    phone.screenshot(path=artifacts / "stats-dashboard-phone.png", full_page=True)
    phone.locator("details.menu > summary").click()
    nav = phone.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link", name="统计分析", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name=re.compile("统计表"))).to_have_count(0)
    expect(phone.get_by_role("link", name="半月调度统计表")).to_have_count(0)
    assert phone.request.get("/stats/reports").status == 403
    # Its count links keep to its own problems.
    phone.locator("details.menu > summary").click()
    tile(phone, "问题总数").get_by_role("link").click()
    assert queue_total(phone) == own


# ---------------------------------------------------------------- the half-month report


def test_report_issue_download_and_leader(fresh_live_server, server, new_context):
    def latest():
        p = recent(1, include_current=False)[0]
        with server.request_context(), force_locale("zh_CN"):
            return p, p.label, p.label_compact, p.previous()

    seed(server)
    period, label, compact, previous = read_db(server, latest)
    page = as_user(new_context, "office", DESKTOP)
    open_dashboard(page)
    district_total = tile_number(page, "问题总数")
    page.get_by_role("link", name="半月调度统计表").click()
    expect(page.get_by_role("heading", name="半月调度统计表", level=1)).to_be_visible()

    # The latest ended half-month comes first among the periods offered.
    select_ = page.get_by_label("统计期间")
    first = select_.locator("option").first
    expect(first).to_have_attribute("value", period.start.isoformat())
    expect(first).to_have_text(label)
    select_.select_option(period.start.isoformat())
    page.get_by_role("button", name="出具", exact=True).click()

    expect(page.locator(".flashes .flash")).to_have_text(f"已出具{label}半月调度统计表。")
    expect(page).to_have_url(re.compile(r"/stats/reports/\d+$"))
    report_url = page.url
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(label)
    expect(facts).to_contain_text("第1版")
    # Nothing changed since the dashboard was read: the frozen count is the live one.
    report_total = tile_number(page, "问题总数")
    assert report_total == district_total
    expect(page.get_by_role("button", name="重新出具")).to_be_visible()

    # The history lists it; its period is no longer offered.
    page.get_by_role("link", name="全部统计表").click()
    row = page.locator("tbody tr").filter(has=page.get_by_role("link", name=label, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("第1版")
    expect(row).to_contain_text("现行")
    expect(page.get_by_label("统计期间").locator(f"option[value='{period.start.isoformat()}']")).to_have_count(0)

    # The PDF, the printed document.
    pdf = page.request.get(row.get_by_role("link", name="PDF").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    subtitle = f"统计期间：{cn_date(period.start)}至{cn_date(period.end)}"
    assert_pdf(pdf.body(), ["半月调度统计表", subtitle, f"全区共登记问题{report_total}件"])

    # The Excel workbook: title, period and the district's total as on the page.
    with page.expect_download() as info:
        row.get_by_role("link", name="Excel").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx") and compact in download.suggested_filename
    ws = load_workbook(io.BytesIO(download.path().read_bytes())).active
    first_col = [r[0] for r in ws.iter_rows(values_only=True)]
    assert first_col[1] == "半月调度统计表" and first_col[3] == subtitle, first_col[:4]
    texts = [v for r in ws.iter_rows(values_only=True) for v in r if isinstance(v, str)]
    assert any(f"全区共登记问题{report_total}件" in v for v in texts), texts[:12]

    # leader: reads the dashboard and the report, issues nothing.
    leader = as_user(new_context, "leader", DESKTOP)
    open_dashboard(leader)
    expect(tile(leader, "问题总数")).to_have_text(str(district_total))
    charts_drawn(leader)
    leader.get_by_role("link", name="半月调度统计表").click()
    expect(leader.get_by_role("heading", name="已出具的统计表")).to_be_visible()
    expect(leader.get_by_role("heading", name="出具统计表")).to_have_count(0)
    expect(leader.get_by_role("button", name="出具", exact=True)).to_have_count(0)
    leader.get_by_role("link", name=label, exact=True).click()
    expect(leader).to_have_url(report_url)
    expect(tile(leader, "问题总数")).to_have_text(str(report_total))
    expect(leader.get_by_role("link", name="打印（PDF）")).to_be_visible()
    expect(leader.get_by_role("button", name="重新出具")).to_have_count(0)
    token = csrf_token(leader)
    resp = leader.request.post("/stats/reports", form={"csrf_token": token, "period": previous.start.isoformat()})
    assert resp.status == 403, resp.status
    resp = leader.request.post(report_url + "/reissue", form={"csrf_token": token, "reason": "更正", "version": "1"})
    assert resp.status == 403, resp.status
    assert leader.request.get(pdf.url).status == 200

    # Nothing was issued by the refused requests: one report, the office's.
    assert read_db(server, lambda: db.session.scalar(select(func.count(HalfMonthReport.id)))) == 1
