"""Anchors of the audit chain: its head written outside the database.

Every day (``webapp.schedule``) and on demand (``flask audit anchor``) the chain's head — the
last event's position, id and hash, and the time — is appended as one JSON line to
``AUDIT_ANCHOR_FILE`` (default ``instance/audit-anchors.log``, mode 0600, opened for appending
only; on a server, make it append-only for the app's user with ``chattr +a`` or ship it to a
log host). The same line goes to the ``huiyin.audit.anchor`` logger. The audit admin's page
shows the latest anchors so they can be noted on paper.

``flask audit verify`` compares the chain with every anchor: a row the anchor names must still
be there with the same hash, which catches what no in-database check can (the whole tail cut off
together with a head restored from an old copy). Each line carries its own HMAC under the audit
key, so a forged or edited line is told apart from a broken chain.
"""

import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from . import audit, clock
from .extensions import db

log = logging.getLogger("huiyin.audit.anchor")


@dataclass(frozen=True)
class Anchor:
    at: datetime
    seq: int
    event_id: int | None
    hash: str
    source: str
    valid: bool  # its HMAC holds

    @property
    def short_hash(self) -> str:
        """What the audit admin writes down: the first 16 hex digits, in groups of four."""
        return " ".join(self.hash[i:i + 4] for i in range(0, 16, 4))


def anchor_path() -> Path:
    return Path(current_app.config["AUDIT_ANCHOR_FILE"])


def _line_mac(at: str, seq: int, event_id: int | None, digest: str, source: str) -> str:
    return audit.mac("anchor", at, seq, event_id, digest, source)


def write_anchor(source: str) -> Anchor:
    """Append the chain's current head to the anchor file, then audit it (``audit.anchored``).

    The head is read under the appenders' lock, so the anchor names a committed, complete chain.
    The caller commits (which releases the lock).
    """
    head = db.session.execute(
        select(audit.AuditHead).where(audit.AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    seq = head.count if head else 0
    event_id = head.last_event_id if head else None
    digest = head.last_hash if head else audit.GENESIS
    at = clock.now().isoformat(timespec="seconds")
    line = {"at": at, "seq": seq, "event_id": event_id, "hash": digest, "source": source,
            "mac": _line_mac(at, seq, event_id, digest, source)}
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("audit anchor seq=%s event=%s hash=%s source=%s", seq, event_id, digest, source)
    audit.record("audit.anchored", object_type="audit", detail={"seq": seq, "hash": digest, "source": source})
    return Anchor(datetime.fromisoformat(at), seq, event_id, digest, source, True)


def read_anchors() -> list[Anchor]:
    """Every anchor in the file, oldest first (an unreadable line counts as an invalid anchor)."""
    path = anchor_path()
    if not path.exists():
        return []
    anchors = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            at, seq, event_id, digest, source = d["at"], int(d["seq"]), d["event_id"], d["hash"], d["source"]
            valid = hmac.compare_digest(str(d.get("mac", "")), _line_mac(at, seq, event_id, digest, source))
            anchors.append(Anchor(datetime.fromisoformat(at), seq, event_id, str(digest), str(source), valid))
        except (ValueError, KeyError, TypeError):
            anchors.append(Anchor(clock.now(), 0, None, "", "unreadable", False))
    return anchors


def latest(n: int = 10) -> list[Anchor]:
    """The newest ``n`` anchors, newest first (the audit admin's page)."""
    return list(reversed(read_anchors()[-n:]))
