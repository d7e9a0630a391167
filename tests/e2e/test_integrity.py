"""Integrity in a real browser: flags, review, spot checks, 问责.

1. ``office`` (desktop) opens 诚信核查 from the menu and runs the scan: a sign-off 潘安湖街道 made
   without any evidence file is among the new 销号无佐证材料 flags; the flag's page shows the
   evidence (the problem's number, the written reason) and the office confirms it.
2. From the flag the office records a 问责 against 潘安湖街道 (约谈), linking the flag; the record
   names the problem and the flag.
3. ``office`` draws the spot-check sample of the latest ended half month at 100 %, records one
   callback as 不属实: a 抽查回访不属实 flag appears in the list, linked from the sample.
4. ``auditor`` (phone) finds the 问责 record under 问责记录 (read only, no sideways scroll);
   ``town`` has neither 问责记录 nor 诚信核查 in its menu, and both URLs answer 403.
5. ``leader`` reads the flags and the record but has no scan or review controls; a POST with a
   valid CSRF token is refused (403).
"""

from datetime import datetime, time, timedelta

import pytest
import time_machine
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_intake_assignment import PHONE_MOBILE, as_user, no_sideways_scroll, read_db
from tests.e2e.test_stats import csrf_token
from tests.handling import factories as hf
from webapp.core import clock
from webapp.core.extensions import db
from webapp.core.periods import recent
from webapp.integrity.models import AccountabilityRecord, Flag, FlagKind, FlagStatus, SpotCheckItem

pytestmark = pytest.mark.e2e

TOWN = "潘安湖街道"


def seed(server) -> dict:
    """Sign-offs of 潘安湖街道 verified early in the latest ended half month, none with a file."""
    def fn():
        start = recent(1, include_current=False)[0].start + timedelta(days=1)
        with time_machine.travel(datetime.combine(start, time(10), clock.LOCAL_TZ), tick=True):
            first = hf.signed_off()
            second = hf.signed_off(category="教育")
        return {"first": first.number, "second": second.number}

    return read_db(server, fn)


def open_menu(page: Page, entry: str) -> None:
    page.goto("/")
    nav = page.get_by_role("navigation", name="主导航")
    if not nav.is_visible():
        page.locator("details.menu > summary").click()
    link = nav.locator(f"a:text-is('{entry}')")
    if not link.is_visible():  # an entry of a closed menu group (a dropdown on a desk)
        link.locator("xpath=ancestor::details[@data-menu-group][1]/summary").click()
    link.click()
    expect(page.get_by_role("heading", name=entry, level=1)).to_be_visible()


def test_flags_review_accountability_and_spot_checks(fresh_live_server, server, new_context, artifacts):
    numbers = seed(server)

    # 1. The office runs the scan and reviews the no-evidence flag of its problem.
    office = as_user(new_context, "office", DESKTOP)
    open_menu(office, "诚信核查")
    office.get_by_role("button", name="立即核查").click()
    expect(office.locator(".flashes .flash").first).to_contain_text("核查完成")
    row = office.locator("tr[data-flag]").filter(has_text=numbers["first"]).filter(has_text="销号无佐证材料")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(TOWN)
    expect(row).to_contain_text("待核查")
    row.get_by_role("link").first.click()
    expect(office.get_by_role("link", name=numbers["first"]).first).to_be_visible()
    expect(office.locator("main")).to_contain_text("无佐证材料的理由")
    office.screenshot(path=artifacts / "integrity-flag-office.png", full_page=True)
    office.get_by_label("核查属实").check()
    office.get_by_label("核查情况说明").fill("电话联系群众，确认未提供任何现场照片。")
    office.get_by_role("button", name="提交核查结论").click()
    expect(office.locator(".flashes .flash").first).to_contain_text("核查属实")
    flag_url = office.url

    # 2. 问责 from the flag: unit preselected, the flag offered; the record names both.
    office.get_by_role("link", name=f"对{TOWN}建立问责记录").click()
    expect(office.get_by_role("heading", name=f"记录问责：{TOWN}")).to_be_visible()
    office.get_by_label("约谈").check()
    office.get_by_label("问责事由").fill("销号未附佐证材料，经核查属实。")
    office.get_by_label("决定日期").fill(clock.today().isoformat())
    office.get_by_label("决定机关（人）").fill("区活动领导小组")
    flag_box = office.locator("input[name=flags]")
    expect(flag_box).to_have_count(1)
    flag_box.check()
    office.get_by_role("button", name="保存问责记录").click()
    expect(office.locator(".flashes .flash").first).to_contain_text(f"已记录对{TOWN}的问责")
    expect(office.locator("main")).to_contain_text(numbers["first"])
    expect(office.locator("main")).to_contain_text("区活动领导小组")
    record_url = office.url

    def saved():
        rec = db.session.scalar(select(AccountabilityRecord))
        flag = db.session.scalar(select(Flag).where(Flag.accountability_id == rec.id))
        return (rec.unit.name, rec.measure.value, [p.number for p in rec.problems],
                flag.kind, flag.status, flag.problem.number)

    assert read_db(server, saved) == (TOWN, "talk", [numbers["first"]], FlagKind.no_evidence,
                                      FlagStatus.confirmed, numbers["first"])

    # 3. Spot check of the latest ended half month, every sign-off drawn; one callback contradicts.
    open_menu(office, "抽查回访")
    office.get_by_label("抽查比例（%）").fill("100")
    office.get_by_role("button", name="抽取").click()
    expect(office.locator(".flashes .flash").first).to_contain_text("请逐一回访")
    item = office.locator("article.spot-item").filter(has_text=numbers["second"])
    expect(item).to_have_count(1)
    item.get_by_role("link", name="记录回访结果").click()
    item = office.locator("article.spot-item").filter(has_text=numbers["second"])
    item.get_by_label("不属实（群众反映未解决）").check()
    item.get_by_label("电话回访").check()
    item.get_by_label("群众反映的情况").fill("群众说问题还没有解决，路灯依旧不亮。")
    item.get_by_role("button", name="保存回访结果").click()
    item = office.locator("article.spot-item").filter(has_text=numbers["second"])
    expect(item).to_contain_text("不属实")
    # The sample's progress line follows without a reload.
    expect(office.locator("#spot-progress")).to_contain_text("待回访 1")
    expect(office.locator("#spot-progress")).to_contain_text("不属实 1")
    office.screenshot(path=artifacts / "integrity-spotcheck-office.png", full_page=True)
    item.get_by_role("link", name="查看线索").click()
    expect(office.locator("main")).to_contain_text("群众说问题还没有解决")

    def spot():
        it = db.session.scalar(select(SpotCheckItem).where(SpotCheckItem.flag_id.is_not(None)))
        return it.problem.number, it.flag.kind, it.flag.unit.name

    assert read_db(server, spot) == (numbers["second"], FlagKind.spot_check, TOWN)

    # 4. The audit admin, on a phone: the record, read only. The town held to account: nothing.
    auditor = as_user(new_context, "auditor", PHONE, **PHONE_MOBILE)
    open_menu(auditor, "问责记录")
    auditor.get_by_role("link", name=clock.today().isoformat()).click()
    expect(auditor.locator("main")).to_contain_text(numbers["first"])
    assert auditor.locator("main form[method=post]").count() == 0
    no_sideways_scroll(auditor, "问责记录 on a phone")
    auditor.screenshot(path=artifacts / "integrity-accountability-auditor-phone.png", full_page=True)
    town = as_user(new_context, "town", PHONE, **PHONE_MOBILE)
    town.goto("/")
    assert town.get_by_role("link", name="诚信核查", exact=True).count() == 0
    assert town.get_by_role("link", name="问责记录", exact=True).count() == 0
    assert town.request.get(f"{server.url}/integrity").status == 403
    assert town.request.get(record_url).status == 403

    # 5. The leader reads, changes nothing.
    leader = as_user(new_context, "leader", DESKTOP)
    leader.goto(flag_url)
    expect(leader.locator("main")).to_contain_text(numbers["first"])
    assert leader.get_by_role("button", name="提交核查结论").count() == 0
    leader.goto("/integrity")
    assert leader.get_by_role("button", name="立即核查").count() == 0
    leader.goto(record_url)
    expect(leader.locator("main")).to_contain_text("区活动领导小组")
    token = csrf_token(leader)
    resp = leader.request.post(f"{server.url}/integrity/scan", headers={"X-CSRFToken": token},
                               form={"csrf_token": token})
    assert resp.status == 403
