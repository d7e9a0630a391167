"""Browser tests: the real app on a live server, driven by headless Debian Chromium (Playwright).

- ``live_server``: the app from ``create_app`` on 127.0.0.1 (a free port), werkzeug's threaded
  server in a background thread, over a database cloned from the migrated, demo-loaded template
  (``tests/conftest.py``). One per test module, so a module's tests share its data: they must not
  depend on what another test wrote. A test that changes data others could see asks for
  ``fresh_live_server`` instead (its own clone, its own server; the page then talks to that one).
- ``browser`` (pytest-playwright, one per session and worker) is Debian's Chromium with the flags
  of STACK.md; ``context``/``page``/``new_context`` give each test a fresh browser context whose
  ``base_url`` is the server, so ``page.goto("/login")`` works.
- Every test fails if the server raised an exception, if the page broke the Content-Security-
  Policy or if a script threw: none of these is ever expected (``browser_log`` has the details).
- ``login(page, username)`` / ``logout(page)`` use the real form and button. Screenshots go to
  ``test-artifacts/`` at the repository root (git-ignored): ``ARTIFACTS``.
"""

import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask, got_request_exception
from playwright.sync_api import Page, expect
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import (
    DEMO_PASSWORD,
    PG_URL,
    _admin_engine,
    _pg_url,
    _test_config,
    _worker,
    demo_totp_code,
)
from webapp import create_app
from webapp.core.extensions import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items):
    # Everything under tests/e2e is a browser test, whether or not its module says so.
    for item in items:
        if "/tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


# --- the live server -------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (errors are still logged)."""

    def log_request(self, *args, **kwargs):
        pass


@dataclass
class LiveServer:
    app: Flask
    url: str
    exceptions: list = field(default_factory=list)

    def request_context(self, path="/"):
        """A request context of the served app, for computing expectations (url_for, gates)."""
        return self.app.test_request_context(path)


@contextmanager
def _cloned_database(template_db, directory: Path):
    """A copy of the template database (like ``database_url``, for any fixture scope)."""
    if PG_URL:
        name = f"huiyin_e2e_{_worker()}_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        try:
            yield _pg_url(name)
        finally:
            with _admin_engine().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = directory / "e2e.sqlite3"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


@contextmanager
def _serve(database_url: str, tmp: Path, **overrides):
    app = create_app({**_test_config(tmp, database_url), **overrides})
    server = LiveServer(app=app, url="")

    def remember(sender, exception, **extra):
        server.exceptions.append(exception)

    got_request_exception.connect(remember, app, weak=False)
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    server.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(remember, app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def live_server(template_db, tmp_path_factory):
    """The app served over HTTP for the tests of one module (its own database clone)."""
    tmp = tmp_path_factory.mktemp("e2e")
    with _cloned_database(template_db, tmp) as url, _serve(url, tmp) as server:
        yield server


@pytest.fixture
def fresh_live_server(database_url, tmp_path):
    """A server over a database of this test's own, for tests that change data."""
    with _serve(database_url, tmp_path) as server:
        yield server


# The server of the running test (the login helper reads the demo admins' TOTP step through it);
# set where the browser contexts get their base URL, whichever ``server`` a module defines.
CURRENT: dict[str, LiveServer] = {}


@pytest.fixture
def server(request) -> LiveServer:
    """The server the test's browser context talks to."""
    name = "fresh_live_server" if "fresh_live_server" in request.fixturenames else "live_server"
    return request.getfixturevalue(name)


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless unless --headed, with the flags of STACK.md."""
    return {
        "headless": True,
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def base_url():
    """Replaces pytest-playwright's fallback ``base_url`` fixture, an instance-method session
    fixture that pytest 9 deprecates (a warning, so an error here). Each context gets the live
    server's URL instead (``browser_context_args``)."""
    return None


@pytest.fixture
def browser_context_args(browser_context_args, server):
    CURRENT["server"] = server
    return {**browser_context_args, "base_url": server.url, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


class BrowserLog:
    """What the pages of a test said on the console and which script errors they threw."""

    def __init__(self):
        self.console = []  # (type, text, url)
        self.page_errors = []

    def watch(self, context):
        context.on("console", lambda msg: self.console.append((msg.type, msg.text, msg.location.get("url", ""))))
        context.on("weberror", lambda err: self.page_errors.append(str(err.error)))

    @property
    def csp_violations(self):
        # Chromium says "Refused to load …" for blocked resources and "Executing inline script
        # violates the following Content Security Policy directive …" for inline code.
        return [text for _, text, _ in self.console if "Refused to" in text or "Content Security Policy" in text]

    @property
    def errors(self):
        return [text for kind, text, _ in self.console if kind == "error"]


@pytest.fixture
def browser_log():
    return BrowserLog()


@pytest.fixture
def new_context(new_context, browser_log):
    """pytest-playwright's ``new_context``, with every context watched by ``browser_log``."""

    def _new_context(**kwargs):
        context = new_context(**kwargs)
        browser_log.watch(context)
        return context

    return _new_context


@pytest.fixture(autouse=True)
def _no_server_exception_csp_violation_or_script_error(request):
    """Fail any browser test during which the server raised, the CSP refused, or a script threw."""
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")
    log = request.getfixturevalue("browser_log")
    server.exceptions.clear()
    yield
    assert not server.exceptions, f"the server raised: {server.exceptions!r}"
    assert not log.csp_violations, f"Content-Security-Policy violations: {log.csp_violations}"
    assert not log.page_errors, f"uncaught script errors: {log.page_errors}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- helpers ---------------------------------------------------------------------------------


def login(page: Page, username: str, password: str = DEMO_PASSWORD, *, expect_success: bool = True) -> Page:
    """Log in through the real form, as a person would (the context's base_url is the server)."""
    page.goto("/login")
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()
    if page.url.endswith("/login/totp"):
        # The demo admins are enrolled in TOTP with the published secret: type the app's code.
        page.get_by_label("验证码或恢复码", exact=True).fill(demo_totp_code(CURRENT["server"].app, username))
        page.get_by_role("button", name="验证并登录", exact=True).click()
    if expect_success:
        expect(page.get_by_role("button", name="退出", exact=True)).to_be_visible()
        # The page's own script (the desk menu, the offline store) has run before a test reads it.
        page.wait_for_load_state("load")
    else:
        page.wait_for_load_state()
    return page


def logout(page: Page) -> Page:
    """Log out with the 退出 button in the top bar; lands on the login page."""
    page.get_by_role("button", name="退出", exact=True).click()
    expect(page.get_by_role("heading", name="回音 · 登录")).to_be_visible()
    return page
