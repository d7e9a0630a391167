"""Sending one delivery: quiet hours, the channel's rate limit, the adapter, the outcome.

Each step commits on its own (the task runs outside any request), so a retry sees what the
attempt before it did: a delivery marked ``sent`` is never sent again (the idempotency key
travels with it, too, for the gateway's own de-duplication).

- Quiet hours (``NOTIFY_QUIET_HOURS``, default ``22:00-07:00`` in the district's time): an SMS
  that is not urgent is ``held`` until the end of the quiet hours.
- Rate limit (``NOTIFY_RATE_LIMITS``, per minute, default ``sms=60,wecom=20,dingtalk=20,email=120``):
  counted over the deliveries of the channel sent in the last 60 s, in the database, so every
  process and host shares it; over it, the delivery is ``held`` for a minute.
- Held deliveries are released by the scheduler's minutely ``release_held``.
"""

import datetime as dt
import logging

from flask import current_app, url_for
from sqlalchemy import func, select, update

from ..core import audit, clock
from ..core.extensions import db
from .channels import Message, SendError, adapter
from .kinds import SMS, TARGETS
from .models import Delivery, DeliveryStatus, Notification

log = logging.getLogger(__name__)

DEFAULT_RATES = {"sms": 60, "wecom": 20, "dingtalk": 20, "email": 120}


def rate_limits() -> dict[str, int]:
    spec = current_app.config.get("NOTIFY_RATE_LIMITS") or ""
    rates = dict(DEFAULT_RATES)
    for item in spec.split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            rates[k.strip()] = int(v)
    return rates


def quiet_hours() -> tuple[dt.time, dt.time] | None:
    spec = current_app.config.get("NOTIFY_QUIET_HOURS", "22:00-07:00")
    if not spec:
        return None
    start, end = (dt.time.fromisoformat(p.strip()) for p in spec.split("-"))
    return start, end


def quiet_until(now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet hours (UTC) if ``now`` falls in them, else None."""
    hours = quiet_hours()
    if hours is None:
        return None
    start, end = hours
    local = clock.local(now)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return clock.as_utc(dt.datetime.combine(day, end, tzinfo=clock.LOCAL_TZ))


def link_of(n: Notification) -> str:
    if n.target_type not in TARGETS or n.target_id is None:
        return ""
    endpoint, arg = TARGETS[n.target_type]
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return ""
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, **{arg: n.target_id}, _external=True)


def _sent_last_minute(channel: str, now: dt.datetime) -> int:
    return db.session.scalar(select(func.count(Delivery.id)).where(
        Delivery.channel == channel, Delivery.sent_at > now - dt.timedelta(seconds=60))) or 0


def _hold(d: Delivery, until: dt.datetime, why: str) -> str:
    d.status = DeliveryStatus.held
    d.not_before = until
    d.last_error = why
    db.session.commit()
    return "held"


def send(delivery_id: int, *, last_attempt: bool = True) -> str:
    """Send one delivery now if it may go; returns what happened (sent, held, failed, skipped).

    Raises ``SendError`` when the channel failed and another attempt will follow."""
    d = db.session.get(Delivery, delivery_id)
    if d is None or d.status not in (DeliveryStatus.queued, DeliveryStatus.failed):
        return "skipped"  # sent already (a retry), on the outbox, or held for later
    n = d.notification
    now = clock.now()
    if d.channel == SMS and not n.is_urgent:
        until = quiet_until(now)
        if until is not None:
            return _hold(d, until, "quiet hours")
    if _sent_last_minute(d.channel, now) >= rate_limits().get(d.channel, 60):
        return _hold(d, now + dt.timedelta(seconds=60), "rate limit")
    channel = adapter(d.channel)
    if channel is None:
        d.status = DeliveryStatus.outbox
        db.session.commit()
        return "skipped"
    message = Message(d.channel, d.address, n.kind, n.title, n.body, link_of(n), d.idempotency_key)
    d.attempts += 1
    db.session.commit()
    try:
        channel.send(message)
    except SendError as exc:
        d.last_error = str(exc)[:500]
        last_attempt = last_attempt or exc.permanent
        if last_attempt:
            d.status = DeliveryStatus.failed
            audit.record("notification.failed", object_type="notification_delivery", object_id=d.id,
                         detail={"channel": d.channel, "error": d.last_error})
        db.session.commit()
        if not last_attempt:
            raise
        return "failed"
    d.status = DeliveryStatus.sent
    d.sent_at = clock.now()
    d.last_error = None
    db.session.commit()
    return "sent"


def release_held(now: dt.datetime | None = None) -> list[int]:
    """Queue again the held deliveries whose time has come (claimed by one UPDATE each, so two
    consumers never send one twice); the caller sends them."""
    now = now or clock.now()
    ids = list(db.session.scalars(select(Delivery.id).where(
        Delivery.status == DeliveryStatus.held, Delivery.not_before <= now).order_by(Delivery.id).limit(1000)))
    claimed = []
    for i in ids:
        r = db.session.execute(update(Delivery).where(
            Delivery.id == i, Delivery.status == DeliveryStatus.held).values(status=DeliveryStatus.queued))
        if r.rowcount:
            claimed.append(i)
    db.session.commit()
    return claimed
