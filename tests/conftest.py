"""Shared fixtures: a migrated database per test (cloned from a template), the app, clients.

The template database is built once per test process through the real migrations and the demo
organisation loader. Each test gets its own clone, so tests may commit freely — the same code
paths production uses — and run in parallel (pytest-xdist).

``HUIYIN_TEST_DATABASE_URL`` (a PostgreSQL URL) switches the whole suite to PostgreSQL.
``HUIYIN_TEST_TODAY`` (``YYYY-MM-DD``) runs the whole suite as if today were that date (10:00 in
the district, the clock ticking): the suite must pass on any day of the year. Tests whose
answer depends on the calendar also run on ``EDGE_DATES`` through the ``on_date`` fixture.
"""

import os
import re
import shutil
import uuid
from datetime import date, datetime, time
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask.globals import _cv_app
from flask.testing import FlaskClient
from flask_migrate import upgrade

from webapp import create_app
from webapp.core import clock
from webapp.core.extensions import db

PG_URL = os.environ.get("HUIYIN_TEST_DATABASE_URL")
DEMO_PASSWORD = "Huiyin@2026"
FAST_HASH = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024}


# Days on which a calendar-sensitive test must still hold: the last day of a half month and of a
# month, the first working day of a half month right after the National Day holiday, a Spring
# Festival holiday, a 调休 Saturday that is worked, the last day of the year.
EDGE_DATES = [
    date(2026, 1, 15),
    date(2026, 2, 14),
    date(2026, 2, 18),
    date(2026, 9, 30),
    date(2026, 10, 16),
    date(2026, 12, 31),
]


def travel_to(day: date):
    """Move the clock (of the whole process: the browser tests' server too) to 10:00 that day."""
    return time_machine.travel(datetime.combine(day, time(10), clock.LOCAL_TZ), tick=True)


@pytest.fixture(scope="session", autouse=True)
def _suite_today():
    """``HUIYIN_TEST_TODAY``: the whole run on that date (unset: the real date)."""
    day = os.environ.get("HUIYIN_TEST_TODAY")
    if not day:
        yield None
        return
    with travel_to(date.fromisoformat(day)):
        yield day


@pytest.fixture(params=EDGE_DATES, ids=str)
def on_date(request):
    """Run the test on each of ``EDGE_DATES`` (request it first, before the data it makes)."""
    with travel_to(request.param):
        yield request.param


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_engine():
    url = sa.make_url(PG_URL)
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(dbname: str) -> str:
    return sa.make_url(PG_URL).set(database=dbname).render_as_string(hide_password=False)


def _test_config(tmp: Path, url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "AUDIT_HMAC_KEY": "test-audit-key",
        "PII_KEYS": "t1:" + "5a" * 32,
        "PII_KEY_FILE": None,
        "PII_INDEX_KEY": "test-pii-index-key",
        "AUDIT_ANCHOR_FILE": str(tmp / "audit-anchors.log"),
        "UPLOAD_DIR": str(tmp / "uploads"),
        # Tasks run at once where they are enqueued (a test that wants a consumer sets a queue).
        "TASK_QUEUE_URL": "immediate",
        # Every test client comes from one address: the per-address login rate must not bite
        # suites that log in many times a minute (tests/security sets it low on purpose).
        "LOGIN_RATE_LIMIT": "1000 per minute",
        **FAST_HASH,
    }


def build_database(url: str, tmp: Path) -> None:
    """Migrate an empty database at ``url`` and load the demo organisation into it."""
    app = create_app(_test_config(tmp, url))
    with app.app_context():
        upgrade()
        from webapp.demo.org import load_demo

        load_demo()
        db.session.commit()
        db.engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """The migrated, demo-loaded template database of this test process."""
    tmp = tmp_path_factory.mktemp("template")
    if PG_URL:
        name = f"huiyin_tpl_{_worker()}_{os.getpid()}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        build_database(_pg_url(name), tmp)
        yield name
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp / "template.sqlite3"
        build_database(f"sqlite:///{path}", tmp)
        yield path


@pytest.fixture
def database_url(template_db, tmp_path):
    """A fresh copy of the template database for one test."""
    if PG_URL:
        name = f"huiyin_t_{_worker()}_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield _pg_url(name)
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template_db, path)
        yield f"sqlite:///{path}"


class IsolatedClient(FlaskClient):
    """A test client whose requests each run in their own app context, as in production.

    The test itself holds an app context (for ``db.session``); without this, Flask would reuse
    it for every request, sharing ``g`` and the database session between requests.
    """

    def open(self, *args, **kwargs):
        outer = _cv_app.get(None) is not None
        if outer:
            # The app sees what the test wrote, and the test holds no read snapshot open.
            db.session.commit()
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)
            if outer:
                # What the request changed must be seen by the test: end the test's transaction
                # (a SQLite WAL snapshot would hide it) and drop the test's caches.
                db.session.commit()
                from webapp.core import calendar, settings

                calendar.clear_cache()
                settings.clear_cache()


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(_test_config(tmp_path, database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def demo_totp_code(app, username: str) -> str:
    """The current code of the demo TOTP secret. Tests log in far more often than once per
    30-second step, so the account's last accepted step is cleared first (a code is otherwise
    never accepted twice; tests/security/test_totp.py checks that rule on its own)."""
    import pyotp

    from webapp.accounts.models import User
    from webapp.demo.org import DEMO_TOTP_SECRET

    pushed = None if _cv_app.get(None) is not None else app.app_context()
    if pushed is not None:
        pushed.push()
    try:
        db.session.execute(sa.update(User).where(User.username == username).values(totp_last_step=None))
        db.session.commit()
    finally:
        if pushed is not None:
            pushed.pop()
    return pyotp.TOTP(DEMO_TOTP_SECRET).now()


class Browser:
    """A test client that logs in like a person: fetch the form, send its CSRF token."""

    def __init__(self, client, base_url="http://localhost"):
        self.client = client
        self.token = None
        self.base_url = base_url

    def get(self, url, **kw):
        kw.setdefault("base_url", self.base_url)
        resp = self.client.get(url, **kw)
        text = resp.get_data(as_text=True)
        m = CSRF_RE.search(text)
        if m:
            self.token = m.group(1)
        return resp

    def post(self, url, data=None, **kw):
        if self.token is None:
            self.get("/login")
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        kw.setdefault("base_url", self.base_url)
        return self.client.post(url, data=data, **kw)

    def login(self, username, password=DEMO_PASSWORD):
        self.get("/login")
        resp = self.post("/login", {"username": username, "password": password})
        if resp.status_code == 302 and resp.headers["Location"].endswith("/login/totp"):
            # The demo admins are enrolled in TOTP with the published secret: the second step.
            self.get("/login/totp")
            resp = self.post("/login/totp", {"code": demo_totp_code(self.client.application, username)})
        if resp.status_code == 302:
            # The session is new after login: pick up its CSRF token where the user lands.
            self.get(resp.headers["Location"], follow_redirects=True)
        return resp

    def logout(self):
        self.get("/")
        return self.post("/logout")


@pytest.fixture
def web(client):
    return Browser(client)


@pytest.fixture
def login_as(app):
    """``login_as("town")`` → a logged-in Browser for that demo account (own client)."""

    def _login(username):
        b = Browser(app.test_client())
        resp = b.login(username)
        assert resp.status_code == 302, f"login as {username} failed"
        b.get("/")
        return b

    return _login


@pytest.fixture
def runner_factory(app):
    return lambda: app.test_cli_runner()


# -- the upload store: a local folder, or a real S3-compatible server on 127.0.0.1 (moto's
# server mode, one per test process) with a fresh bucket per test.

S3_KEYS = {"S3_ACCESS_KEY_ID": "huiyin-test", "S3_SECRET_ACCESS_KEY": "huiyin-test-secret",
           "S3_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def use_s3(app, endpoint: str) -> str:
    """Point ``app`` at a new, empty bucket of the local S3 server; returns the bucket's name."""
    import boto3

    bucket = f"huiyin-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEYS["S3_ACCESS_KEY_ID"],
                 aws_secret_access_key=S3_KEYS["S3_SECRET_ACCESS_KEY"],
                 region_name=S3_KEYS["S3_REGION"]).create_bucket(Bucket=bucket)
    app.config.update(STORAGE_BACKEND="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint, **S3_KEYS)
    app.extensions.pop("huiyin_storage", None)
    return bucket


@pytest.fixture(params=["local", "s3"])
def store_backend(request, app):
    """Runs a test once with uploads in the local folder and once in an S3 bucket."""
    if request.param == "s3":
        use_s3(app, request.getfixturevalue("s3_endpoint"))
    return request.param
