"""Configuration read from the environment, with safe defaults.

Every setting can be given as an environment variable of the same name. ``SECRET_KEY``, when
missing, is generated once and kept in the instance folder (never in the repository).
"""

import os
import secrets
from pathlib import Path

from .core.pii import instance_key_file


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def instance_secret_key(instance_path: str, name: str = "secret_key") -> str:
    """Return the instance's secret ``name``, creating it (mode 0600) on first use."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting together must not write different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    default_db = "sqlite:///" + str(Path(instance_path) / "huiyin.sqlite3")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or instance_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        # The audit chain's HMAC key: never in the database, so that whoever can write to the
        # database cannot recompute the chain. Kept in the instance folder (0600) when not given.
        "AUDIT_HMAC_KEY": os.environ.get("AUDIT_HMAC_KEY") or instance_secret_key(instance_path, "audit_hmac_key"),
        # Personal data at rest (core.pii): the AES-GCM keys ("id:hex", the last one seals) and the
        # blind index's key, never in the database. Kept in the instance folder (0600) when not given;
        # ``flask pii rotate-key`` adds a key to PII_KEY_FILE (not when PII_KEYS comes from the environment).
        "PII_KEY_FILE": None if os.environ.get("PII_KEYS") else str(Path(instance_path) / "pii_keys"),
        "PII_KEYS": os.environ.get("PII_KEYS") or instance_key_file(Path(instance_path) / "pii_keys"),
        "PII_INDEX_KEY": os.environ.get("PII_INDEX_KEY") or instance_secret_key(instance_path, "pii_index_key"),
        # The append-only file the chain's head is written to (``flask audit anchor``, daily).
        "AUDIT_ANCHOR_FILE": os.environ.get("AUDIT_ANCHOR_FILE", str(Path(instance_path) / "audit-anchors.log")),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR", str(Path(instance_path) / "uploads")),
        # Where uploads live (core.storage): ``local`` (UPLOAD_DIR, default) or ``s3`` — an
        # S3-compatible store shared by every app host.
        "STORAGE_BACKEND": os.environ.get("STORAGE_BACKEND", "local"),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "S3_REGION": os.environ.get("S3_REGION", ""),
        "S3_PREFIX": os.environ.get("S3_PREFIX", ""),
        # ``flask residents purge``: days after the campaign deadline before residents are anonymised.
        "RESIDENT_PURGE_AFTER_DAYS": int(os.environ.get("RESIDENT_PURGE_AFTER_DAYS", "180")),
        # Where ``flask backup create`` writes its archives (a 0700 folder; copy them off the host).
        "BACKUP_DIR": os.environ.get("BACKUP_DIR", str(Path(instance_path) / "backups")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024,
        # Cookies: HttpOnly and SameSite always; Secure when forced here or when the request
        # itself came over HTTPS (see core.security.SessionInterface).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_NAME": "huiyin_session",
        "PREFERRED_URL_SCHEME": os.environ.get("PREFERRED_URL_SCHEME", "http"),
        # Number of reverse proxies in front of the app (for X-Forwarded-For/Proto).
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "WTF_CSRF_HEADERS": ["X-CSRFToken"],
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh_CN", "en"],
        # argon2id cost; tests lower it to keep the suite fast.
        "ARGON2_TIME_COST": int(os.environ.get("ARGON2_TIME_COST", "3")),
        "ARGON2_MEMORY_KIB": int(os.environ.get("ARGON2_MEMORY_KIB", "65536")),
        "REQUIRE_CJK_FONT": _bool("REQUIRE_CJK_FONT", True),
        # The public receipt lookup (/receipt): attempts per client address per window.
        "RECEIPT_LOOKUP_LIMIT": int(os.environ.get("RECEIPT_LOOKUP_LIMIT", "10")),
        "RECEIPT_LOOKUP_WINDOW_SECONDS": int(os.environ.get("RECEIPT_LOOKUP_WINDOW_SECONDS", "600")),
        # The Open311 API (api/): calls per key per fixed window, counted in the database, or in
        # Redis when API_RATE_LIMIT_REDIS_URL is set.
        "API_RATE_LIMIT": int(os.environ.get("API_RATE_LIMIT", "120")),
        "API_RATE_WINDOW_SECONDS": int(os.environ.get("API_RATE_WINDOW_SECONDS", "60")),
        # Calls refused for a missing or wrong key, per client address per window.
        "API_REFUSED_LIMIT": int(os.environ.get("API_REFUSED_LIMIT", "30")),
        "API_RATE_LIMIT_REDIS_URL": os.environ.get("API_RATE_LIMIT_REDIS_URL") or None,
        # Several app processes or hosts: one Redis for what they must count together (the login
        # throttle, the API's rate limit) and the task queue, unless each is given its own URL
        # (see ``shared_services``).
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or None,
        # The task queue (core.tasks): sqlite:///… (default <instance>/tasks.sqlite3), redis://…,
        # or "immediate" (run each task at once, in the enqueuing process; the tests' default).
        "TASK_QUEUE_URL": os.environ.get("TASK_QUEUE_URL"),
        # Result files of background jobs (core.jobs) live in the upload store; kept this many days.
        "JOB_RESULT_DAYS": int(os.environ.get("JOB_RESULT_DAYS", "7")),
        # Dashboards whose counts each process keeps for the current data version (0: none).
        "STATS_CACHE_SIZE": int(os.environ.get("STATS_CACHE_SIZE", "64")),
        # The district's and the work groups' dashboards read the sums the writes keep (stats.sums);
        # "0" counts over the problems instead (the benchmark's baseline).
        "STATS_KEPT_SUMS": os.environ.get("STATS_KEPT_SUMS", "1") != "0",
        # Outbound notification channels (notifications.channels); unset: nothing leaves the
        # machine, the office's outbox page shows what would have been sent.
        **{name: os.environ[name] for name in NOTIFY_SETTINGS if os.environ.get(name)},
        "NOTIFY_QUIET_HOURS": os.environ.get("NOTIFY_QUIET_HOURS", "22:00-07:00"),
        # The integrity scan's thresholds (defaults in integrity/detectors.py), when set.
        **{name: int(value) for name, value in os.environ.items() if name in INTEGRITY_SETTINGS},
    }


INTEGRITY_SETTINGS = frozenset({
    "INTEGRITY_BUNCH_WORKDAYS", "INTEGRITY_BUNCH_MIN", "INTEGRITY_BUNCH_SHARE", "INTEGRITY_BUNCH_PERIODS",
    "INTEGRITY_REPEAT_DAYS", "INTEGRITY_REOPEN_MIN", "INTEGRITY_REOPEN_FACTOR", "INTEGRITY_REOPEN_MARGIN",
})

NOTIFY_SETTINGS = frozenset({
    "SMS_GATEWAY_URL", "SMS_GATEWAY_KEY", "SMS_TEMPLATE_IDS", "SMTP_HOST", "SMTP_PORT", "SMTP_USER",
    "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS", "NOTIFY_RATE_LIMITS", "PUBLIC_BASE_URL",
})


def shared_services(config) -> None:
    """With ``REDIS_URL`` set, what every process must share goes there unless configured apart:
    the login throttle's counts (``RATELIMIT_STORAGE_URI``), the API's rate limit
    (``API_RATE_LIMIT_REDIS_URL``) and the task queue (``TASK_QUEUE_URL``). Sessions, settings,
    the calendar and every count the pages show are read from the database on each request, so
    nothing else is kept per process that another process could change."""
    url = config.get("REDIS_URL")
    if not url:
        return
    for name in ("RATELIMIT_STORAGE_URI", "API_RATE_LIMIT_REDIS_URL", "TASK_QUEUE_URL"):
        if not config.get(name):
            config[name] = url
