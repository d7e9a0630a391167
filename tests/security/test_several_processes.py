"""Several app processes over one database, one Redis and one object store hold no state of their
own: two ``create_app()`` objects stand for two gunicorn processes (or hosts). A setting or a
calendar day changed through one is in force in the other at its next request; logging out or
changing the password through one ends the session in the other; the login rate limit counts
together in Redis (DB 7 here); a photo uploaded through one is served by the other from the S3
bucket."""

import io
import re
from pathlib import Path

import pytest
import redis
from flask.globals import _cv_app
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests.conftest import Browser, IsolatedClient, _test_config, use_s3
from webapp import create_app
from webapp.accounts.models import User
from webapp.accounts.roles import Role
from webapp.core import calendar, clock
from webapp.core import settings as campaign
from webapp.core.extensions import db

# Every test here empties DB 7 before and after: they run one after another on one worker.
pytestmark = pytest.mark.xdist_group("redis-db7")

REDIS_URL = "redis://127.0.0.1:6379/7"
PASSWORD = "Initial-Pass-1"


@pytest.fixture
def shared_redis():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def two_apps(database_url, tmp_path, shared_redis, s3_endpoint):
    """Two processes of one deployment: same database, same Redis, same bucket, own folders."""
    apps = []
    for name in ("a", "b"):
        config = _test_config(tmp_path / name, database_url) | {
            "REDIS_URL": REDIS_URL, "LOGIN_RATE_LIMIT": "3 per hour"}  # no window ends mid-test
        config.pop("RATELIMIT_STORAGE_URI", None)
        app = create_app(config)
        app.test_client_class = IsolatedClient
        apps.append(app)
    with apps[0].app_context():
        bucket = use_s3(apps[0], s3_endpoint)
    apps[1].config.update({k: apps[0].config[k] for k in (
        "STORAGE_BACKEND", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_REGION")})
    assert apps[1].config["S3_BUCKET"] == bucket
    yield apps
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def in_app(app, fn):
    """Run ``fn`` in its own app context of ``app`` (as that process would), committing."""
    token = _cv_app.set(None)
    try:
        with app.app_context():
            result = fn()
            db.session.commit()
            return result
    finally:
        _cv_app.reset(token)


def login(app, username, password=PASSWORD) -> Browser:
    b = Browser(app.test_client())
    resp = b.login(username, password)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return b


def same_session_in(app, browser: Browser) -> Browser:
    """The user's browser sending the same cookie to another process (a load balancer's choice)."""
    other = Browser(app.test_client())
    cookie = browser.client.get_cookie("huiyin_session")
    other.client.set_cookie("huiyin_session", cookie.value, domain=cookie.domain)
    return other


def make_clerk(username="clerk-processes") -> None:
    from webapp.accounts.passwords import hash_password

    office = db.session.scalar(select(User).where(User.username == "office")).unit
    db.session.add(User(username=username, full_name="多进程测试", unit=office, role=Role.office,
                        password_hash=hash_password(PASSWORD), must_change_password=False,
                        password_changed_at=clock.now()))


def test_redis_url_carries_the_shared_counters_and_the_queue(tmp_path):
    config = _test_config(tmp_path, "sqlite://") | {"REDIS_URL": REDIS_URL}
    for name in ("RATELIMIT_STORAGE_URI", "TASK_QUEUE_URL"):
        config.pop(name, None)
    app = create_app(config)
    assert app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    assert app.config["API_RATE_LIMIT_REDIS_URL"] == REDIS_URL
    assert app.config["TASK_QUEUE_URL"] == REDIS_URL
    # Each may still be given apart.
    app = create_app(config | {"TASK_QUEUE_URL": "immediate", "RATELIMIT_STORAGE_URI": "memory://"})
    assert app.config["TASK_QUEUE_URL"] == "immediate" and app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_a_setting_changed_in_one_process_is_in_force_in_the_other(two_apps):
    a, b = two_apps
    in_app(a, make_clerk)
    office_b = login(b, "clerk-processes")
    before = in_app(b, lambda: campaign.get_settings().due_soon_days)
    assert shown_due_soon(office_b) == before

    in_app(a, lambda: campaign.update_settings(due_soon_days=before + 2))
    assert in_app(b, lambda: campaign.get_settings().due_soon_days) == before + 2
    assert shown_due_soon(office_b) == before + 2


def shown_due_soon(browser) -> int:
    page = browser.get("/settings/limits").get_data(as_text=True)
    return int(re.search(r'<input[^>]*name="due_soon_days"[^>]*value="(\d+)"', page).group(1))


def test_a_calendar_day_changed_in_one_process_counts_in_the_other(two_apps):
    import datetime as dt

    a, b = two_apps
    saturday = dt.date(2026, 6, 6)
    assert in_app(b, lambda: calendar.is_workday(saturday)) is False
    in_app(a, lambda: calendar.set_calendar_day(saturday, True, "调休上班"))
    assert in_app(b, lambda: calendar.is_workday(saturday)) is True


def test_logout_in_one_process_ends_the_session_in_the_other(two_apps):
    a, b = two_apps
    in_app(a, make_clerk)
    user_a = login(a, "clerk-processes")
    user_b = same_session_in(b, user_a)
    assert user_b.get("/").status_code == 200
    user_a.get("/")
    assert user_a.post("/logout").status_code == 302
    resp = user_b.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_password_change_in_one_process_ends_sessions_in_the_other(two_apps):
    a, b = two_apps
    in_app(a, make_clerk)
    phone = login(b, "clerk-processes")  # another device, served by the other process
    assert phone.get("/").status_code == 200
    desk = login(a, "clerk-processes")
    desk.get("/account/password")
    resp = desk.post("/account/password", {"current": PASSWORD, "new": "Better-Pass-2026",
                                           "confirm": "Better-Pass-2026"})
    assert resp.status_code == 302
    assert desk.get("/").status_code == 200  # the session that changed it goes on
    resp = phone.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_login_attempts_count_together_in_redis(two_apps, shared_redis):
    a, b = two_apps
    browsers = [Browser(a.test_client()), Browser(b.test_client())]
    codes = []
    for i in range(4):  # 3 per hour from one address, whichever process answers
        br = browsers[i % 2]
        br.get("/login")
        codes.append(br.post("/login", {"username": "nobody-here", "password": "wrong"}).status_code)
    from webapp.accounts import throttle

    seen = f"codes {codes}; limiter storage {throttle.limiter.storage!r}; Redis keys {shared_redis.keys()}"
    assert codes[:3] == [200, 200, 200] and codes[3] == 429, seen
    assert shared_redis.dbsize() > 0  # the counts live in Redis, not in either process


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 160, 60)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_photo_stored_through_one_process_is_served_by_the_other(two_apps):
    from tests.cases import factories as f
    from webapp.cases import operations as ops
    from webapp.cases import uploads
    from webapp.cases.models import AttachmentKind

    a, b = two_apps

    def attach():
        problem = f.register()
        checked = uploads.check(FileStorage(io.BytesIO(_png()), filename="现场.png"))
        stored = uploads.store(checked)
        return ops.add_attachment(problem, f.user("cadre"), kind=AttachmentKind.photo, filename=checked.filename,
                                  stored_name=stored.stored_name, mime=checked.mime, size=stored.size,
                                  sha256=stored.sha256).id

    att_id = in_app(a, attach)
    cadre = login(b, "cadre", "Huiyin@2026")
    resp = cadre.client.get(f"/attachments/{att_id}")
    assert resp.status_code == 200 and resp.data.startswith(b"\x89PNG")
    assert cadre.client.get(f"/attachments/{att_id}/thumb").status_code == 200
    for app in (a, b):  # neither process wrote the photo on its own disk
        assert not any(p.is_file() for p in Path(app.config["UPLOAD_DIR"]).rglob("*"))
