"""Forms sent back with errors, in a real browser: the summary at the top takes the focus, each
of its links puts the focus in its field, and every block or choice added comes back as typed
(the intake form with problems added by htmx, the triage form with cooperating units ticked)."""

import re

from playwright.sync_api import expect

from tests.cases import factories as f
from tests.e2e.conftest import DESKTOP, PHONE, login
from tests.e2e.test_intake_assignment import read_db


def test_intake_with_added_problems_comes_back_as_typed_with_a_summary(new_context, server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    login(page, "cadre")
    page.goto("/cases/visits/new")
    page.get_by_label("走访地点（村、社区）").select_option(index=1)
    page.get_by_label("户主或企业名称").fill("韩德明")
    page.get_by_label("走访人员").fill("")
    add = page.get_by_role("button", name="＋ 再加一个问题")
    add.click()
    expect(page.locator("#block-1")).to_be_visible()
    add.click()
    expect(page.locator("#block-2")).to_be_visible()
    typed = {
        0: ("韩德明", "138 1234 5678", "村东头路灯损坏", "三盏路灯晚上不亮。"),
        1: ("周某", "1381234567", "排水沟堵塞", "雨后积水进院。"),  # a phone one digit short
        2: ("吴某", "0516-87012345", "", "门前道路坑洼。"),  # no title
    }
    for i, (name, phone, title, description) in typed.items():
        block = page.locator(f"#block-{i}")
        block.get_by_label("群众姓名").fill(name)
        block.get_by_label("联系电话").fill(phone)
        block.get_by_label("问题类别").select_option(index=1)
        block.get_by_label("问题标题").fill(title)
        block.get_by_label("问题描述").fill(description)
    page.get_by_role("button", name="保存走访和问题").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    expect(links).to_have_text([
        "走访人员：请填写走访人员。",
        re.compile(r"^问题 2 · 联系电话：请填写正确的手机号"),
        "问题 3 · 问题标题：请用一句话概括问题。",
    ])
    # Each link puts the focus in its field.
    links.nth(1).click()
    expect(page.locator("#block-1").get_by_label("联系电话")).to_be_focused()
    links.nth(2).click()
    expect(page.locator("#block-2").get_by_label("问题标题")).to_be_focused()
    # Every block as typed (phones in their stored form), the right ones not marked.
    for i, (name, phone, title, description) in typed.items():
        block = page.locator(f"#block-{i}")
        expect(block.get_by_label("群众姓名")).to_have_value(name)
        expect(block.get_by_label("问题标题")).to_have_value(title)
        expect(block.get_by_label("问题描述")).to_have_value(description)
        expect(block.get_by_label("问题类别")).not_to_have_value("")
    expect(page.locator("#block-1").get_by_label("联系电话")).to_have_value("1381234567")
    expect(page.locator("#block-0").get_by_label("联系电话")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("[aria-invalid='true']")).to_have_count(3)
    expect(page.get_by_label("户主或企业名称")).to_have_value("韩德明")


def test_triage_keeps_the_ticked_units_and_links_the_wrong_field(new_context, server):
    problem_id = read_db(server, lambda: f.register(village="权台村", title="村东头路灯损坏").id)
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "grouplead")
    page.goto(f"/cases/{problem_id}/triage")
    box = page.locator("details#cooperating")
    box.locator("summary").click()
    ticks = box.get_by_role("checkbox")
    chosen = [ticks.nth(1).get_attribute("value"), ticks.nth(2).get_attribute("value")]
    ticks.nth(1).check()
    ticks.nth(2).check()
    page.get_by_label("牵头单位").select_option(value="")
    page.get_by_label("办理要求").fill("三天内答复群众")
    page.get_by_role("button", name="生成交办单并交办").click()

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    link = summary.get_by_role("link", name=re.compile("^牵头单位："))
    link.click()
    expect(page.get_by_label("牵头单位")).to_be_focused()
    for value in chosen:
        expect(page.locator(f"details#cooperating input[value='{value}']")).to_be_checked()
    expect(page.get_by_label("办理要求")).to_have_value("三天内答复群众")
    expect(page.locator("[aria-invalid='true']")).to_have_count(1)
