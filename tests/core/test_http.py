"""Security headers, CSRF, health check and error pages."""

from webapp.core.security import CSP


def test_security_headers_on_every_page(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in ("script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert csp == CSP


def test_session_cookie_flags(web):
    web.login("office")
    cookie = web.client.get_cookie("huiyin_session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_session_cookie_secure_over_https(app):
    from tests.conftest import Browser

    b = Browser(app.test_client(), base_url="https://localhost")
    b.login("office")
    assert b.client.get_cookie("huiyin_session").secure


def test_post_without_csrf_token_is_refused(client):
    resp = client.post("/login", data={"username": "office", "password": "Huiyin@2026"})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)


def test_htmx_header_token_is_accepted(web):
    web.login("office")
    page = web.get("/").get_data(as_text=True)
    assert '"X-CSRFToken": "' in page
    token = page.split('"X-CSRFToken": "')[1].split('"')[0]
    resp = web.client.post("/locale", data={"lang": "en"}, headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert resp.status_code == 302


def test_healthz_reports_the_database_without_login(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "database": {"state": "ok", "latency_ms": resp.json["database"]["latency_ms"]}}


def test_error_pages_are_in_chinese(web):
    resp = web.client.get("/no-such-page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in resp.get_data(as_text=True)


def test_english_locale_is_switchable(web):
    web.login("office")
    web.post("/locale", {"lang": "en", "next": "/"})
    html = web.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
