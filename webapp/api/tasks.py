"""The webhook delivery, on the task queue: retried with back-off while the receiver is down."""

import json
import logging
import time
import urllib.error
import urllib.request

from ..core import audit, tasks
from ..core.extensions import db
from .keys import sign, webhook_secret
from .models import ApiClient

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
USER_AGENT = "Huiyin-Webhook/1"


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx: the queue tries again later."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a webhook goes where it was configured, nowhere else
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@tasks.task(retries=6, retry_delay=30, writes=True)
def deliver(client_id: int, body: str) -> None:
    """POST one signed status change to the caller's webhook URL (retried: 30 s, 1, 2, 4 … min)."""
    client = db.session.get(ApiClient, client_id)
    if client is None or client.is_revoked or not client.webhook_url:
        return
    data = body.encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(client.webhook_url, data=data, method="POST", headers={  # noqa: S310 - http(s) only (keys.url_error)
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Huiyin-Timestamp": timestamp,
        "X-Huiyin-Signature": sign(webhook_secret(client), timestamp, data),
    })
    event = json.loads(body)
    detail = {"client": client.name, "event_id": event.get("event_id"), "event": event.get("event"),
              "service_request_id": event.get("service_request", {}).get("service_request_id")}
    attempt = tasks.current()
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        status, error = None, str(getattr(exc, "reason", exc))[:200]
    else:
        error = None if 200 <= status < 300 else f"HTTP {status}"
    if error is None:
        audit.record("api.webhook_delivered", obj=client, detail={**detail, "status": status})
        db.session.commit()
        return
    audit.record("api.webhook_failed", obj=client, result="failure", detail={
        **detail, "error": error, "retries_left": attempt.retries_left if attempt else 0})
    db.session.commit()
    log.warning("webhook to %s failed (%s)", client.name, error)
    raise DeliveryFailed(error)
