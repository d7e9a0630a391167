"""Calls per key in a fixed window: ``API_RATE_LIMIT`` calls per ``API_RATE_WINDOW_SECONDS``;
and calls refused for a missing or wrong key, per client address: ``API_REFUSED_LIMIT`` per
window, after which they are answered 429 without an audit entry each (a flood of bad keys
must not fill the audit log).

Counted in the database (``RateWindow``, one row per subject and window, an atomic increment),
so every process and host sees the same count; with ``API_RATE_LIMIT_REDIS_URL`` set, counted in
Redis instead (INCR with an expiry), which spares the database a write per call.
"""

import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..core.extensions import db
from .models import ApiClient, RateWindow

DEFAULT_LIMIT = 120
DEFAULT_REFUSED_LIMIT = 30
DEFAULT_WINDOW = 60


@dataclass
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends


def _window_length() -> int:
    return int(current_app.config.get("API_RATE_WINDOW_SECONDS", DEFAULT_WINDOW))


def _count_in_db(subject: str, window: int) -> int:
    bump = (update(RateWindow).where(RateWindow.subject == subject, RateWindow.window_no == window)
            .values(calls=RateWindow.calls + 1).execution_options(synchronize_session=False))
    if db.session.execute(bump).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.add(RateWindow(subject=subject, window_no=window, calls=1))
            # A new window: the subject's old ones are of no use any more.
            db.session.execute(delete(RateWindow).where(RateWindow.subject == subject,
                                                        RateWindow.window_no < window))
        except IntegrityError:  # another process opened the window first
            db.session.execute(bump)
    return db.session.scalar(select(RateWindow.calls).where(
        RateWindow.subject == subject, RateWindow.window_no == window)) or 0


def _count_in_redis(url: str, subject: str, window: int, length: int) -> int:
    import redis  # the ``redis`` extra

    connection = redis.Redis.from_url(url)
    key = f"huiyin:api-rate:{subject}:{window}"
    pipe = connection.pipeline()
    pipe.incr(key)
    pipe.expire(key, length * 2)
    calls, _ = pipe.execute()
    return int(calls)


def _count(subject: str, limit: int) -> Verdict:
    length = _window_length()
    now = time.time()
    window = int(now // length)
    url = current_app.config.get("API_RATE_LIMIT_REDIS_URL")
    calls = _count_in_redis(url, subject, window, length) if url else _count_in_db(subject, window)
    retry_after = max(1, int((window + 1) * length - now))
    return Verdict(calls <= limit, limit, max(0, limit - calls), retry_after)


def count_call(client: ApiClient) -> Verdict:
    """Count this call of ``client``; ``allowed`` False once the window's limit is passed."""
    return _count(f"key:{client.id}", int(current_app.config.get("API_RATE_LIMIT", DEFAULT_LIMIT)))


def count_refusal(address: str) -> Verdict:
    """Count a call refused for its key, from ``address``; ``allowed`` False past the limit."""
    return _count(f"addr:{address[:64]}", int(current_app.config.get("API_REFUSED_LIMIT", DEFAULT_REFUSED_LIMIT)))
