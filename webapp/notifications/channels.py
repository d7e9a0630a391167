"""The outbound channels behind one small interface: ``adapter.send(message)`` delivers or
raises ``SendError``.

- ``SmsGateway``: an HTTP SMS gateway (``SMS_GATEWAY_URL``, ``SMS_GATEWAY_KEY``,
  ``SMS_TEMPLATE_IDS`` = ``kind:id,…`` with ``default:id`` for the rest); POSTs JSON with the
  delivery's idempotency key (``out_id`` and the ``Idempotency-Key`` header), so a retry after a
  lost answer is not a second text message;
- ``RobotWebhook``: a 企业微信 or 钉钉 group robot (the unit's webhook, ``UnitRobot``); both
  answer ``{"errcode": 0}`` when they accept;
- ``Smtp``: e-mail (``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_USER``, ``SMTP_PASSWORD``,
  ``SMTP_FROM``, ``SMTP_STARTTLS``); the Message-ID is made from the idempotency key.

A channel without configuration has no adapter: its deliveries go to the outbox page and
nothing leaves the machine (the embedded default).
"""

import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app

from .kinds import DINGTALK, EMAIL, SMS, WECOM

TIMEOUT = 10


class SendError(Exception):
    """The channel refused or could not be reached. ``permanent``: retrying cannot help (a
    refused template or webhook, HTTP 4xx): the delivery fails at once, for the office to see."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    channel: str
    address: str
    kind: str
    title: str
    body: str
    link: str
    idempotency_key: str


def _post_json(url: str, payload: dict, headers: dict | None = None) -> dict:
    if not url.startswith(("http://", "https://")):
        raise SendError(f"not an http(s) address: {url[:60]!r}")
    data = json.dumps(payload, ensure_ascii=False).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={  # noqa: S310 - http(s) only
        "Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:  # noqa: S310 - http(s) only, checked above
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code}: {exc.read()[:200].decode(errors='replace')}",
                        permanent=400 <= exc.code < 500 and exc.code != 429) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SendError(f"unreachable: {exc}") from exc
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise SendError(f"not JSON: {raw[:200]!r}") from exc


class SmsGateway:
    channel = SMS

    def __init__(self, url: str, key: str, templates: dict[str, str]):
        self.url, self.key, self.templates = url, key, templates

    def send(self, m: Message) -> None:
        template = self.templates.get(m.kind) or self.templates.get("default", "")
        answer = _post_json(self.url, {
            "phone": m.address, "template_id": template, "out_id": m.idempotency_key,
            "params": {"title": m.title, "body": m.body[:200], "link": m.link},
        }, {"Authorization": f"Bearer {self.key}", "Idempotency-Key": m.idempotency_key})
        if str(answer.get("code", "0")) not in ("0", "OK", "ok"):
            raise SendError(f"gateway code {answer.get('code')}: {answer.get('message', '')}", permanent=True)


class RobotWebhook:
    def __init__(self, channel: str):
        self.channel = channel

    def send(self, m: Message) -> None:
        text = f"**{m.title}**\n\n{m.body}" + (f"\n\n[查看]({m.link})" if m.link else "")
        if self.channel == WECOM:
            payload = {"msgtype": "markdown", "markdown": {"content": text}}
        else:
            payload = {"msgtype": "markdown", "markdown": {"title": m.title, "text": text}}
        answer = _post_json(m.address, payload)
        if answer.get("errcode", 0) != 0:
            raise SendError(f"robot errcode {answer.get('errcode')}: {answer.get('errmsg', '')}",
                            permanent=answer.get("errcode") != 45009)  # 45009: the robot's rate limit


class Smtp:
    channel = EMAIL

    def __init__(self, host: str, port: int, user: str | None, password: str | None, sender: str,
                 starttls: bool):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.sender, self.starttls = sender, starttls

    def send(self, m: Message) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = m.address
        msg["Subject"] = m.title
        msg["Date"] = formatdate(localtime=False)
        domain = self.sender.rpartition("@")[2] or "huiyin.local"
        msg["Message-ID"] = f"<{m.idempotency_key.replace(':', '.')}@{domain}>"
        msg.set_content(m.body + (f"\n\n{m.link}" if m.link else ""))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendError(f"smtp: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(f"smtp: {exc}") from exc


def _templates(spec: str) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in spec.split(",") if ":" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def adapter(channel: str, config=None):
    """The adapter of ``channel`` from the configuration, or None (outbox only)."""
    c = config if config is not None else current_app.config
    if channel == SMS and c.get("SMS_GATEWAY_URL"):
        return SmsGateway(c["SMS_GATEWAY_URL"], c.get("SMS_GATEWAY_KEY") or "",
                          _templates(c.get("SMS_TEMPLATE_IDS") or ""))
    if channel in (WECOM, DINGTALK) and c.get("NOTIFY_ROBOTS", True):
        return RobotWebhook(channel)  # the address is the unit's webhook (none: no delivery)
    if channel == EMAIL and c.get("SMTP_HOST"):
        return Smtp(c["SMTP_HOST"], int(c.get("SMTP_PORT") or 25), c.get("SMTP_USER"),
                    c.get("SMTP_PASSWORD"), c.get("SMTP_FROM") or "huiyin@localhost",
                    str(c.get("SMTP_STARTTLS") or "").strip().lower() in ("1", "true", "yes", "on"))
    return None
