"""API keys of outside systems: made (shown once), checked, revoked — and the account the API acts as.

A key is ``hy_`` and 40 random URL-safe characters; only its SHA-256 is stored (a key this long
needs no slow hash: nobody can guess it, and the lookup must be one indexed read). The webhook
secret is derived from ``SECRET_KEY`` and a per-key salt, so a copy of the database alone cannot
sign webhooks. Every change is audited in the caller's transaction (flush, never commit).
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import audit, clock
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from ..org.models import Unit, UnitKind
from .models import ApiClient, Scope

KEY_PREFIX = "hy_"
# The account the API acts as in the workflow (register and transfer to the 12345 desk). It can
# never log in: it is inactive and its password hash is not a hash any password verifies against.
SERVICE_USERNAME = "open311-api"
UNUSABLE_PASSWORD = "!open311-api-cannot-log-in"  # noqa: S105 - not a password: no hash at all
NAME_RE = re.compile(r"^[\w\u4e00-\u9fff .·()（）-]{2,64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def webhook_secret(client: ApiClient) -> str:
    """The secret the caller verifies webhook signatures with (derived, never stored)."""
    material = f"huiyin-webhook:{client.id}:{client.webhook_salt}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), material, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the HMAC-SHA256 of ``timestamp.body`` (the timestamp is signed too: an old
    delivery replayed later is refused by a receiver that checks its age)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def authenticate(key: str | None) -> ApiClient | None:
    """The client of a key that is known and not revoked; None otherwise."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None
    client = db.session.scalar(select(ApiClient).where(ApiClient.key_hash == hash_key(key)))
    if client is None or client.is_revoked:
        return None
    return client


@dataclass
class NewKey:
    client: ApiClient
    key: str  # shown once
    secret: str  # the webhook secret, shown once too


def url_error(url: str | None):
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        return _l("回调地址须为 http:// 或 https:// 开头的完整网址（不超过 500 个字符）。")
    return None


def create_client(*, name: str, scopes, webhook_url: str | None, actor: User | None) -> NewKey:
    """Make a key for an outside system (its name unique); the key and secret are returned once."""
    name = (name or "").strip()
    webhook_url = (webhook_url or "").strip() or None
    scopes = sorted({Scope(s) for s in scopes})
    errors = {}
    if not NAME_RE.match(name):
        errors["name"] = _l("请填写 2–64 个字的系统名称（汉字、字母、数字、空格或“-”）。")
    elif db.session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        errors["name"] = _l("已有同名的接入系统，请换一个名称。")
    if not scopes:
        errors["scopes"] = _l("请至少选择一项权限。")
    if url_error(webhook_url):
        errors["webhook_url"] = url_error(webhook_url)
    if errors:
        raise FieldsInvalid(errors)
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    client = ApiClient(
        name=name, key_prefix=key[:10], key_hash=hash_key(key), scopes=" ".join(scopes),
        webhook_url=webhook_url, webhook_salt=secrets.token_hex(16), created_at=clock.now(),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(client)
    db.session.flush()
    audit.record("api_client.create", obj=client, user=actor, detail={
        "name": name, "scopes": list(scopes), "webhook_url": webhook_url, "key_prefix": client.key_prefix})
    return NewKey(client, key, webhook_secret(client))


def revoke_client(client: ApiClient, actor: User | None, version: int | None = None) -> None:
    """Revoke a key for good: every later call with it is refused, no webhook goes out."""
    if version is not None and int(version) != client.version:
        raise Conflict(_l("该接口密钥已被他人修改，请刷新页面后再操作。"))
    if client.is_revoked:
        raise Conflict(_l("该接口密钥已经停用。"))
    client.revoked_at = clock.now()
    client.revoked_by_id = actor.id if actor else None
    audit.record("api_client.revoke", obj=client, user=actor, detail={"name": client.name})


def service_user() -> User:
    """The account the API acts as (made on first use in the activity office, never able to log in)."""
    user = db.session.scalar(select(User).where(User.username == SERVICE_USERNAME))
    if user is not None:
        return user
    office = db.session.scalar(select(Unit).where(Unit.kind == UnitKind.office).order_by(Unit.id))
    if office is None:
        raise Conflict(_l("系统中没有区活动办单位，接口无法受理工单。"))
    user = User(username=SERVICE_USERNAME, full_name="12345平台接口", unit_id=office.id, unit=office,
                role=Role.office, password_hash=UNUSABLE_PASSWORD, must_change_password=True,
                is_active_account=False, created_at=clock.now())
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", obj=user, detail={"username": SERVICE_USERNAME, "service": True,
                                                   "is_active": False})
    return user
