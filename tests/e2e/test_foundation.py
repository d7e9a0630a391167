"""The foundation in a real browser: login and logout for every demo account, the navigation each
role gets, the login error, accessibility (axe), the CSP, the phone menu, and screenshots."""

import re
import time
from pathlib import Path

import axe_playwright_python
import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import func, select

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
        allowed = [i for i in NAV if i.endpoint in app.view_functions and role_may(user.role, i.endpoint)
                   and (i.when is None or i.when(user))]
        assert sorted(items, key=lambda i: i.endpoint) == sorted(allowed, key=lambda i: i.endpoint)
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

    # The menu shows exactly what the gates allow, in order, visible on the desktop (an entry of
    # a group once the group is opened), and each entry opens.
    shown = nav_links(page)
    assert shown == [list(pair) for pair in want["nav"]]
    assert shown[0] == ["首页", "/"]
    expect(page.locator("details.menu")).to_have_attribute("open", "")  # app.js opens it on a desk
    for link in page.locator(NAV_LINKS).all():
        if not link.is_visible():
            link.locator("xpath=ancestor::details[@data-menu-group][1]/summary").click()
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
    # The site's own address opens the login form as it is: no "请先登录" warning, no detour back.
    assert page.url.endswith("/login")
    expect(page.get_by_text("请先登录")).to_have_count(0)


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
    summary = menu.locator(":scope > summary")
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
    # The top-level entries show at once; each group's entries once its name is clicked.
    top = page.locator("nav[aria-label='主导航'] > ul > li > a")
    for i in range(top.count()):
        expect(top.nth(i)).to_be_visible()
    groups = page.locator("details[data-menu-group]")
    assert groups.count() >= 3
    for i in range(groups.count()):
        group = groups.nth(i)
        expect(group.locator("a").first).to_be_hidden()
        group.locator("summary").click()
        for link in group.locator("a").all():
            expect(link).to_be_visible()
    page.goto("/")
    expect(page.locator(NAV_LINKS + "[aria-current='page']")).to_have_text("首页")
    # The first Tab reaches the skip link, which shows itself and moves focus to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="跳到正文")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


WIDE = {"width": 1366, "height": 768}


@pytest.mark.parametrize("username", ["office", "leader"])
def test_the_longest_menus_are_one_row_at_1366_px_and_work_by_keyboard(new_context, server, username):
    page = new_context(viewport=WIDE).new_page()
    login(page, username)
    top = page.locator("nav[aria-label='主导航'] > ul > li")
    rows = {round(box["y"]) for box in (li.bounding_box() for li in top.all())}
    assert len(rows) == 1, f"{username}'s menu takes {len(rows)} rows at 1366 px"
    bar = page.locator("header.topbar").bounding_box()
    assert bar["height"] <= 64, bar
    # Every entry the gates allow is in the menu, once.
    want = expected_for(server, username)["nav"]
    assert sorted(nav_links(page)) == sorted([label, href] for label, href in want)
    # By keyboard: Enter opens a group, Tab reaches its first entry, Escape closes it again.
    group = page.locator("details[data-menu-group]").first
    summary = group.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(group).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(group.locator("a").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(group).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()
    # One dropdown at a time; a click elsewhere closes it.
    second = page.locator("details[data-menu-group]").nth(1)
    summary.click()
    second.locator("summary").click()
    expect(group).not_to_have_attribute("open", "")
    page.locator("main h1").first.click()
    expect(second).not_to_have_attribute("open", "")
    # An entry of a group opens its page, and the group's name says where one is.
    second.locator("summary").click()
    link = second.locator("a").first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_url(f"**{href}")
    expect(page.locator("details[data-menu-group] > summary.current")).to_have_count(1)


def test_the_offices_grouped_menu_on_a_phone(new_context, server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    login(page, "office")
    page.locator("details.menu > summary").tap()
    want = expected_for(server, "office")["nav"]
    links = page.locator(NAV_LINKS)
    assert links.count() == len(want)
    for link in links.all():
        expect(link).to_be_visible()  # the groups are open inside the phone menu
    for target in page.locator("details[data-menu-group] > summary").all():
        assert target.bounding_box()["height"] >= 44
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    # Without JavaScript a group opens on a tap of its name.
    bare = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    login(bare, "office")
    bare.locator("details.menu > summary").click()
    group = bare.locator("details[data-menu-group]").first
    expect(group.locator("a").first).to_be_hidden()
    group.locator("summary").click()
    expect(group.locator("a").first).to_be_visible()


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


# ---------------------------------------------------------------- axe on every page

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
# The rules enabled by default whose findings can be serious or critical (a rule's impact is the
# highest its findings can have): the others could never fail the test, so they are not run.
AXE_RUN = """async () => {
  const rules = axe.getRules().map(r => r.ruleId);
  const wanted = axe._audit.rules.filter(r => r.enabled !== false && !r.tags.includes("experimental")
                                           && ["serious", "critical"].includes(r.impact))
                                .map(r => r.id).filter(id => rules.includes(id));
  const res = await axe.run(document, {runOnly: {type: "rule", values: wanted}, resultTypes: ["violations"]});
  return res.violations.filter(v => v.impact === "serious" || v.impact === "critical")
                       .map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(" "))]);
}"""
AXE_ROLES = ("office", "leader", "grouplead", "cadre", "town", "townlead", "dept", "desk", "auditor")
# A record's own page or a form under it (/supervision/notices/12, /cases/5/progress,
# /visits/households/3); never a file (pdf, xlsx, attachments, downloads) nor a link that acts
# (opening a notification marks it read).
DETAIL = re.compile(r"^/(?!attachments/|notifications/|jobs/\d+/download)[\w/-]*?/\d+(?:/[\w-]+)?$")
PROBLEM_FORM = re.compile(r"^/cases/\d+/[\w-]+$")
# Error pages, once for a casework role and once for the office (their menus differ).
ERROR_PAGES = {"cadre": ("/cases/2147483000", "/settings"), "office": ("/no-such-page", "/admin/users")}
# Pages reached from a menu page's tabs or buttons rather than a record link.
MORE_PAGES = {"office": ("/settings/calendar", "/settings/categories", "/settings/limits", "/stats/reports")}


def _scan(page, where, found):
    """axe at the current width, then at the other one (no reload, axe injected once)."""
    page.evaluate(AXE_SOURCE)
    for _width in (1, 2):
        size = page.viewport_size
        bad = page.evaluate(AXE_RUN)
        if bad:
            found[(where, size["width"])] = bad
        page.set_viewport_size(DESKTOP if size["width"] == PHONE["width"] else PHONE)
        page.evaluate("() => new Promise(requestAnimationFrame)")  # the resize handled (menu)


def _problems_in_each_state(server, username):
    """One problem of each state the user sees (the problem page differs by state): (href, state)."""
    from webapp.cases.access import scope
    from webapp.cases.models import Problem

    with server.request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        rows = db.session.execute(select(Problem.status, func.min(Problem.id)).where(scope(user))
                                  .group_by(Problem.status).order_by(Problem.status)).all()
        db.session.rollback()
    return [(f"/cases/{pid}", str(status)) for status, pid in rows]


def _pattern(href):
    return re.sub(r"\d+", "N", href)


def _seed_casework(server):
    """The demo problems (every state, with their sheets and meetings), a few registers, the
    督办单 and the 催办/通报 papers, and the last half month's report."""
    from webapp.core.periods import recent
    from webapp.demo.cases import load_demo_cases
    from webapp.demo.registers import load_registers
    from webapp.demo.supervision import load_notices, load_papers
    from webapp.stats import reports

    with server.app.app_context():
        try:
            load_demo_cases()
            load_registers(per_village=(2, 3))
            db.session.commit()
            load_notices()
            db.session.commit()
            load_papers()
            office = db.session.scalar(select(User).where(User.username == "office"))
            reports.issue(office, recent(1, include_current=False)[0])
            db.session.commit()
        finally:
            db.session.remove()


def test_every_page_of_every_role_has_no_serious_accessibility_finding(fresh_live_server, new_context, server):
    """axe on the pages of every role's menu, the records they link to (a notice, a paper, a
    household, a report, a meeting…), a problem in each state with the forms it offers, the
    settings pages and the error pages, at 375 px and at a desk: no serious or critical finding.
    One context per role, each page loaded once and scanned at both widths."""
    started = time.monotonic()
    _seed_casework(server)
    print(f"axe: demo casework loaded in {time.monotonic() - started:.1f} s")
    found, scanned = {}, []
    # Each page is scanned once, as the first role (in AXE_ROLES order, the widest menus first)
    # that reaches it: a menu page, a record of each kind, a problem in each state, each form.
    # Every role's home page is scanned (it shows the role's own menu).
    done = set()
    for username in AXE_ROLES:
        page = new_context(viewport=PHONE).new_page()
        login(page, username)
        menu = []
        for href in page.locator("nav a[href^='/']").evaluate_all("els => els.map(a => a.getAttribute('href'))"):
            if href not in menu and not href.startswith(("/logout", "/locale")):
                menu.append(href)
        menu += [href for href in MORE_PAGES.get(username, ()) if href not in menu]
        queue = [(href, None if href == "/" else href) for href in menu]
        queue += [(href, f"state {state}") for href, state in _problems_in_each_state(server, username)]
        queue += [(href, _pattern(href)) for href in ERROR_PAGES.get(username, ())]
        seen = set(menu)
        while queue:
            href, key = queue.pop(0)
            if key is not None and key in done and not re.fullmatch(r"/cases/\d+", href):
                continue  # scanned already, and nothing to find on it
            page.goto(href)
            if key is None or key not in done:
                _scan(page, f"{username} {href}", found)
                scanned.append(href)
                done.add(key)
            links = page.locator("main a[href^='/']").evaluate_all("els => els.map(a => a.getAttribute('href'))")
            for link in links:
                link = link.split("#")[0].split("?")[0]
                # From a menu page: the first record of each kind; from a problem: its forms.
                wanted = (href in menu and DETAIL.match(link) and not re.match(r"/cases/\d", link)) or (
                    re.fullmatch(r"/cases/\d+", href) and PROBLEM_FORM.match(link) and link.startswith(href + "/"))
                if wanted and link not in seen and _pattern(link) not in done:
                    seen.add(link)
                    queue.append((link, _pattern(link)))
        page.context.close()
    print(f"axe: {len(scanned)} pages × 2 widths in {time.monotonic() - started:.0f} s: {' '.join(scanned)}")
    for (where, width), bad in found.items():
        print(f"axe {where} at {width} px: {bad}")
    assert found == {}
