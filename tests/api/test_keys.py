"""API keys: the system admin's pages, the CLI, hashing, and the account the API acts as."""

from sqlalchemy import select

from tests.api.factories import body, get, make_key, post_order
from tests.conftest import Browser
from webapp.accounts.models import User
from webapp.api.keys import SERVICE_USERNAME, hash_key
from webapp.api.models import ApiClient
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db


def test_the_system_admin_makes_a_key_shown_once_and_stored_hashed(app, client, login_as):
    admin = login_as("sysadmin")
    page = admin.get("/admin/api-keys/new")
    assert page.status_code == 200 and "接入系统名称" in page.get_data(as_text=True)
    resp = admin.post("/admin/api-keys/new", {"name": "区12345平台", "scopes": ["create", "read"],
                                              "webhook_url": "https://12345.example.gov.cn/hooks"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "只显示这一次" in html
    key = html.split('<code class="secret">')[1].split("<")[0]
    assert key.startswith("hy_")
    row = db.session.scalar(select(ApiClient).where(ApiClient.name == "区12345平台"))
    assert row.key_hash == hash_key(key) and key not in (row.key_prefix, row.key_hash)
    assert row.scopes == "create read" and row.created_by_id is not None
    assert get(client, "/services.json", key).status_code == 200
    # The list never shows the key again, only its first characters.
    listing = admin.get("/admin/api-keys/").get_data(as_text=True)
    assert "区12345平台" in listing and key not in listing and row.key_prefix in listing


def test_bad_input_is_shown_again_with_the_reason(app, login_as):
    make_key(name="已有系统")
    admin = login_as("sysadmin")
    resp = admin.post("/admin/api-keys/new", {"name": "已有系统", "webhook_url": "ftp://x"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "请至少选择一项权限" in html and 'value="已有系统"' in html and 'value="ftp://x"' in html
    resp = admin.post("/admin/api-keys/new", {"name": "已有系统", "scopes": ["read"]})
    assert "已有同名的接入系统" in resp.get_data(as_text=True)
    resp = admin.post("/admin/api-keys/new", {"name": "新系统", "scopes": ["read"], "webhook_url": "ftp://x"})
    assert "回调地址须为" in resp.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(ApiClient)) == 1


def test_revocation_from_the_page_and_a_stale_revocation(app, client, login_as):
    made = make_key()
    admin = login_as("sysadmin")
    version = made.client.version
    resp = admin.post(f"/admin/api-keys/{made.client.id}/revoke", {"version": str(version)})
    assert resp.status_code == 302
    assert get(client, "/services.json", made.key).status_code == 403
    again = admin.post(f"/admin/api-keys/{made.client.id}/revoke", {"version": str(version)},
                       follow_redirects=True)
    assert "已被他人修改" in again.get_data(as_text=True) or "已经停用" in again.get_data(as_text=True)
    events = db.session.scalars(select(AuditEvent.event).where(AuditEvent.event.like("api_client.%"))).all()
    assert events == ["api_client.create", "api_client.revoke"]
    assert admin.post("/admin/api-keys/999999/revoke", {"version": "1"}).status_code == 404


def test_flask_api_key_create_prints_the_key_once(app, client, runner_factory):
    result = runner_factory().invoke(args=["api-key", "create", "市12345平台", "--scope", "read"])
    assert result.exit_code == 0, result.output
    key = next(line.split()[-1] for line in result.output.splitlines() if line.startswith("api key:"))
    assert get(client, "/services.json", key).status_code == 200
    assert post_order(client, key).status_code == 403  # read only
    listed = runner_factory().invoke(args=["api-key", "list"])
    assert "市12345平台" in listed.output and key not in listed.output
    assert runner_factory().invoke(args=["api-key", "create", "市12345平台"]).exit_code != 0
    assert runner_factory().invoke(args=["api-key", "revoke", "市12345平台"]).exit_code == 0
    assert get(client, "/services.json", key).status_code == 403


def test_the_account_the_api_acts_as_cannot_log_in(app, client):
    made = make_key()
    assert post_order(client, made.key).status_code == 201
    service = db.session.scalar(select(User).where(User.username == SERVICE_USERNAME))
    assert service is not None and not service.is_active_account
    b = Browser(app.test_client())
    for password in ("", service.password_hash, "!open311-api-cannot-log-in"):
        resp = b.login(SERVICE_USERNAME, password)
        assert resp.status_code == 200 and "/login" in b.get("/").headers.get("Location", "/login")
    # Its problems show who made them: the API's account, in the timeline and the audit log.
    from webapp.cases.models import Problem

    sid = body(post_order(client, made.key, work_order_no="GD2"))[0]["service_request_id"]
    problem = db.session.get(Problem, int(sid))
    assert problem.registered_by_id == service.id
    assert {e.user_id for e in problem.events} == {service.id}
    assert db.session.scalar(select(AuditEvent.username).where(AuditEvent.event == "api.work_order")
                             .order_by(AuditEvent.id.desc()).limit(1)) == SERVICE_USERNAME


def test_the_key_pages_keep_csrf_while_the_api_needs_none(app, client, login_as):
    admin = login_as("sysadmin")
    resp = admin.client.post("/admin/api-keys/new", data={"name": "无令牌", "scopes": "read"})
    assert resp.status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(ApiClient)) == 0
    made = make_key()
    assert post_order(client, made.key).status_code == 201  # no CSRF token: the key authenticates
    assert post_order(admin.client, "", work_order_no="GD9").status_code == 403  # a login cookie is no key
