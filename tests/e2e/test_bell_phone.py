"""The bell and the inbox on a 375 px phone: the bell shows the unread count, opens the inbox,
opening a message reads it and the count drops, 全部标为已读 empties it; no page scrolls sideways."""

from playwright.sync_api import expect
from sqlalchemy import select, update

from tests.cases import factories as f
from tests.e2e.conftest import PHONE, login
from webapp.accounts.models import User
from webapp.core import clock
from webapp.core.extensions import db
from webapp.notifications.emit import notify
from webapp.notifications.models import Notification


def no_sideways_scroll(page):
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide at {PHONE['width']} px"


def test_bell_count_inbox_and_reading_at_375_px(new_context, fresh_live_server):
    with fresh_live_server.app.app_context():
        town = db.session.scalar(select(User.id).where(User.username == "town"))
        db.session.execute(update(Notification).where(Notification.user_id == town, Notification.read_at.is_(None))
                           .values(read_at=clock.now()))  # the demo's inbox, read already
        problem = f.assigned_to_town(title="手机消息测试：村口主干道路灯长期不亮，夜间群众出行不便")
        for i in range(2):
            notify([town], "remind", f"催办：手机消息测试第{i + 1}条，请尽快办理并反馈办理进展情况",
                   "超过办理时限仍未办结，请于三个工作日内反馈。", target=("problem", problem.id))
        db.session.commit()
        unread = db.session.query(Notification).filter_by(user_id=town, read_at=None).count()
        number = problem.number
        db.session.remove()
    assert unread == 3  # the new assignment and two 催办

    page = new_context(viewport=PHONE).new_page()
    login(page, "town")
    bell = page.locator("header a.bell")
    expect(bell).to_be_visible()
    expect(bell.locator(".bell-count")).to_have_text("3")
    expect(bell).to_have_attribute("aria-label", "消息：3 条未读")
    box = bell.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    no_sideways_scroll(page)

    bell.click()
    expect(page).to_have_url(f"{fresh_live_server.url}/notifications")
    items = page.locator("ul.inbox li.unread")
    expect(items).to_have_count(3)
    expect(page.locator("h1 .badge")).to_have_text("3 条未读")
    no_sideways_scroll(page)

    # Opening one reads it and goes to its problem; the bell counts one less.
    items.filter(has_text="手机消息测试第1条").locator("a").click()
    expect(page.locator("h1, .breadcrumbs").first).to_contain_text(number)
    expect(bell.locator(".bell-count")).to_have_text("2")
    no_sideways_scroll(page)

    bell.click()
    expect(page.locator("ul.inbox li.unread")).to_have_count(2)
    expect(page.locator("ul.inbox li.read", has_text="手机消息测试第1条")).to_have_count(1)
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator("ul.inbox li.unread")).to_have_count(0)
    expect(bell.locator(".bell-count")).to_have_count(0)
    expect(bell).to_have_attribute("aria-label", "消息")
    no_sideways_scroll(page)
