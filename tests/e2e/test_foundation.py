"""The foundation in a real browser: login and logout for every demo account, the navigation each
role gets, the login error, accessibility (axe), the CSP, the phone menu, and screenshots."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import DESKTOP, PHONE, login, logout
from webapp.accounts.gates import role_may
from webapp.accounts.models import User
from webapp.accounts.nav import NAV, items_for
from webapp.accounts.roles import ADMIN_ROLES, CASEWORK_ROLES
from webapp.core.extensions import db
from webapp.demo.org import DEMO_ACCOUNTS

pytestmark = pytest.mark.e2e

USERNAMES = [username for username, *_ in DEMO_ACCOUNTS]
DEMO = {username: (full_name, unit, role) for username, full_name, unit, role in DEMO_ACCOUNTS}
GENERIC_LOGIN_ERROR = "用户名或密码错误，或账号暂时被锁定。"
# Blueprints of the casework areas (CONTRIBUTING: cases ← handling, supervision, stats).
CASEWORK_BLUEPRINTS = {"visits", "cases", "handling", "supervision", "stats"}
# 三员分立 (DOMAIN §3): each admin page belongs to one admin role and to no casework role.
ADMIN_ENTRIES = {"用户管理": "sysadmin", "单位管理": "sysadmin", "接口密钥": "sysadmin", "角色分配": "secadmin", "安全策略": "secadmin", "审计日志": "auditor"}
NAV_LINKS = "nav[aria-label='主导航'] a"
LOGIN_HEADING = "回音 · 登录"


def expected_for(server, username):
    """Ask the served app who this user is and which menu entries its gates allow."""
    app = server.app
    with server.request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        items = items_for(user)
        # items_for must agree with the gates entry by entry: the menu never offers a refusal.
        assert items == [i for i in NAV if i.endpoint in app.view_functions and role_may(user.role, i.endpoint)
                         and (i.when is None or i.when(user))]
        return {
            "role": user.role,
            "role_label": str(user.role_label),
            "unit": user.unit.name,
            "unit_kind": str(user.unit.kind_label),
            "full_name": user.full_name,
            "nav": [(str(i.label), url_for(i.endpoint)) for i in items],
            "endpoints": [i.endpoint for i in items],
            # Entries some role may see, in this build of the app (areas register as they land).
            "existing": {str(i.label): i.endpoint for i in NAV if i.endpoint in app.view_functions},
        }


def nav_links(page):
    return page.locator(NAV_LINKS).evaluate_all("els => els.map(a => [a.textContent.trim(), a.getAttribute('href')])")


def facts(page):
    """The home page's 'who you are' list as {dt: dd}."""
    return page.locator("dl.facts").evaluate(
        "dl => Object.fromEntries([...dl.querySelectorAll('dt')].map(dt => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]))"
    )


def expect_login_page(page):
    expect(page).to_have_url(re.compile(r"/login(\?.*)?$"))
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_have_count(0)


@pytest.mark.parametrize("username", USERNAMES)
def test_each_demo_account_logs_in_sees_its_menu_and_logs_out(page, server, username):
    want = expected_for(server, username)
    assert (want["full_name"], want["unit"], want["role"]) == DEMO[username]
    page.set_viewport_size(DESKTOP)
    login(page, username)
    expect(page).to_have_url(server.url + "/")

    # Home: who you are, your unit and your role, in the page and in the top bar.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"您好，{want['full_name']}")
    about = facts(page)
    assert about["用户名"] == username
    assert about["所在单位"] == f"{want['unit']}（{want['unit_kind']}）"
    assert about["角色"] == want["role_label"]
    # The top bar names the role after the unit, unless they read the same (区活动办).
    top = want["unit"] if want["unit"] == want["role_label"] else f"{want['unit']} · {want['role_label']}"
    expect(page.locator(".whoami")).to_contain_text(top)

    # The menu shows exactly what the gates allow, in order, visible on the desktop, and each
    # entry opens.
    shown = nav_links(page)
    assert shown == [list(pair) for pair in want["nav"]]
    assert shown[0] == ["首页", "/"]
    for link in page.locator(NAV_LINKS).all():
        expect(link).to_be_visible()
    for label, href in shown:
        resp = page.request.get(href)
        assert resp.ok and "/login" not in resp.url, f"{username}: menu entry {label} ({href}) → {resp.status}"
    # The home page tiles offer the same entries (without 首页) and the password change.
    tiles = page.locator("ul.tiles a").evaluate_all("els => els.map(a => [a.textContent.trim(), a.getAttribute('href')])")
    assert tiles == [list(pair) for pair in want["nav"][1:]] + [["修改密码", "/account/password"], ["双因素认证", "/account/totp"]]

    # Rules that must hold whatever areas exist yet (each applies once its page exists).
    labels = [label for label, _ in shown]
    blueprints = {endpoint.split(".")[0] for endpoint in want["endpoints"]}
    if want["role"] in ADMIN_ROLES:
        assert not blueprints & CASEWORK_BLUEPRINTS, f"{username} (三员) sees casework: {labels}"
    for label, owner in ADMIN_ENTRIES.items():
        if label in want["existing"]:
            if username == owner:
                assert label in labels, f"{username} misses {label}"
            if want["role"] in CASEWORK_ROLES:
                assert label not in labels, f"{username} (casework) sees {label}"

    # Logging out ends the session: the login page, and neither Back nor / shows the home page.
    logout(page)
    expect_login_page(page)
    expect(page.locator(".flash-info")).to_have_text("您已安全退出。")
    page.go_back()
    expect_login_page(page)
    page.goto("/")
    expect_login_page(page)
    assert "next=%2F" in page.url


def test_wrong_password_shows_the_generic_error_and_keeps_the_username(page, fresh_live_server):
    # Its own database: the failure counts toward town's lockout, which no other test should see.
    login(page, "town", "Wrong@2026", expect_success=False)
    expect(page.get_by_role("heading", name=LOGIN_HEADING)).to_be_visible()
    expect(page.locator(".errors")).to_have_text(GENERIC_LOGIN_ERROR)
    username = page.get_by_label("用户名", exact=True)
    password = page.get_by_label("密码", exact=True)
    expect(username).to_have_value("town")
    expect(password).to_have_value("")
    # The message is tied to the field for screen readers.
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(GENERIC_LOGIN_ERROR)
    # An unknown user gets exactly the same answer.
    login(page, "nobody", "Wrong@2026", expect_success=False)
    expect(page.locator(".errors")).to_have_text(GENERIC_LOGIN_ERROR)


def _axe(page, what):
    results = Axe().run(page)
    violations = results.response["violations"]
    for v in violations:
        print(f"axe {what}: {v['id']} ({v['impact']}) ×{len(v['nodes'])}: {v['help']}")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_accessibility_of_login_and_home_pages(new_context, server, viewport):
    page = new_context(viewport=viewport).new_page()
    page.goto("/login")
    assert _axe(page, "login") == []
    # A failed login shows the field error: scanned too (an unknown user: no lockout counter).
    login(page, "nobody", "Wrong@2026", expect_success=False)
    assert _axe(page, "login error") == []
    for username in ("cadre", "office"):
        login(page, username)
        if viewport is PHONE:
            page.locator("details.menu > summary").click()
        assert _axe(page, f"home {username}") == []
        logout(page)


def test_csp_holds_and_htmx_loads_in_the_browser(page, server, browser_log):
    login(page, "office")
    page.wait_for_load_state("load")
    version = page.evaluate("() => window.htmx && window.htmx.version")
    assert version and version.startswith("2."), version
    # The <meta name="htmx-config"> took effect: no eval, no injected inline indicator style.
    config = page.evaluate("() => [htmx.config.allowEval, htmx.config.includeIndicatorStyles]")
    assert config == [False, False]
    # The CSRF header htmx sends is configured on <body>, and the strict CSP came with the page.
    headers = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))")
    assert headers["X-CSRFToken"]
    resp = page.request.get("/")
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    assert "unsafe" not in resp.headers["content-security-policy"]
    logout(page)
    assert browser_log.csp_violations == []
    assert browser_log.page_errors == []
    assert browser_log.errors == [], browser_log.console
    # Control: the browser does enforce the policy, and the log would have caught a breach.
    inject = "() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1'; document.body.append(s); }"
    with page.expect_console_message(lambda msg: "Content Security Policy" in msg.text):
        page.evaluate(inject)
    assert page.evaluate("() => window.inlineRan") is None
    assert len(browser_log.csp_violations) == 1
    browser_log.console.clear()  # the control's own violation is not a failure


def test_phone_menu_is_a_details_that_opens_on_tap(new_context, server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    login(page, "cadre")
    menu = page.locator("details.menu")
    summary = menu.locator("summary")
    links = page.locator(NAV_LINKS)
    expect(summary).to_be_visible()
    expect(summary).to_have_text("菜单")
    expect(menu).not_to_have_attribute("open", "")
    expect(links.first).to_be_hidden()
    summary.tap()
    expect(menu).to_have_attribute("open", "")
    want = expected_for(server, "cadre")["nav"]
    expect(links).to_have_text([label for label, _ in want])
    for i in range(len(want)):
        expect(links.nth(i)).to_be_visible()
    # Thumb-sized targets (44 px) for the menu, its entries and the logout button.
    for target in [summary, page.get_by_role("button", name="退出"), *links.all()]:
        box = target.bounding_box()
        assert box["height"] >= 44, f"{target}: {box}"
    # The page fits the phone: nothing scrolls sideways.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"
    # Tapping again closes it; logging out needs no menu.
    summary.tap()
    expect(menu).not_to_have_attribute("open", "")
    logout(page)


def test_desktop_nav_is_visible_without_opening(new_context, server):
    page = new_context(viewport=DESKTOP).new_page()
    login(page, "office")
    expect(page.locator("details.menu > summary")).to_be_hidden()
    links = page.locator(NAV_LINKS)
    want = expected_for(server, "office")["nav"]
    assert links.count() == len(want)
    for i in range(len(want)):
        expect(links.nth(i)).to_be_visible()
    expect(page.locator(NAV_LINKS + "[aria-current='page']")).to_have_text("首页")
    # The first Tab reaches the skip link, which shows itself and moves focus to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到正文")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_desktop_menu_can_be_opened_without_javascript(new_context, server):
    page = new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    login(page, "office")
    summary = page.locator("details.menu > summary")
    expect(summary).to_be_visible()
    summary.click()
    expect(page.locator(NAV_LINKS).first).to_be_visible()
    expect(summary).to_be_hidden()


@pytest.mark.parametrize(
    ("username", "viewport", "kind"),
    [("cadre", PHONE, "phone"), ("office", DESKTOP, "desktop")],
    ids=["cadre-phone", "office-desktop"],
)
def test_screenshots_for_people_to_look_at(new_context, server, artifacts, username, viewport, kind):
    mobile = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2} if kind == "phone" else {}
    page = new_context(viewport=viewport, **mobile).new_page()
    names = [f"login-{kind}.png", f"home-{username}-{kind}.png"] + ([f"menu-{username}-{kind}.png"] if kind == "phone" else [])
    shots = [artifacts / name for name in names]
    for path in shots:
        path.unlink(missing_ok=True)
    page.goto("/login")
    page.screenshot(path=shots[0], full_page=True)
    login(page, username)
    page.screenshot(path=shots[1], full_page=True)
    if kind == "phone":
        page.locator("details.menu > summary").tap()
        page.wait_for_timeout(600)  # let Chromium's tap highlight fade: this one is for people
        page.screenshot(path=shots[2])
    for path in shots:
        assert path.stat().st_size > 10_000, f"{path} looks empty"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_menu_page_of_every_role_has_no_serious_accessibility_finding(new_context, server, viewport):
    """axe on each page of each casework role's menu, at 375 px and at a desk."""
    page = new_context(viewport=viewport).new_page()
    found = {}
    for username in ("cadre", "grouplead", "town", "townlead", "dept", "desk", "office", "leader", "auditor"):
        login(page, username)
        hrefs = []
        for a in page.locator("nav a[href^='/']").all():
            href = a.get_attribute("href")
            if href and href not in hrefs and not href.startswith(("/logout", "/locale")):
                hrefs.append(href)
        for href in hrefs:
            page.goto(href)
            page.wait_for_load_state("load")
            bad = _axe(page, f"{username} {href}")
            if bad:
                found[(username, href)] = bad
        logout(page)
    assert found == {}
