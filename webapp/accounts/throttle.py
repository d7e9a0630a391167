"""Login throttling: growing delays instead of a lock an outsider could put on any account.

A hard lock after N failures let anyone who knew a username (an admin's above all) shut its owner
out. Here failures only slow further tries down:

* per account **and** address: after ``lockout_threshold`` failures from one address, each further
  failure doubles the wait before that address may try that account again (15 s, 30 s, 1 min …),
  up to ``lockout_minutes``. The owner, from their own address, is not held up by it;
* per account, from every address together: after ten times as many failures (a distributed
  guess), tries are spaced out too, but never more than a minute apart — the owner can still get in;
* per address, any account: at most ``LOGIN_RATE_LIMIT`` POSTs (Flask-Limiter, answered 429).

A burst (an account or an address crossing its threshold) is written to the audit log as
``login.burst`` once per window, and the security admin's page lists the recent ones.

Counts live in the limiter's storage: Redis when ``RATELIMIT_STORAGE_URI`` (or ``REDIS_URL``) is
set, so every process and host sees the same counts; process memory otherwise (one process).
The keys hold the typed username, whether or not it exists: the answer reveals nothing.
"""

import hashlib
import math
import time
from dataclasses import dataclass

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ..core import audit

WINDOW_SECONDS = 3600
FIRST_DELAY_SECONDS = 15
ACCOUNT_WIDE_FACTOR = 10  # failures from every address before the account as a whole is slowed
ACCOUNT_WIDE_MAX_DELAY = 60
ADDRESS_BURST = 20
GENERATION_SECONDS = 30 * 24 * 3600  # longer than any window  # failures from one address, over any accounts, that make a burst

# No storage here: a URI given to the constructor would win over RATELIMIT_STORAGE_URI, and every
# process would count alone. ``init_app`` sets the app's (memory:// when none is configured).
# A moving window, fixed here: the limiter keeps the first strategy it is given for the life of the
# process, and a fixed window would let a guesser try twice the limit across a minute boundary.
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")


def init_app(app) -> None:
    uri = app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
    app.config["RATELIMIT_STORAGE_URI"] = uri or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)


def login_rate() -> str:
    return current_app.config.get("LOGIN_RATE_LIMIT", "30 per minute")


def _storage():
    return limiter.storage


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"huiyin-login/{digest}"


def _address() -> str:
    return get_remote_address() or "-"


def _name(username: str) -> str:
    return (username or "").strip().lower()[:64]


def _pair(kind: str, name: str, address: str) -> str:
    # The account's generation is part of the key: the security admin's clear() bumps it, which
    # drops the delays of every address at once.
    return _key(kind, name, address, str(_storage().get(_key("generation", name))))


@dataclass
class Wait:
    seconds: int


def wait_for(username: str) -> Wait | None:
    """How long this address must still wait before trying this account (None: it may try)."""
    storage = _storage()
    name = _name(username)
    longest = 0.0
    for key in (_pair("block-pair", name, _address()), _key("block-account", name)):
        if storage.get(key) > 0:
            longest = max(longest, storage.get_expiry(key) - time.time())
    return Wait(max(1, math.ceil(longest))) if longest > 0 else None


def _delay(failures: int, threshold: int, cap: int) -> int:
    if failures < threshold:
        return 0
    return int(min(cap, FIRST_DELAY_SECONDS * 2 ** min(failures - threshold, 20)))


def _block(key: str, seconds: int) -> None:
    if seconds <= 0:
        return
    storage = _storage()
    storage.clear(key)
    storage.incr(key, seconds)


def record_failure(username: str, policy, user=None) -> None:
    """Count a failed try and set the wait the next one faces; note a burst once per window."""
    storage = _storage()
    name, address = _name(username), _address()
    pair = storage.incr(_pair("pair", name, address), WINDOW_SECONDS)
    account = storage.incr(_key("account", name), WINDOW_SECONDS)
    by_address = storage.incr(_key("address", address), WINDOW_SECONDS)
    threshold = policy.lockout_threshold
    _block(_pair("block-pair", name, address), _delay(pair, threshold, policy.lockout_minutes * 60))
    wide = threshold * ACCOUNT_WIDE_FACTOR
    _block(_key("block-account", name), _delay(account, wide, ACCOUNT_WIDE_MAX_DELAY))
    if account == wide or pair == threshold:
        _burst(user, {"username": name, "address": address, "failures": account,
                      "kind": "account" if account == wide else "account_address"})
    if by_address == ADDRESS_BURST:
        _burst(None, {"address": address, "failures": by_address, "kind": "address"})


def _burst(user, detail: dict) -> None:
    # Once per window for the same account/address: the alert is a signal, not a flood.
    key = _key("burst", detail["kind"], detail.get("username", ""), detail["address"])
    if _storage().incr(key, WINDOW_SECONDS) == 1:
        audit.record("login.burst", obj=user, result="failure", detail=detail)


def record_success(username: str) -> None:
    """A correct password from this address: its count for this account starts again."""
    storage = _storage()
    name = _name(username)
    storage.clear(_pair("pair", name, _address()))
    storage.clear(_pair("block-pair", name, _address()))


def clear(username: str) -> bool:
    """The security admin lifts the delays on an account; whether there was one."""
    storage = _storage()
    name = _name(username)
    was = storage.get(_key("block-account", name)) > 0 or storage.get(_key("account", name)) > 0
    storage.clear(_key("account", name))
    storage.clear(_key("block-account", name))
    storage.incr(_key("generation", name), GENERATION_SECONDS)
    return was

