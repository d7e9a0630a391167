"""Offline intake in a real browser, as a cadre does it in a village without signal (DOMAIN §12):
the intake page opens from the phone with the network off, two visits and a problem with a photo
are kept on the phone as 待发送, and when the network returns they are sent by themselves and
shown as 已发送 with their numbers — each exactly once on the server, even when sent again. A
draft the server refuses stays on the phone with the reason, is opened, fixed and sent."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import PHONE, login
from tests.e2e.test_intake_assignment import (
    NUMBER_RE,
    PHONE_MOBILE,
    no_sideways_scroll,
    read_db,
    tiny_png,
)
from webapp.cases.models import AttachmentKind, Problem
from webapp.core.extensions import db
from webapp.visits.models import Visit

pytestmark = pytest.mark.e2e

INTAKE = "/cases/visits/new"


def cadre_phone(new_context) -> tuple:
    context = new_context(viewport=PHONE, **PHONE_MOBILE)
    page = context.new_page()
    login(page, "cadre")
    page.goto(INTAKE)
    # The service worker has kept the intake page and the register for this cadre.
    expect(page.locator("body[data-offline-ready]")).to_be_attached(timeout=15000)
    return context, page


def go_offline(context, page: Page) -> None:
    context.set_offline(True)
    response = page.goto(INTAKE)
    assert response is not None and response.from_service_worker, "the page should come from the phone"
    expect(page.get_by_role("heading", name="登记走访", level=1)).to_be_visible()
    assert page.evaluate("navigator.onLine") is False


def visits_named(server, name: str) -> list[dict]:
    def fn():
        rows = db.session.scalars(select(Visit).where(Visit.household_name == name)).all()
        return [{"token": v.client_token, "problems": [
            {"number": p.number, "title": p.title,
             "photos": [(a.kind, a.mime) for a in p.attachments]} for p in v.problems]} for v in rows]

    return read_db(server, fn)


def problems_titled(server, title: str) -> int:
    return read_db(server, lambda: db.session.scalar(
        select(func.count()).select_from(Problem).where(Problem.title == title)))


def fill_visit(page: Page, household: str) -> None:
    page.get_by_label("走访地点（村、社区）").select_option(label="权台村")
    page.get_by_label("户主或企业名称").fill(household)


def test_visits_recorded_offline_are_sent_once_when_the_network_returns(fresh_live_server, new_context, artifacts):
    server = fresh_live_server
    context, page = cadre_phone(new_context)
    go_offline(context, page)

    # Visit 1, with a problem and a photo.
    fill_visit(page, "离线户甲")
    block = page.locator("#block-0")
    block.get_by_label("群众姓名").fill("离线居民")
    block.get_by_label("联系电话").fill("13912345678")
    block.get_by_label("问题类别").select_option(index=1)
    block.get_by_label("问题标题").fill("离线登记的路灯不亮")
    block.get_by_label("问题描述").fill("村口路灯坏了两个月，晚上出行不便。")
    block.get_by_label("照片或材料（可多选）").set_input_files(
        {"name": "路灯.png", "mimeType": "image/png", "buffer": tiny_png()})
    page.get_by_role("button", name="保存走访和问题").click()
    drafts = page.locator("#offline-drafts .offline-draft")
    expect(drafts).to_have_count(1)
    expect(page.locator("#offline-note")).to_have_text("没有网络：已保存在手机上，有网络时会自动发送。")
    # The form is empty again for the next household.
    expect(page.get_by_label("户主或企业名称")).to_have_value("")

    # Visit 2, without a problem.
    fill_visit(page, "离线户乙")
    page.get_by_role("button", name="只保存走访（无问题）").click()
    expect(drafts).to_have_count(2)
    expect(page.locator("#offline-drafts .offline-pending")).to_have_count(2)
    expect(drafts.nth(0)).to_contain_text("待发送")
    expect(drafts.nth(0)).to_contain_text("离线户甲")
    expect(drafts.nth(0)).to_contain_text("离线登记的路灯不亮")
    expect(drafts.nth(1)).to_contain_text("离线户乙")
    expect(page.locator("#offline-badge")).to_have_text("待发送 2")
    no_sideways_scroll(page, "the intake page with its drafts")
    page.screenshot(path=str(artifacts / "offline-drafts.png"))
    assert visits_named(server, "离线户甲") == [] and visits_named(server, "离线户乙") == []

    # The network returns: both are sent without a click, and shown with their numbers.
    context.set_offline(False)
    expect(page.locator("#offline-drafts .offline-sent")).to_have_count(2, timeout=15000)
    expect(drafts.nth(0)).to_contain_text("已发送")
    expect(drafts.nth(0).locator(".offline-number")).to_have_text(re.compile(f"^{NUMBER_RE}$"))
    number = drafts.nth(0).locator(".offline-number").inner_text()
    expect(page.locator("#offline-badge")).to_be_hidden()

    first, second = visits_named(server, "离线户甲"), visits_named(server, "离线户乙")
    assert len(first) == 1 and len(second) == 1
    assert first[0]["problems"] == [{"number": number, "title": "离线登记的路灯不亮",
                                     "photos": [(AttachmentKind.photo, "image/png")]}]
    assert second[0]["problems"] == []
    assert first[0]["token"] != second[0]["token"]  # each draft its own client token

    # Sent again (say the answer was lost on the way): the server's token keeps one of each.
    page.evaluate("""() => new Promise((resolve, reject) => {
        const req = indexedDB.open("huiyin-offline", 1);
        req.onsuccess = () => {
          const tx = req.result.transaction("drafts", "readwrite");
          const store = tx.objectStore("drafts");
          store.getAll().onsuccess = (ev) => ev.target.result.forEach(
            (d) => { d.status = "pending"; d.numbers = []; store.put(d); });
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
        };
      })""")
    page.reload()
    expect(page.locator("#offline-drafts .offline-sent")).to_have_count(2, timeout=15000)
    expect(drafts.nth(0).locator(".offline-number")).to_have_text(number)
    assert len(visits_named(server, "离线户甲")) == 1 and len(visits_named(server, "离线户乙")) == 1
    assert problems_titled(server, "离线登记的路灯不亮") == 1


def test_a_refused_draft_stays_with_its_reason_and_is_fixed_and_sent(fresh_live_server, new_context):
    server = fresh_live_server
    context, page = cadre_phone(new_context)
    # A page the phone does not keep says so, instead of the browser's error.
    context.set_offline(True)
    page.goto("/cases/visits")
    expect(page.get_by_role("heading", name="没有网络")).to_be_visible()
    go_offline(context, page)
    # The household's name is forgotten: nothing on the phone checks it, the server will.
    page.get_by_label("走访地点（村、社区）").select_option(label="权台村")
    page.get_by_label("困难和诉求").fill("离线草稿：孩子上学路远")
    page.get_by_role("button", name="只保存走访（无问题）").click()
    draft = page.locator("#offline-drafts .offline-draft")
    expect(draft).to_have_count(1)

    context.set_offline(False)
    page.get_by_role("button", name="立即发送").click()
    expect(page.locator("#offline-drafts .offline-refused")).to_have_count(1, timeout=15000)
    expect(draft).to_contain_text("未通过")
    expect(draft.locator(".offline-reasons")).to_contain_text("请填写户主姓名或企业名称。")
    expect(page.locator("#offline-badge")).to_have_text("待发送 1")
    page.reload()
    expect(draft.locator(".offline-reasons"), "the reason stays on the phone").to_contain_text("请填写户主姓名或企业名称。")

    draft.get_by_role("button", name="打开修改").click()
    expect(page.get_by_label("困难和诉求")).to_have_value("离线草稿：孩子上学路远")
    expect(page.get_by_label("走访地点（村、社区）")).to_have_value(re.compile(r"\d+"))
    page.get_by_label("户主或企业名称").fill("补填户主")
    page.get_by_role("button", name="只保存走访（无问题）").click()
    expect(page.locator("#offline-drafts .offline-sent")).to_have_count(1, timeout=15000)
    expect(draft).to_have_count(1)  # the same draft, now sent, not a second one
    saved = visits_named(server, "补填户主")
    assert len(saved) == 1
    assert saved[0]["token"] == draft.get_attribute("data-token")


def test_logging_out_clears_the_cadres_pages_from_the_phone(live_server, new_context):
    context, page = cadre_phone(new_context)
    assert any(k.startswith("huiyin-user-") for k in page.evaluate("caches.keys()"))
    page.get_by_role("button", name="退出", exact=True).click()
    expect(page.get_by_role("heading", name="回音 · 登录")).to_be_visible()
    page.wait_for_function("caches.keys().then(ks => !ks.some(k => k.startsWith('huiyin-user-')))")
    keys = page.evaluate("caches.keys()")
    assert not [k for k in keys if k.startswith("huiyin-user-")]
    assert "huiyin-assets-v1" in keys  # the style sheet and scripts hold no one's data
