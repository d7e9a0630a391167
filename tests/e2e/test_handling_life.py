"""The whole life of one problem in a real browser, across every role that handles it.

``cadre`` registers it on a phone in 权台村 → ``grouplead`` assigns it by sheet to 潘安湖街道 with
区民政局 cooperating → ``town`` signs for it and writes the 任务书 → ``townlead`` approves it →
``dept`` signs for its cooperating part → ``town`` convenes a 协商会 with 区民政局 and records the
minutes with a decision for 区民政局 (a dated step on the task book) → ``dept`` ticks that step →
``town`` asks for more time, ``grouplead`` grants it → ``town`` asks to sign it off with evidence,
``townlead`` agrees, ``grouplead`` sends it back (退回重办) → again, and ``grouplead`` verifies →
``cadre`` calls the resident, who is not satisfied for a substantive reason: reopened → sign-off,
approval and verification once more → the resident is satisfied: closed. Finally the resident
(no account, a phone) looks the problem up with the receipt number and the last four digits.

Every action is a click or a fill on the real pages; the database is only read, to check what the
pages did. Every printed document of that life (问题交办单, 任务书, 会议纪要, 销号单) is fetched
through its link on the page, with the page's cookies, and read back.
"""

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_intake_assignment import (
    PHONE_MOBILE,
    as_user,
    flash,
    no_sideways_scroll,
    problem_by_number,
    read_db,
    register_visit,
    sign_for,
    status_badge,
    tiny_png,
)
from tests.pdfcheck import assert_pdf
from webapp.cases.models import Attachment, AttachmentKind, PartStatus, Problem, UnitRole
from webapp.cases.workflow import Status, Tier
from webapp.core import clock
from webapp.core.extensions import db
from webapp.handling.models import BookStatus, Closure, ClosureStatus, Meeting, Reply, TaskBook

pytestmark = pytest.mark.e2e

TITLE = "权台村独居老人房屋漏雨亟需修缮"
DESCRIPTION = "村西组独居老人王秀英房屋屋顶漏雨严重，雨天无法居住，本人无力维修，希望帮助修缮房屋并落实临时救助。"
RESIDENT = "王秀英"
PHONE_NO = "139 5160 2468"
MEASURES = "街道城建办组织施工队查勘屋顶并修缮；区民政局核实家庭情况，落实临时救助。"
STEPS = ("施工队上门查勘屋顶漏雨情况", "完成屋顶防水修缮并验收")
DECISION = "区民政局核定临时救助金并发放到位"
RESULT_1 = "屋顶已重新铺设防水层，经雨天检验不再漏雨。"
RESULT_2 = "屋顶防水层已返工重做，墙面渗水点已封堵，老人已搬回居住。"
RESULT_3 = "厨房屋顶漏点已补修，全屋经连续雨天检验无渗漏，临时救助金已发放。"
REPLY_UNSATISFIED = "您家屋顶已经重新做了防水，我们会回访了解情况。"
REPLY_SATISFIED = "您家房屋已经全部修好，临时救助金也已经发放到您的账户。"


# ---------------------------------------------------------------- helpers


def state(server, number: str) -> dict:
    """The problem's handling state as stored (status, deadline, books, closures, replies …)."""

    def fn():
        p = db.session.scalar(select(Problem).where(Problem.number == number))
        books = db.session.scalars(select(TaskBook).where(TaskBook.problem_id == p.id)
                                   .order_by(TaskBook.revision)).all()
        closures = db.session.scalars(select(Closure).where(Closure.problem_id == p.id).order_by(Closure.id)).all()
        replies = db.session.scalars(select(Reply).where(Reply.problem_id == p.id).order_by(Reply.id)).all()
        files = {}
        for att in db.session.scalars(select(Attachment).where(Attachment.problem_id == p.id,
                                                               Attachment.closure_id.is_not(None))):
            files.setdefault(att.closure_id, []).append((att.kind, att.filename, att.mime))
        a = p.current_assignment
        return {
            "id": p.id, "status": p.status, "deadline": p.deadline, "reopen_count": p.reopen_count,
            "reply_due": p.reply_due, "handler": p.handler.username if p.handler else None,
            "parts": [(u.unit.name, u.role, u.status) for u in a.units] if a else [],
            "books": [(b.revision, b.status, b.measures, b.deadline,
                       [(s.title, s.due_on, s.unit.name, s.done_at is not None) for s in b.steps]) for b in books],
            "closures": [(c.status, c.result, files.get(c.id, []), c.open_parts_reason) for c in closures],
            "replies": [(r.verdict.value, r.reopened, r.content) for r in replies],
            "events": [e.action for e in p.events],
        }

    return read_db(server, fn)


def open_problem(page: Page, problem_id: int) -> None:
    """The problem page (as from a bookmark or the queue): the title is the heading."""
    page.goto(f"/cases/{problem_id}")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()


def action(page: Page, name: str):
    """The entry of one workflow action on the problem page (``li[data-action=…]``)."""
    return page.locator(f"#case-status li[data-action='{name}']")


def click_action(page: Page, name: str, label: str) -> None:
    link = action(page, name).get_by_role("link", name=label, exact=True)
    expect(link, f"the problem page should offer {label}").to_be_visible()
    href = link.get_attribute("href")
    link.click()
    # The next page has loaded (a check run mid-navigation would find no document).
    page.wait_for_url(lambda url: url.endswith(href))


def landed(page: Page, problem_id: int, message: str) -> None:
    """Post/redirect/get: back on the problem page with the success message."""
    expect(page).to_have_url(re.compile(rf"/cases/{problem_id}$"))
    expect(flash(page)).to_contain_text(message)


def pdf_of(page: Page, link_name: str, must_contain: list[str], *, scope=None):
    """Fetch a printed document through its link on the page (the page's cookies) and read it."""
    link = (scope or page).get_by_role("link", name=link_name, exact=True)
    expect(link).to_be_visible()
    got = page.request.get(link.get_attribute("href"))
    assert got.ok and got.headers["content-type"] == "application/pdf", (link_name, got.status, got.headers)
    report = assert_pdf(got.body(), must_contain)
    flat = re.sub(r"\s+", "", report.text)
    assert "13951602468" not in flat, f"{link_name}: the resident's full phone number is printed"
    return flat


def request_signoff(page: Page, problem_id: int, result: str, evidence: str, open_reason: str) -> None:
    """申请销号 (the town): the result, today's date, one PNG, and why 区民政局 has not reported done."""
    click_action(page, "request_signoff", "申请销号")
    expect(page.get_by_role("heading", name=f"申请销号：{TITLE}")).to_be_visible()
    page.get_by_label("办理结果").fill(result)
    expect(page.get_by_label("办结日期")).to_have_value(clock.today().isoformat())
    page.get_by_label("佐证材料（照片或 PDF）").set_input_files(
        {"name": evidence, "mimeType": "image/png", "buffer": tiny_png()})
    expect(page.locator(".flash-warning")).to_contain_text("区民政局")
    page.get_by_label("配合单位尚未反馈完成的原因").fill(open_reason)
    # The task book's steps not ticked: each needs its own explanation.
    boxes = page.locator("fieldset.open-steps textarea")
    expect(boxes.first).to_be_visible()
    for box in boxes.all():
        box.fill("该步骤已随整体修缮一并完成，现场已核实。")
    page.get_by_role("button", name="提交销号申请").click()
    landed(page, problem_id, "已提交销号申请（佐证材料 1 份），等待单位领导审核。")
    expect(status_badge(page)).to_have_text("销号待审核")


def approve_signoff(page: Page, problem_id: int, note: str) -> None:
    """同意销号 (the town's leader) on the review page."""
    open_problem(page, problem_id)
    click_action(page, "approve_signoff", "同意销号")
    box = page.locator("details#act-approve_signoff")
    expect(box, "?action=approve_signoff should open its section").to_have_attribute("open", "")
    box.get_by_label("审核意见（可选）").fill(note)
    box.get_by_role("button", name="同意销号").click()
    landed(page, problem_id, "已同意销号，等待交办单位核销。")
    expect(status_badge(page)).to_have_text("待核销")


def verify(page: Page, problem_id: int, note: str) -> None:
    """核销通过 (the group lead, who assigned it)."""
    open_problem(page, problem_id)
    click_action(page, "verify", "核销通过")
    box = page.locator("details#act-verify")
    expect(box).to_have_attribute("open", "")
    box.get_by_label("核销意见").fill(note)
    box.get_by_role("button", name="核销通过").click()
    landed(page, problem_id, "已核销通过，问题已销号。")
    expect(status_badge(page)).to_have_text("已销号待回音")


def record_reply(page: Page, problem_id: int, *, content: str, verdict: str, words: str = "",
                 substantive: bool = False, shot=None) -> None:
    """记录回音 (the cadre, on a phone): from 待回音 in the menu to the reply form."""
    page.goto("/")
    page.locator("details.menu > summary").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="待回音").click()
    expect(page.get_by_role("heading", name="待回音", level=1)).to_be_visible()
    row = page.locator(f"tr[data-problem='{problem_id}']")
    expect(row, "the signed-off problem should be in the cadre's 待回音").to_have_count(1)
    no_sideways_scroll(page, "待回音")
    row.get_by_role("link", name="记录回音").click()
    expect(page.get_by_role("heading", name=f"记录回音：{TITLE}")).to_be_visible()
    expect(page.get_by_label("电话回访")).to_be_checked()
    expect(page.get_by_label("回访时间")).not_to_have_value("")
    page.get_by_label("答复群众的内容").fill(content)
    page.get_by_label(verdict, exact=True).check()
    if words:
        page.get_by_label("群众的意见").fill(words)
    if substantive:
        page.get_by_label("因实质性问题未解决，重新办理").check()
    no_sideways_scroll(page, "the reply form")
    if shot is not None:
        page.screenshot(path=shot, full_page=True)
    page.get_by_role("button", name="保存回音").click()
    expect(page).to_have_url(re.compile(rf"/cases/{problem_id}$"))


# ---------------------------------------------------------------- the life


def test_one_problem_from_registration_through_rework_and_reopening_to_closed_and_the_receipt(
        new_context, fresh_live_server, artifacts):
    server = fresh_live_server
    today = clock.today()
    shots = {name: artifacts / f"handling-{name}.png" for name in (
        "taskbook-form-phone", "problem-desktop", "problem-phone", "minutes-form", "signoff-phone",
        "verify-desktop", "reply-phone", "receipt-phone")}
    for path in shots.values():
        path.unlink(missing_ok=True)

    # 1. The cadre registers the problem on a phone.
    cadre = as_user(new_context, "cadre", PHONE, **PHONE_MOBILE)
    number, receipt = register_visit(
        cadre, village="权台村", household=RESIDENT, resident=RESIDENT, phone=PHONE_NO,
        category="民生保障", title=TITLE, description=DESCRIPTION)
    s = state(server, number)
    problem_id = s["id"]
    assert s["status"] == Status.registered

    # 2. The group lead: 研判 (个性, 镇级, 难事联办 30 working days) → sheet to 潘安湖街道, 区民政局 cooperating.
    lead = as_user(new_context, "grouplead")
    open_problem(lead, problem_id)
    click_action(lead, "assign_sheet", "交办到镇（街道、功能区）")
    lead.get_by_label("个性问题", exact=True).check()
    lead.get_by_label("镇级层面", exact=True).check()
    lead.get_by_label("难事联办", exact=True).check()
    lead.get_by_label("难事联办时限（工作日）").fill("30")
    section = lead.locator("details#act-assign")
    expect(section).to_have_attribute("open", "")
    section.get_by_label("牵头单位").select_option(label="潘安湖街道")
    section.locator("details.check-box > summary", has_text="配合单位（可选）").click()
    section.get_by_label("区民政局", exact=True).check()
    section.get_by_label("办理要求").fill("请街道牵头修缮房屋，区民政局配合落实临时救助。")
    section.get_by_role("button", name="生成交办单并交办").click()
    landed(lead, problem_id, "已生成问题交办单")
    expect(status_badge(lead)).to_have_text("待签收")
    parts = lead.locator("#case-status ul.parts li")
    expect(parts).to_have_count(2)
    expect(parts.filter(has_text="区民政局")).to_contain_text("配合单位")
    s = state(server, number)
    assert s["status"] == Status.assigned
    assert s["parts"] == [("潘安湖街道", UnitRole.lead, PartStatus.pending),
                          ("区民政局", UnitRole.cooperating, PartStatus.pending)], s["parts"]
    first_deadline = s["deadline"]
    assert first_deadline is not None and first_deadline > today
    sheet_number = problem_by_number(server, number)["assignment"]["number"]
    pdf_of(lead, "打印交办单", ["问题交办单", sheet_number, number, TITLE, "潘安湖街道", "区民政局", "难事联办"])

    # 3. The town signs for it and writes the task book (two steps, the deadline given).
    town = as_user(new_context, "town")
    open_problem(town, problem_id)
    sign_for(town)
    assert state(server, number)["status"] == Status.accepted
    town.set_viewport_size(PHONE)  # the form as a handler on a phone sees it
    click_action(town, "submit_plan", "提交任务书")
    expect(town.get_by_role("heading", name=f"提交任务书：{TITLE}")).to_be_visible()
    handler = town.get_by_label("专人")
    expect(handler.locator("option:checked"), "the handler defaults to the writer").to_contain_text("责任单位经办人")
    expect(town.get_by_label("责任领导"), "the unit's leader is filled in").not_to_have_value("")
    town.get_by_label("责任领导").fill("李建国")
    town.get_by_label("责任科室（部门）").fill("街道城建办")
    town.get_by_label("化解措施").fill(MEASURES)
    book_deadline = first_deadline - dt.timedelta(days=1)
    town.get_by_label("完成时限").fill(book_deadline.isoformat())
    step_dates = (today + dt.timedelta(days=3), today + dt.timedelta(days=12))
    for i, (title, due) in enumerate(zip(STEPS, step_dates, strict=True)):
        row = town.locator("fieldset.step-row").nth(i)
        row.get_by_label("要做的事").fill(title)
        row.get_by_label("完成日期").fill(due.isoformat())
    no_sideways_scroll(town, "the task book form")
    town.screenshot(path=shots["taskbook-form-phone"], full_page=True)
    town.set_viewport_size(DESKTOP)
    town.get_by_role("button", name="提交责任领导审核").click()
    landed(town, problem_id, "任务书（第 1 版）已提交，等待责任领导审核。")
    expect(status_badge(town)).to_have_text("任务书待审核")
    s = state(server, number)
    assert s["status"] == Status.plan_review
    assert s["books"] == [(1, BookStatus.submitted, MEASURES, book_deadline,
                           [(STEPS[0], step_dates[0], "潘安湖街道", False),
                            (STEPS[1], step_dates[1], "潘安湖街道", False)])], s["books"]

    # 4. The town's leader approves it: the problem's deadline is the book's now.
    townlead = as_user(new_context, "townlead")
    open_problem(townlead, problem_id)
    click_action(townlead, "approve_plan", "批准任务书")
    box = townlead.locator("details#act-approve_plan")
    expect(box).to_have_attribute("open", "")
    expect(townlead.locator("main")).to_contain_text(MEASURES)
    box.get_by_label("审核意见（可选）").fill("同意，抓紧施工，注意安全。")
    box.get_by_role("button", name="批准", exact=True).click()
    landed(townlead, problem_id, f"任务书（第 1 版）已批准，办理时限为 {book_deadline.isoformat()}。")
    expect(status_badge(townlead)).to_have_text("办理中")
    s = state(server, number)
    assert (s["status"], s["deadline"], s["handler"]) == (Status.in_progress, book_deadline, "town"), s
    assert s["books"][0][1] == BookStatus.approved

    # 5. The department signs for its cooperating part.
    dept = as_user(new_context, "dept")
    open_problem(dept, problem_id)
    button = action(dept, "sign_for").get_by_role("button", name="签收（配合）")
    expect(button).to_be_visible()
    button.click()
    expect(dept.locator("#case-status .flash-success")).to_have_text("已签收（配合）。")
    expect(status_badge(dept), "a cooperating part does not move the status").to_have_text("办理中")
    s = state(server, number)
    assert s["parts"][1] == ("区民政局", UnitRole.cooperating, PartStatus.accepted)
    assert s["status"] == Status.in_progress

    # 6. The town convenes a 协商会 with 区民政局, this problem on the agenda.
    open_problem(town, problem_id)
    town.locator("#case-status li[data-activity='convene']").get_by_role("link", name="召集协商会办").click()
    expect(town.get_by_role("heading", name="召集协商会办", level=1)).to_be_visible()
    expect(town.get_by_label("协商会", exact=True)).to_be_checked()
    expect(town.get_by_label("会议名称")).to_have_value(f"关于“{TITLE}”的协商会")
    agenda = town.locator("fieldset.agenda").get_by_role("checkbox", name=re.compile(re.escape(number)))
    expect(agenda, "the problem the page was opened from is on the agenda").to_be_checked()
    town.get_by_label("会议日期").fill(today.isoformat())
    town.get_by_label("开始时间").fill("09:30")
    town.get_by_label("会议地点").fill("潘安湖街道办事处三楼会议室")
    town.get_by_label("主持人").fill("李建国（街道党工委副书记）")
    units = town.locator("details.check-box", has_text="参会单位")
    if units.get_attribute("open") is None:
        units.locator("summary").click()
    expect(units.get_by_label("区民政局", exact=True), "the cooperating unit is invited").to_be_checked()
    expect(units.get_by_label("潘安湖街道", exact=True)).to_be_checked()
    town.get_by_role("button", name="召集会议").click()
    expect(town).to_have_url(re.compile(r"/meetings/\d+$"))
    expect(flash(town)).to_contain_text("已召集协商会")
    meeting_id = int(re.search(r"/meetings/(\d+)$", town.url).group(1))
    meeting_number = read_db(server, lambda: db.session.get(Meeting, meeting_id).number)
    expect(town.locator("main")).to_contain_text(meeting_number)

    # 7. The minutes: attendance and one decision for 区民政局, a dated step.
    town.get_by_role("link", name="记录会议纪要").click()
    expect(town.get_by_role("heading", name=re.compile("^记录会议纪要"))).to_be_visible()
    town.get_by_role("textbox", name="会议纪要", exact=True).fill(
        "会议通报了该户房屋漏雨情况。街道负责修缮房屋，区民政局负责核定并发放临时救助。")
    for unit, who in (("潘安湖街道", "李建国、张伟"), ("区民政局", "赵敏")):
        row = town.locator("li.attendance-row", has_text=unit)
        expect(row.get_by_label("出席")).to_be_checked()
        row.get_by_label("参会人员").fill(who)
    decision = town.locator("fieldset.decision-row").first
    expect(decision.get_by_label("问题", exact=True).locator("option:checked")).to_contain_text(number)
    decision.get_by_label("责任单位").select_option(label="区民政局")
    decision.get_by_label("事项").fill(DECISION)
    decision_due = today + dt.timedelta(days=7)
    decision.get_by_label("完成时限").fill(decision_due.isoformat())
    town.screenshot(path=shots["minutes-form"], full_page=True)
    town.get_by_role("button", name="保存会议纪要").click()
    expect(town).to_have_url(re.compile(rf"/meetings/{meeting_id}$"))
    expect(flash(town)).to_contain_text("会议纪要已记录；1 项决定已列入相关问题的任务书。")
    expect(town.locator("table.decisions-table")).to_contain_text(DECISION)
    minutes = pdf_of(town, "打印会议纪要", ["会议纪要", meeting_number, number, TITLE, DECISION, "区民政局",
                                       "潘安湖街道办事处三楼会议室"])
    assert RESIDENT not in minutes, \
        "the minutes travel to every unit: they must not name the resident"
    s = state(server, number)
    assert s["books"][0][4][-1] == (DECISION, decision_due, "区民政局", False), s["books"]
    assert s["status"] == Status.in_progress

    # 8. The step shows on the problem's task book panel; the department ticks it done.
    town.locator("table.decisions-table").get_by_role("link", name=number).click()
    expect(town.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    steps = town.locator("#taskbook li[data-step]")
    expect(steps).to_have_count(3)
    expect(steps.nth(2)).to_contain_text(DECISION)
    expect(steps.nth(2)).to_contain_text("区民政局")
    expect(town.locator("#h-meetings")).to_be_visible()
    open_problem(dept, problem_id)
    dept_step = dept.locator("#taskbook li[data-step]", has_text=DECISION)
    expect(dept.locator("#taskbook li[data-step]", has_text=STEPS[0]).get_by_role("link", name="完成"),
           "a cooperating unit may tick only its own step").to_have_count(0)
    dept_step.get_by_role("link", name="完成").click()
    expect(dept.get_by_role("heading", name=f"完成步骤：{DECISION}")).to_be_visible()
    dept.get_by_label("完成情况").fill("经核定，临时救助金 3000 元已发放到王秀英本人账户。")
    dept.get_by_role("button", name="确认完成").click()
    landed(dept, problem_id, f"步骤“{DECISION}”已标记完成。")
    expect(dept.locator("#taskbook li[data-step]", has_text=DECISION)).to_contain_text("已完成")
    assert state(server, number)["books"][0][4][-1][3] is True
    # The 任务书 now prints with the decision's step done.
    town.reload()
    pdf_of(town, "打印任务书",
           ["任务书", number, MEASURES, STEPS[0], STEPS[1], DECISION, "区民政局", "潘安湖街道", "李建国", "已完成"])

    # The problem page with its panels, on a desktop and on a phone.
    town.screenshot(path=shots["problem-desktop"], full_page=True)
    town.set_viewport_size(PHONE)
    town.reload()
    no_sideways_scroll(town, "the problem page with the handling panels")
    town.screenshot(path=shots["problem-phone"], full_page=True)
    town.set_viewport_size(DESKTOP)

    # 9. The town asks for more time; the group lead (who assigned it) grants it.
    open_problem(town, problem_id)
    click_action(town, "request_extension", "申请延期")
    new_deadline = book_deadline + dt.timedelta(days=14)
    town.get_by_label("申请延期至").fill(new_deadline.isoformat())
    town.get_by_label("延期原因").fill("连续阴雨，屋顶防水层无法施工，需待天晴后完成。")
    town.get_by_label("目前办理进展").fill("已完成查勘，材料已进场；临时救助已发放。")
    town.get_by_role("button", name="提交延期申请").click()
    landed(town, problem_id, f"已申请延期至 {new_deadline.isoformat()}，等待")
    expect(town.locator("#progress-panel li[data-extension='pending']")).to_contain_text(new_deadline.isoformat())
    assert state(server, number)["deadline"] == book_deadline, "the deadline moves only once approved"
    open_problem(lead, problem_id)
    click_action(lead, "decide_extension", "审批延期")
    expect(lead.locator("main")).to_contain_text("连续阴雨")
    lead.get_by_label("审批说明").fill("同意，请抓住晴天施工。")
    lead.get_by_role("button", name="同意延期").click()
    landed(lead, problem_id, f"已同意延期，办理时限改为 {new_deadline.isoformat()}。")
    expect(lead.locator("#case-status")).to_contain_text(new_deadline.isoformat())
    s = state(server, number)
    assert (s["status"], s["deadline"]) == (Status.in_progress, new_deadline), s

    # 10. Sign-off with evidence (区民政局 has not reported its part done: say why), approved,
    #     then sent back for rework by the group lead.
    open_problem(town, problem_id)
    town.set_viewport_size(PHONE)
    click_action(town, "request_signoff", "申请销号")
    no_sideways_scroll(town, "the sign-off form")
    town.screenshot(path=shots["signoff-phone"], full_page=True)
    town.set_viewport_size(DESKTOP)
    open_problem(town, problem_id)
    open_reason = "区民政局已按会议决定发放临时救助，该步骤已完成，仅未在系统中反馈。"
    request_signoff(town, problem_id, RESULT_1, "修缮后屋顶.png", open_reason)
    s = state(server, number)
    assert s["status"] == Status.signoff_review
    assert s["closures"] == [(ClosureStatus.leader_review, RESULT_1,
                              [(AttachmentKind.evidence, "修缮后屋顶.png", "image/png")], open_reason)], s["closures"]

    approve_signoff(townlead, problem_id, "经现场查看，屋顶已修好。")
    assert state(server, number)["status"] == Status.pending_verification

    open_problem(lead, problem_id)
    click_action(lead, "reject_verification", "退回重办")
    box = lead.locator("details#act-reject_verification")
    expect(box).to_have_attribute("open", "")
    expect(lead.locator("main")).to_contain_text(RESULT_1)
    expect(lead.get_by_role("link", name="修缮后屋顶.png")).to_be_visible()
    box.get_by_label("退回重办原因").fill("回访发现卧室墙面仍有渗水，请返工处理后再申请销号。")
    lead.screenshot(path=shots["verify-desktop"], full_page=True)
    lead.once("dialog", lambda d: d.accept())  # data-confirm: 确定退回重办吗？
    box.get_by_role("button", name="退回重办").click()
    landed(lead, problem_id, "已退回重办，问题回到潘安湖街道办理中。")
    expect(status_badge(lead)).to_have_text("办理中")
    s = state(server, number)
    assert s["status"] == Status.in_progress
    assert s["closures"][-1][0] == ClosureStatus.verification_rejected

    # 11. Again: sign-off, approval, and this time the group lead verifies.
    open_problem(town, problem_id)
    request_signoff(town, problem_id, RESULT_2, "返工后墙面.png", open_reason)
    approve_signoff(townlead, problem_id, "返工到位。")
    verify(lead, problem_id, "经回访核实，房屋已不漏雨。")
    s = state(server, number)
    assert s["status"] == Status.signed_off and s["reply_due"] is not None, s
    assert [c[0] for c in s["closures"]] == [ClosureStatus.verification_rejected, ClosureStatus.verified]

    # 12. The cadre calls the resident: not satisfied, for a substantive reason → reopened.
    record_reply(cadre, problem_id, content=REPLY_UNSATISFIED, verdict="不满意",
                 words="厨房屋顶下雨还是漏，问题没有解决。", substantive=True, shot=shots["reply-phone"])
    expect(flash(cadre)).to_contain_text("群众因实质性问题不满意，问题已重新办理（第 1 次）")
    expect(status_badge(cadre)).to_have_text("办理中")
    expect(cadre.locator(".reply-panel li[data-verdict='unsatisfied']")).to_contain_text("重新办理")
    s = state(server, number)
    assert (s["status"], s["reopen_count"], s["reply_due"]) == (Status.in_progress, 1, None), s
    assert s["deadline"] > today
    assert s["replies"] == [("unsatisfied", True, REPLY_UNSATISFIED)]

    # 13. Sign-off once more, approved, verified.
    open_problem(town, problem_id)
    request_signoff(town, problem_id, RESULT_3, "厨房屋顶.png", open_reason)
    approve_signoff(townlead, problem_id, "已复查。")
    verify(lead, problem_id, "群众反映的漏点已全部处理。")
    assert state(server, number)["status"] == Status.signed_off

    # 14. The resident is satisfied: closed.
    record_reply(cadre, problem_id, content=REPLY_SATISFIED, verdict="满意", words="房子修好了，谢谢政府。")
    expect(flash(cadre)).to_have_text("已记录回音，问题已办结。")
    expect(status_badge(cadre)).to_have_text("已办结")
    s = state(server, number)
    assert (s["status"], s["reply_due"], s["reopen_count"]) == (Status.closed, None, 1), s
    assert s["replies"] == [("unsatisfied", True, REPLY_UNSATISFIED), ("satisfied", False, REPLY_SATISFIED)]
    assert [c[0] for c in s["closures"]] == [
        ClosureStatus.verification_rejected, ClosureStatus.verified, ClosureStatus.verified]
    assert s["events"] == [
        "register", "assign_sheet", "sign_for", "submit_plan", "approve_plan", "sign_for_part",
        "meeting_convened", "meeting_decision", "tick_step", "request_extension", "approve_extension",
        "request_signoff", "approve_signoff", "reject_verification",
        "request_signoff", "approve_signoff", "verify", "reply_reopen",
        "request_signoff", "approve_signoff", "verify", "reply",
    ], s["events"]
    assert read_db(server, lambda: db.session.get(Problem, problem_id).tier) == Tier.joint

    # The 销号单 of the last (verified) request, from the closure panel, with the resident's verdict.
    open_problem(lead, problem_id)
    latest = lead.locator(".closure-panel article").first
    expect(latest).to_contain_text(RESULT_3)
    expect(lead.locator(".closure-panel article", has_text=RESULT_1).get_by_role("link", name="打印销号单"),
           "a request sent back for rework prints nothing").to_have_count(0)
    pdf_of(lead, "打印销号单", ["销号单", number, RESULT_3, "厨房屋顶.png", "潘安湖街道", "区民政局", "核销通过",
                              "群众反映的漏点已全部处理", "满意", open_reason], scope=latest)

    # 15. The resident, without an account, on a phone: the receipt number and the last 4 digits.
    resident = new_context(viewport=PHONE, **PHONE_MOBILE).new_page()
    resident.goto("/receipt")
    resident.get_by_label("回执号").fill(receipt.lower())
    resident.get_by_label("手机号后四位").fill(PHONE_NO[-4:])
    resident.get_by_role("button", name="查询").click()
    result = resident.locator(".receipt-result")
    expect(result).to_be_visible()
    expect(result.locator(".receipt-status")).to_have_text("已办结")
    expect(result).to_contain_text("问题已办理完毕。")
    expect(result).to_contain_text(REPLY_SATISFIED)
    expect(result).to_contain_text(REPLY_UNSATISFIED)
    main = resident.locator("main")
    for private in (RESIDENT, "139", "潘安湖街道", "区民政局", "李建国", RESULT_3):
        expect(main, f"the receipt page must not show {private!r}").not_to_contain_text(private)
    no_sideways_scroll(resident, "the receipt lookup")
    resident.screenshot(path=shots["receipt-phone"], full_page=True)

    for path in shots.values():
        assert path.stat().st_size > 10_000, f"{path} looks empty"
