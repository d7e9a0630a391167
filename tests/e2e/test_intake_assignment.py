"""Intake and assignment in a real browser, as the people of DOMAIN §4–§6 do it.

1. ``cadre`` (on a phone) records a visit in 权台村 and registers a problem with a photo; the
   receipt shows the problem number and the resident's receipt number.
2. ``grouplead`` finds it in the queue, triages it (个性, 镇级, 实事快办) and assigns it by sheet to
   潘安湖街道; the problem page links the printed 问题交办单, which is read back.
3. ``town`` sees it under 待签收 and signs for it; the counter goes down.
4. A second problem goes through the coordinated list: ``grouplead`` lists it (共性, 区级) and
   submits the list → ``office`` assigns it to 区民政局 → ``dept`` returns it with a reason →
   ``office`` assigns it again → ``dept`` signs for it; the timeline tells the story in order.

Every action is a click on the real page (forms, buttons, htmx); the database is only read, to
check what the pages did.
"""

import re
import struct
import zlib

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DESKTOP, PHONE, login
from tests.pdfcheck import assert_pdf
from webapp.accounts.models import User
from webapp.cases.models import Assignment, AttachmentKind, PartStatus, Problem, UnitRole
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core import clock
from webapp.core.extensions import db

pytestmark = pytest.mark.e2e

NUMBER_RE = r"贾走访〔\d{4}〕\d{5}号"
RECEIPT_RE = r"[2-9A-HJ-NP-Z]{10}"
PHONE_MOBILE = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2}


# ---------------------------------------------------------------- helpers


def tiny_png(width: int = 12, height: int = 8) -> bytes:
    """A valid RGB PNG (red-and-white stripes), written by hand: zlib + CRC'd chunks."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"".join(bytes((200, 30, 30) if (x + y) % 4 < 2 else (255, 255, 255))
                                       for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def as_user(new_context, username: str, viewport=DESKTOP, **options) -> Page:
    """A browser context of its own for one person, logged in through the real form."""
    page = new_context(viewport=viewport, **options).new_page()
    login(page, username)
    return page


def read_db(server, fn):
    """Call ``fn()`` inside the served app (to read what the pages wrote)."""
    with server.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def problem_by_number(server, number: str) -> dict:
    def fn():
        p = db.session.scalar(select(Problem).where(Problem.number == number))
        assert p is not None, f"no problem {number} in the database"
        a = p.current_assignment
        return {
            "id": p.id, "status": p.status, "kind": p.kind, "level": p.level, "tier": p.tier,
            "receipt_no": p.receipt_no, "village": p.village.name, "town": p.town.name,
            "lead": p.lead_unit.name if p.lead_unit else None,
            "deadline": p.deadline,
            "list": p.coordinated_list.number if p.coordinated_list else None,
            "attachments": [(att.kind, att.filename, att.mime, att.size, att.sha256) for att in p.attachments],
            "assignment": None if a is None else {
                "number": a.number, "channel": a.channel.value,
                "parts": [(u.unit.name, u.role, u.status, u.signed_by.username if u.signed_by else None)
                          for u in a.units],
            },
            "events": [e.action for e in p.events],
        }

    return read_db(server, fn)


def menu_entry(page: Page, label: str) -> None:
    """Open a page from the top bar's menu (an entry of a menu group: the group opened first)."""
    link = page.locator(f"nav[aria-label='主导航'] a:text-is('{label}')")
    if not link.is_visible():
        link.locator("xpath=ancestor::details[@data-menu-group][1]/summary").click()
    link.click()


def no_sideways_scroll(page: Page, what: str) -> None:
    page.wait_for_load_state()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{what}: the page is {width} px wide on a {viewport} px screen"


def flash(page: Page):
    return page.locator(".flashes .flash")


def register_visit(page: Page, *, village: str, household: str, resident: str, phone: str, category: str,
                   title: str, description: str, photo: bytes | None = None, shot=None) -> tuple[str, str]:
    """The cadre's 登记走访 page: one visit with one problem; returns (problem number, receipt no.).
    ``shot``: a path for a screenshot of the filled-in form, just before saving."""
    page.goto("/")
    page.get_by_role("link", name="登记走访").first.click()
    expect(page.get_by_role("heading", name="登记走访", level=1)).to_be_visible()
    # Today and the cadre's own name are filled in already.
    expect(page.get_by_label("走访日期")).to_have_value(clock.today().isoformat())
    expect(page.get_by_label("走访人员")).not_to_be_empty()
    page.get_by_label("走访地点（村、社区）").select_option(label=village)
    page.get_by_label("户主或企业名称").fill(household)
    page.get_by_label("困难和诉求").fill(description[:40])
    block = page.locator("#block-0")
    expect(block, "the form should open with one problem block").to_be_visible()
    block.get_by_label("群众姓名").fill(resident)
    block.get_by_label("联系电话").fill(phone)
    block.get_by_label("问题类别").select_option(label=category)
    block.get_by_label("问题标题").fill(title)
    block.get_by_label("问题描述").fill(description)
    if photo is not None:
        block.get_by_label("照片或材料（可多选）").set_input_files(
            {"name": "现场照片.png", "mimeType": "image/png", "buffer": photo})
    no_sideways_scroll(page, "the intake form")
    if shot is not None:
        # What the cadre sees before saving: the photo chosen, the sticky save bar. (Not full_page:
        # a full-page capture draws the sticky bar over the "add a problem" button.)
        block.get_by_label("照片或材料（可多选）").scroll_into_view_if_needed()
        page.screenshot(path=shot)
    page.get_by_role("button", name="保存走访和问题").click()

    # The receipt (回执): the problem number and the resident's receipt number.
    expect(page.get_by_role("heading", name="走访登记回执"), "saving should land on the receipt").to_be_visible()
    expect(page).to_have_url(re.compile(r"/cases/visits/\d+/receipt$"))
    expect(flash(page)).to_have_text("走访记录已保存，登记问题 1 个。")
    expect(page.get_by_role("heading", name="登记的问题（1 个）")).to_be_visible()
    item = page.locator(".receipt-item")
    expect(item).to_have_count(1)
    expect(item.locator(".receipt-number")).to_have_text(re.compile(f"^{NUMBER_RE}$"))
    expect(item.locator(".receipt-no")).to_have_text(re.compile(f"^{RECEIPT_RE}$"))
    expect(item).to_contain_text(title)
    expect(item).to_contain_text(resident)
    expect(page.locator(".receipt")).to_contain_text(village)
    number = item.locator(".receipt-number").inner_text().strip()
    receipt = item.locator(".receipt-no").inner_text().strip()
    assert number.startswith(f"贾走访〔{clock.today().year}〕"), f"{number}: not numbered in this year"
    return number, receipt


def open_from_queue(page: Page, number: str, title: str) -> int:
    """工作台: find the problem with the active search, open it; returns its id."""
    page.goto("/")
    page.get_by_role("link", name="工作台").first.click()
    expect(page.get_by_role("heading", name="工作台", level=1)).to_be_visible()
    box = page.get_by_label("搜索")
    box.fill(number)
    box.press("Enter")  # the search event: asks at once rather than after the typing pause
    # The search answered (htmx pushes the filter into the address bar) before the row is used;
    # a loaded machine may take a while to answer.
    expect(page).to_have_url(re.compile(r"[?&]q="), timeout=15_000)
    row = page.locator("ol.case-cards li.case-card", has_text=number)
    expect(row, f"{number} should be found by the queue's search").to_have_count(1)
    expect(page.locator("#case-results .results-head")).to_contain_text("共 1 个问题")
    row.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    m = re.search(r"/cases/(\d+)$", page.url)
    assert m, f"the queue's link went to {page.url}, not a problem page"
    return int(m.group(1))


def status_badge(page: Page):
    return page.locator("#case-status .case-state .badge.big")


def counter(page: Page, tab: str) -> int:
    """The number on one of the queue's tabs (待签收, 办理中, …)."""
    text = page.locator(f"#case-tabs a[data-tab='{tab}'] .count").inner_text()
    return int(text)


def open_queue(page: Page) -> None:
    page.goto("/cases")
    expect(page.locator("#case-tabs")).to_be_visible()


def timeline(page: Page) -> list[str]:
    """The timeline's event labels, oldest first (the page shows the newest first)."""
    return page.locator("#case-status .timeline li .tl-head strong").all_inner_texts()[::-1]


def sign_for(page: Page) -> None:
    """签收 on the problem page (an htmx button: the status part of the page is swapped)."""
    button = page.locator("li[data-action='sign_for']").get_by_role("button", name="签收", exact=True)
    expect(button, "the unit should be offered 签收").to_be_visible()
    # A click before htmx has started posts the form the plain way (a whole page with the message
    # at the top, also correct); wait for the page's scripts to test the swap.
    page.wait_for_load_state("load")
    button.click()
    expect(page.locator("#case-status .flash-success")).to_have_text("已签收。")
    expect(status_badge(page)).to_have_text("已签收")
    expect(page.locator("li[data-action='sign_for']"), "签收 is done: the button goes").to_have_count(0)


# ---------------------------------------------------------------- 1–3: sheet to 潘安湖街道


def test_cadre_registers_on_a_phone_grouplead_assigns_by_sheet_and_town_signs_for(
        new_context, fresh_live_server, artifacts):
    server = fresh_live_server
    photo = tiny_png()
    title = "权台村东头三盏路灯损坏"
    description = "村东头主路三盏路灯损坏一个多月，夜间群众出行不便，老人摔倒过一次，希望尽快维修。"

    # 1. The cadre, on a phone: the visit, one problem, one photo → the receipt.
    form_shot, shot = artifacts / "intake-form-phone.png", artifacts / "intake-receipt-phone.png"
    for path in (form_shot, shot):
        path.unlink(missing_ok=True)
    cadre = as_user(new_context, "cadre", PHONE, **PHONE_MOBILE)
    number, receipt = register_visit(
        cadre, village="权台村", household="韩德明", resident="韩德明", phone="138 1234 5678",
        category="城市管理", title=title, description=description, photo=photo, shot=form_shot)
    no_sideways_scroll(cadre, "the receipt")
    cadre.screenshot(path=shot, full_page=True)
    for path in (form_shot, shot):
        assert path.stat().st_size > 10_000, f"{path} looks empty"
    saved = problem_by_number(server, number)
    assert saved["receipt_no"] == receipt, "the receipt shows another receipt number than was stored"
    assert (saved["status"], saved["village"], saved["town"]) == (Status.registered, "权台村", "潘安湖街道")
    # Photos are stored re-encoded without their metadata (a phone's GPS position stays off the
    # server): the same picture under the same name, not the same bytes.
    assert [a[:3] for a in saved["attachments"]] == [(AttachmentKind.photo, "现场照片.png", "image/png")], \
        f"the photo was not stored as sent: {saved['attachments']}"
    assert saved["attachments"][0][3] > 0
    assert saved["events"] == ["register"]
    # The cadre's own 我的走访 lists the visit with the problem.
    cadre.get_by_role("link", name="查看走访记录").click()
    expect(cadre.locator("main")).to_contain_text(number)
    no_sideways_scroll(cadre, "the visit record")

    # 2. The group lead (desktop): the queue → the problem → 研判 → 交办 to 潘安湖街道.
    lead = as_user(new_context, "grouplead")
    problem_id = open_from_queue(lead, number, title)
    assert problem_id == saved["id"]
    expect(status_badge(lead)).to_have_text("待研判")
    # The photo is on the problem page (as the cadre sent it, less its metadata).
    photo_link = lead.get_by_role("link", name="现场照片.png")
    expect(photo_link).to_be_visible()
    got = lead.request.get(photo_link.get_attribute("href"))
    assert got.ok and got.headers["content-type"] == "image/png", (got.status, got.headers)
    assert got.body()[:8] == b"\x89PNG\r\n\x1a\n", "the photo served back is not the PNG the cadre sent"

    lead.locator("li[data-action='assign_sheet']").get_by_role("link", name="交办到镇（街道、功能区）").click()
    expect(lead.get_by_role("heading", name=f"研判交办：{title}")).to_be_visible()
    lead.get_by_label("个性问题").check()
    lead.get_by_label("镇级层面").check()
    lead.get_by_label("实事快办").check()
    # The computed deadline shows before anything is assigned.
    expect(lead.locator("#deadline-preview")).to_contain_text("实事快办")
    section = lead.locator("details#act-assign")
    expect(section, "?action=assign_sheet should open the assign section").to_have_attribute("open", "")
    section.get_by_label("牵头单位").select_option(label="潘安湖街道")
    section.get_by_label("办理要求").fill("请三个工作日内核实维修，结果反馈工作组。")
    section.get_by_role("button", name="生成交办单并交办").click()

    expect(lead).to_have_url(re.compile(rf"/cases/{problem_id}$"))
    expect(flash(lead)).to_contain_text("已生成问题交办单")
    expect(flash(lead)).to_contain_text("交潘安湖街道办理")
    expect(status_badge(lead)).to_have_text("待签收")
    expect(lead.locator("#case-status")).to_contain_text("实事快办")
    parts = lead.locator("#case-status ul.parts li")
    expect(parts).to_have_count(1)
    expect(parts.first).to_contain_text("潘安湖街道")
    expect(parts.first).to_contain_text("待签收")
    assigned = problem_by_number(server, number)
    assert (assigned["status"], assigned["kind"], assigned["level"], assigned["tier"], assigned["lead"]) == (
        Status.assigned, Kind.individual, Level.town, Tier.quick, "潘安湖街道"), assigned
    sheet = assigned["assignment"]
    assert sheet["channel"] == "sheet" and re.fullmatch(r"贾走访交〔\d{4}〕\d{4}号", sheet["number"]), sheet
    expect(lead.locator("#case-status")).to_contain_text(sheet["number"])
    # The printed 问题交办单, fetched through the page's own link with the page's cookies.
    link = lead.get_by_role("link", name="打印交办单")
    expect(link).to_be_visible()
    pdf = lead.request.get(link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf", (pdf.status, pdf.headers)
    report = assert_pdf(pdf.body(), ["问题交办单", sheet["number"], number, "潘安湖街道", title, "实事快办"])
    assert "138****5678" in report.text.replace(" ", ""), "the sheet should carry the masked phone number"
    assert "13812345678" not in report.text.replace(" ", ""), "the sheet leaks the full phone number"

    # 3. The town: 待签收 in its queue → the problem → 签收; the counter goes down.
    town = as_user(new_context, "town")
    open_queue(town)
    to_sign = counter(town, "to_sign")
    assert to_sign >= 1, f"town's 待签收 counter shows {to_sign}"
    town.locator("#case-tabs a[data-tab='to_sign']").click()
    expect(town.locator("#case-tabs a[data-tab='to_sign']")).to_have_attribute("aria-current", "page")
    row = town.locator("ol.case-cards li.case-card", has_text=number)
    expect(row, f"{number} should be under town's 待签收").to_have_count(1)
    expect(row).to_contain_text("待签收")
    row.get_by_role("link", name=title).click()
    expect(town.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(status_badge(town)).to_have_text("待签收")
    expect(town.locator("#case-status")).to_contain_text("签收时限")
    sign_for(town)
    expect(town.locator("#case-status ul.parts li").first).to_contain_text("已签收")
    open_queue(town)
    assert counter(town, "to_sign") == to_sign - 1, "the 待签收 counter did not go down after 签收"
    signed = problem_by_number(server, number)
    assert signed["status"] == Status.accepted
    assert signed["assignment"]["parts"] == [("潘安湖街道", UnitRole.lead, PartStatus.accepted, "town")]
    assert signed["events"] == ["register", "assign_sheet", "sign_for"]
    # The group lead's page shows it too, once reloaded.
    lead.reload()
    expect(status_badge(lead)).to_have_text("已签收")
    expect(lead.locator("li[data-action='assign_sheet']")).to_have_count(0)


# ---------------------------------------------------------------- 4: the coordinated list to 区民政局


def assign_department(page: Page, scope, department: str) -> None:
    """The office's 交办区级部门 form (on a list item or on the triage page)."""
    scope.get_by_label("牵头部门").select_option(label=department)
    deadline = scope.get_by_label("办理时限")
    expect(deadline, "the deadline should be filled in from the tier").not_to_have_value("")
    assert deadline.input_value() >= clock.today().isoformat()
    scope.get_by_role("button", name="交办区级部门").click()


def test_common_problem_goes_through_the_list_to_a_department_is_returned_reassigned_and_signed_for(
        new_context, fresh_live_server):
    server = fresh_live_server
    title = "权台村低保评议程序不公开"
    description = "多户村民反映低保评议没有公示，评议程序不清楚，希望公开政策、规范评议程序。"

    cadre = as_user(new_context, "cadre")
    number, _receipt = register_visit(
        cadre, village="权台村", household="权台村村民代表", resident="李桂兰", phone="0516-87012345",
        category="民生保障", title=title, description=description)

    # The group lead: 研判 as 共性 / 区级 → 列入统筹交办清单 → 上报区活动办.
    lead = as_user(new_context, "grouplead")
    problem_id = open_from_queue(lead, number, title)
    lead.locator("li[data-action='add_to_list']").get_by_role("link", name="列入统筹交办清单").click()
    expect(lead.locator("details#act-list")).to_have_attribute("open", "")
    lead.get_by_label("共性问题").check()
    lead.get_by_label("区级层面").check()
    lead.get_by_label("实事快办").check()
    lead.locator("details#act-list").get_by_role("button", name="列入清单").click()
    expect(lead).to_have_url(re.compile(rf"/cases/{problem_id}$"))
    expect(flash(lead)).to_contain_text("草稿，共 1 个问题")
    expect(status_badge(lead)).to_have_text("已列入统筹清单")

    menu_entry(lead, "统筹清单")
    lead.locator(".list-row", has_text="草稿").get_by_role("link").click()
    expect(lead.locator(".list-item", has_text=number)).to_have_count(1)
    lead.once("dialog", lambda dialog: dialog.accept())  # data-confirm: 确定上报区活动办吗？
    lead.get_by_role("button", name="上报区活动办").click()
    expect(flash(lead)).to_contain_text("已上报区活动办，清单编号")
    list_number = problem_by_number(server, number)["list"]
    assert list_number and re.fullmatch(r"贾走访清〔\d{4}〕\d{4}号", list_number), list_number
    expect(lead.locator(".page-head .badge")).to_have_text("已上报待交办")
    expect(lead.get_by_role("button", name="上报区活动办")).to_have_count(0)

    # The office: the submitted list → assign the item to 区民政局 (lead).
    office = as_user(new_context, "office")
    menu_entry(office, "统筹清单")
    office.get_by_role("link", name=list_number).click()
    item = office.locator(".list-item", has_text=number)
    expect(item).to_have_count(1)
    item.locator("summary", has_text="交办区级部门").click()
    assign_department(office, item, "区民政局")
    expect(flash(office)).to_contain_text(f"已交办 {number}：牵头部门 区民政局")
    item = office.locator(".list-item", has_text=number)
    expect(item.locator(".item-assigned")).to_contain_text("区民政局（牵头）")
    expect(office.locator(".page-head .badge"), "every item assigned: the list is 已交办").to_have_text("已交办")
    first = problem_by_number(server, number)
    assert first["status"] == Status.assigned and first["lead"] == "区民政局", first
    assert first["assignment"]["channel"] == "office"
    # The printed list names the department now.
    pdf = office.request.get(office.get_by_role("link", name="打印清单（PDF）").get_attribute("href"))
    assert pdf.ok, pdf.status
    assert_pdf(pdf.body(), ["统筹交办问题清单", list_number, number, "区民政局"])

    # The department: 退回 with a reason (too short first: refused, kept).
    dept = as_user(new_context, "dept")
    open_queue(dept)
    to_sign = counter(dept, "to_sign")
    assert to_sign >= 1
    problem_id_seen = open_from_queue(dept, number, title)
    assert problem_id_seen == problem_id
    expect(status_badge(dept)).to_have_text("待签收")
    dept.locator("details.return-box > summary").click()
    reason_box = dept.get_by_label("退回原因")
    reason_box.fill("不归我")
    dept.get_by_role("button", name="确认退回").click()
    # Too short: the browser itself refuses (minlength from the form's rule), nothing is sent.
    assert reason_box.evaluate("el => el.validity.tooShort"), "a 3-character reason should be refused"
    expect(reason_box).to_have_value("不归我")
    expect(status_badge(dept)).to_have_text("待签收")
    # Padded with spaces it passes the browser, and the server (which strips) says why not.
    reason_box.fill("  不归我  ")
    dept.get_by_role("button", name="确认退回").click()
    expect(dept.locator("#case-status .errors")).to_contain_text("退回原因请写 5 到 500 个字。")
    expect(dept.locator("details.return-box"), "the return form stays open").to_have_attribute("open", "")
    expect(status_badge(dept)).to_have_text("待签收")
    assert problem_by_number(server, number)["status"] == Status.assigned
    reason = "低保评议公示属镇（街道）职责，请交潘安湖街道办理。"
    reason_box.fill(reason)
    dept.get_by_role("button", name="确认退回").click()
    # Returned, the department no longer holds it: back to its queue, with the message.
    expect(dept).to_have_url(re.compile(r"/cases$"))
    expect(flash(dept)).to_have_text("已退回交办单位重新研判。")
    assert counter(dept, "to_sign") == to_sign - 1, "the 待签收 counter did not go down after 退回"
    returned = problem_by_number(server, number)
    assert returned["status"] == Status.returned and returned["lead"] is None, returned

    # The office: the returned district-level problem → its triage page → 区民政局 again.
    menu_entry(office, "统筹清单")
    section = office.locator("section", has=office.get_by_role("heading", name="区级部门退回、待重新交办的问题"))
    expect(section).to_contain_text(title)
    section.get_by_role("link", name=number).click()
    expect(office.get_by_role("heading", name="承办单位已退回，请重新研判交办")).to_be_visible()
    expect(office.locator(".return-reason")).to_have_text(reason)
    box = office.locator("details#act-departments")
    expect(box, "?action=assign_departments should open the departments section").to_have_attribute("open", "")
    assign_department(office, box, "区民政局")
    expect(office).to_have_url(re.compile(rf"/cases/{problem_id}$"))
    expect(flash(office)).to_contain_text(f"已交办 {number}：牵头部门 区民政局")
    expect(status_badge(office)).to_have_text("待签收")

    # The department signs for it this time.
    open_queue(dept)
    assert counter(dept, "to_sign") == to_sign
    dept.locator("#case-tabs a[data-tab='to_sign']").click()
    dept.locator("ol.case-cards li.case-card", has_text=number).get_by_role("link", name=title).click()
    sign_for(dept)

    # The story, in order, on the problem page (oldest first once reversed), with who did what.
    expected = ["登记问题", "列入统筹交办清单", "统筹清单已上报", "交办区级部门", "退回", "交办区级部门", "签收"]
    assert timeline(dept) == expected, f"timeline: {timeline(dept)}"
    returned_entry = dept.locator("#case-status .timeline li", has_text="退回").filter(has_text=reason)
    expect(returned_entry).to_contain_text("区民政局")
    office.reload()
    assert timeline(office) == expected
    done = problem_by_number(server, number)
    assert done["status"] == Status.accepted
    assert done["events"] == ["register", "add_to_list", "list_submitted", "assign_departments", "return",
                              "assign_departments", "sign_for"]
    assert done["assignment"]["parts"] == [("区民政局", UnitRole.lead, PartStatus.accepted, "dept")]

    def assignments():
        rows = db.session.scalars(select(Assignment).where(Assignment.problem_id == problem_id)
                                  .order_by(Assignment.id)).all()
        return [(a.channel.value, a.is_current, db.session.get(User, a.assigned_by_id).username) for a in rows]

    assert read_db(server, assignments) == [("office", False, "office"), ("office", True, "office")]
