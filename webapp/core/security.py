"""HTTP-level protections: security headers, the session cookie, and proxy awareness."""

import re
from urllib.parse import unquote, urlsplit

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from .forms import MAX_ID

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


# Control characters (tab, CR, LF …) and backslashes: browsers drop or reinterpret them, so a
# path such as "/\t/evil.example" or "/%09/evil.example" can turn into "//evil.example".
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path of this site (``/cases?x=1``), else None.

    Every redirect that takes a ``next`` goes through here: no scheme, no host, no
    protocol-relative ``//``, no control character or backslash, raw or percent-encoded.
    """
    if not target or len(target) > 2000:
        return None
    for form in (target, unquote(target)):
        if _UNSAFE_IN_NEXT.search(form) or not form.startswith("/") or form.startswith("//"):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


class SessionInterface(SecureCookieSessionInterface):
    """The signed session cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def set_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages carry residents' data: never store them in shared caches.
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every URL: 1 … 2³¹−1. Anything else (negative, 2⁶³, 40 digits) matches no
    route, so it is a plain 404 and never reaches the database."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 0)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_security(app: Flask) -> None:
    app.url_map.converters["int"] = RowIdConverter
    app.session_interface = SessionInterface()
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.after_request(set_security_headers)
