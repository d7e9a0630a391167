"""督办单 and scheduling-meeting agendas in a real browser.

1. ``grouplead`` (desktop), who assigned a problem to 潘安湖街道, opens it and issues a 督办单
   from the problem page: what is late comes pre-filled; the notice is addressed to the town.
2. ``town`` (phone) finds it under 督办单 → 待反馈, answers on the notice; it moves to 已反馈.
3. ``grouplead`` reads the answer and prints the 督办单: a PDF with the number, the answer, the
   embedded CJK font and the resident's phone masked.
4. ``office`` generates the 潘安湖街道工作组 half-monthly meeting's agenda (preview first): the
   overdue problem is on it; the packet PDF holds the agenda and that problem's 问题交办单.

It runs on a Spring Festival holiday and on the first working day after National Day: the
overdue problem is a 好事即办 one (3 working days) assigned early in the last ended half month,
so its deadline lies before the meeting whatever the day.
"""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import travel_to
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_intake_assignment import PHONE_MOBILE, as_user, no_sideways_scroll, read_db
from tests.e2e.test_integrity import open_menu
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.cases import operations as ops
from webapp.cases.models import Problem
from webapp.cases.workflow import Kind, Level, Tier
from webapp.core import clock
from webapp.core.extensions import db
from webapp.core.periods import recent
from webapp.supervision.models import NoticeStatus, SupervisionNotice

pytestmark = pytest.mark.e2e

TOWN = "潘安湖街道"
GROUP = "潘安湖街道工作组"


def seed(server) -> dict:
    def fn():
        start = recent(1, include_current=False)[0].start + timedelta(days=1)
        with travel_to(start):
            # Never signed for, due three working days later: overdue at any meeting now.
            late = hf.assigned(triage=ops.Triage(Kind.individual, Level.town, Tier.immediate))
        working = hf.in_progress(category="教育")
        return {"late": late.number, "late_sheet": late.current_assignment.number,
                "working_id": working.id, "working": working.number, "phone": working.resident_phone}

    return read_db(server, fn)


def flash(page: Page):
    return page.locator(".flashes .flash").first


@pytest.mark.parametrize("on_date", [date(2026, 2, 18), date(2026, 10, 16)], indirect=True, ids=str)
def test_notice_answered_and_agenda_packet(on_date, fresh_live_server, server, new_context, artifacts):
    data = seed(server)
    assert read_db(server, lambda: db.session.scalar(
        select(Problem.deadline).where(Problem.number == data["late"]))) < on_date

    # 1. The group lead issues a 督办单 from the problem page.
    lead = as_user(new_context, "grouplead", DESKTOP)
    lead.goto(f"/cases/{data['working_id']}")
    lead.get_by_role("link", name="下发督办单").click()
    expect(lead.get_by_label("存在问题")).not_to_be_empty()  # pre-filled from the problem's state
    lead.get_by_label("督办要求").fill("请于反馈时限前报送路灯更换进展。")
    lead.get_by_role("button", name="下发督办单").click()
    expect(flash(lead)).to_contain_text(f"已向{TOWN}下发督办单")

    def notice():
        n = db.session.scalar(select(SupervisionNotice))
        return {"id": n.id, "number": n.number, "unit": n.unit.name, "status": n.status,
                "problem": db.session.get(Problem, n.problem_id).number}

    issued = read_db(server, notice)
    assert (issued["unit"], issued["status"], issued["problem"]) == (TOWN, NoticeStatus.open, data["working"])

    # 2. The town answers on a phone.
    town = as_user(new_context, "town", PHONE, **PHONE_MOBILE)
    open_menu(town, "督办单")
    town.get_by_role("link", name=issued["number"]).first.click()
    expect(town.locator("main")).to_contain_text("请于反馈时限前报送路灯更换进展。")
    no_sideways_scroll(town, "督办单 on a phone")
    town.get_by_label("办理情况反馈").fill("已联系供电所，路灯本周五前更换完毕。")
    town.get_by_role("button", name="提交反馈").click()
    expect(flash(town)).to_contain_text(f"已反馈督办单 {issued['number']}")
    town.screenshot(path=artifacts / "notice-answered-town-phone.png", full_page=True)
    assert read_db(server, notice)["status"] == NoticeStatus.answered

    # 3. The group lead reads the answer and prints the notice.
    lead.goto(f"/supervision/notices/{issued['id']}")
    expect(lead.locator("main")).to_contain_text("已联系供电所")
    pdf = lead.request.get(lead.get_by_role("link", name="打印督办单").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    report = assert_pdf(pdf.body(), ["督办单", issued["number"], "已联系供电所，路灯本周五前更换完毕。", TOWN])
    assert data["phone"] not in report.text

    # 4. The office's agenda for the group's half-monthly meeting, and its packet.
    office = as_user(new_context, "office", DESKTOP)
    open_menu(office, "调度会议程")
    office.goto("/supervision/agendas/new")
    office.get_by_label("会议类型").select_option(label="工作组调度会（每半月）")
    office.get_by_label("工作组").select_option(label=GROUP)
    office.get_by_label("会议日期").fill(clock.today().isoformat())
    office.get_by_role("button", name="预览议程").click()
    expect(office.locator("main")).to_contain_text(data["late"])
    office.get_by_role("button", name="生成议程").click()
    expect(flash(office)).to_contain_text("已生成")
    expect(office.locator("main")).to_contain_text(data["late"])
    expect(office.locator("main")).to_contain_text("超期未办结")
    office.screenshot(path=artifacts / "agenda-office.png", full_page=True)
    # The packet is a background job (run at once by this server's queue): its page, then its file.
    office.get_by_role("button", name="生成会议材料（PDF）").click()
    status = office.locator("#job-status")
    expect(status).to_have_attribute("data-status", "done", timeout=60_000)
    link = status.get_by_role("link", name=re.compile("^下载 .*会议材料"))
    packet = office.request.get(link.get_attribute("href"))
    assert packet.status == 200 and packet.headers["content-type"] == "application/pdf"
    assert_pdf(packet.body(), ["调度会议程", GROUP, data["late"], "问题交办单", data["late_sheet"]])
