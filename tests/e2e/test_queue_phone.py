"""The work queue on a 375 px phone: a page of 25 cards fits in three screen heights, each card
shows its limits and the working days left, and 下一页 continues after the last card."""

from playwright.sync_api import expect

from tests.cases import factories as f
from tests.e2e.conftest import login
from webapp.core.extensions import db

PHONE = {"width": 375, "height": 667}  # the smaller 375 px phone (the suite's PHONE is 812 high)


def test_a_page_of_25_cards_fits_three_phone_screens(new_context, fresh_live_server):
    with fresh_live_server.app.app_context():
        for i in range(30):
            f.assigned_to_town(title=f"手机卡片第{i:02d}号：村口主干道路灯长期不亮，夜间群众出行不便，请尽快修复")
        db.session.commit()
        db.session.remove()
    page = new_context(viewport=PHONE).new_page()
    login(page, "town")
    page.goto("/cases")  # opens on what needs the town's action: 待签收
    expect(page.locator("#case-tabs a[data-tab='to_sign']")).to_have_attribute("aria-current", "page")
    cards = page.locator("ol.case-cards li.case-card")
    expect(cards).to_have_count(25)
    box = page.locator("ol.case-cards").bounding_box()
    screen = PHONE["height"]
    assert box["height"] <= 3 * screen, f"25 cards are {box['height']:.0f} px high, more than 3 × {screen} px"
    assert box["width"] <= PHONE["width"]  # no sideways scrolling
    first = cards.first
    expect(first).to_contain_text("签收时限")
    expect(first).to_contain_text("办理时限")
    expect(first.locator(".time-left")).to_contain_text("剩余")
    page.get_by_role("link", name="下一页").click()
    expect(cards).to_have_count(5)
    expect(page.get_by_role("link", name="回到第一页")).to_be_visible()
