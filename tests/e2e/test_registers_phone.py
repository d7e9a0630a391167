"""The registers on a 375 px phone, as a visiting cadre uses them: the households list, a
household's page, 我的包户 and the one-screen visit with a photo from the camera — no page
scrolls sideways, and the visit lands with its photo."""

import io
from datetime import timedelta

from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import ARTIFACTS, PHONE, login
from tests.visits import factories as vf
from webapp.core import clock
from webapp.core.extensions import db
from webapp.visits.models import AttentionMark, Visit


def _no_sideways_scroll(page, what: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"registers-phone-{what}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what}: the page is {width} px wide on a {PHONE['width']} px phone"


def _photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(buf, format="JPEG")
    return buf.getvalue()


def test_registers_and_the_quick_visit_with_a_photo_fit_a_phone(new_context, fresh_live_server):
    with fresh_live_server.app.app_context():
        today = clock.today()
        vf.visit_round(name="手机测试轮", starts_on=today - timedelta(days=10), ends_on=today + timedelta(days=20))
        marks = list(db.session.scalars(select(AttentionMark).limit(3)))
        h = vf.household("QT-2026-000123", head="欧阳建国", village="权台村", members=5, phone="13912345678",
                         address="权台村三组幸福路一百二十八号东侧第二排院落（原供销社旧址北面）", marks=marks)
        for i in range(31):  # more than one page of 我的包户
            vf.household(f"QU-{i:03d}", head=f"邻户{i:02d}", village="权台村")
        db.session.commit()
        hid = h.id
        db.session.remove()
    page = new_context(viewport=PHONE).new_page()
    login(page, "cadre")

    page.goto("/visits/households")
    expect(page.get_by_text("欧阳建国").first).to_be_visible()
    _no_sideways_scroll(page, "户籍台账")

    page.goto(f"/visits/households/{hid}")
    expect(page.locator("h1")).to_contain_text("欧阳建国")
    _no_sideways_scroll(page, "户的页面")

    page.goto("/visits/mine")
    expect(page.locator(".tabs.states a[aria-current=page]")).to_contain_text("未走访")
    item = page.locator("li.visit-item", has_text="欧阳建国")
    expect(item).to_be_visible()
    expect(page.locator("li.visit-item")).to_have_count(30)
    page.get_by_role("link", name="加载更多").click()
    expect(page.locator("li.visit-item")).to_have_count(32)
    expect(page.get_by_role("link", name="加载更多")).to_have_count(0)
    _no_sideways_scroll(page, "我的包户")
    item.get_by_role("link", name="记录走访").click()

    expect(page.locator("h1")).to_contain_text("记录走访")
    _no_sideways_scroll(page, "记录走访")
    photos = page.locator("input[type=file][name=photos]")
    expect(photos).to_have_attribute("accept", "image/*")
    page.get_by_label("见到的人").fill("户主本人")
    page.get_by_label("了解到的情况").fill("老两口身体尚可，屋顶漏雨已自行修补。")
    photos.set_input_files([{"name": "门前.jpg", "mimeType": "image/jpeg", "buffer": _photo()}])
    page.get_by_role("button", name="保存走访").click()

    expect(page).to_have_url(f"{fresh_live_server.url}/visits/mine?kind=households")
    expect(page.get_by_text("走访记录已保存。")).to_be_visible()
    expect(page.locator("li.visit-item", has_text="欧阳建国")).to_have_count(0)  # no longer among the unvisited
    page.locator(".tabs.states").get_by_role("link", name="已走访").click()
    expect(page.locator("li.visit-item", has_text="欧阳建国")).to_be_visible()
    _no_sideways_scroll(page, "我的包户（走访后）")
    with fresh_live_server.app.app_context():
        (visit,) = db.session.scalars(select(Visit).where(Visit.household_id == hid)).all()
        assert visit.met == "户主本人" and [p.filename for p in visit.photos] == ["门前.jpg"]
        vid = visit.id
        db.session.remove()
    page.goto(f"/cases/visits/{vid}")
    thumb = page.locator(".visit-photos img.thumb")
    expect(thumb).to_have_count(1)
    # The thumbnail loads lazily (loading="lazy"): brought into view, it must arrive as an image.
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    _no_sideways_scroll(page, "走访记录表")
