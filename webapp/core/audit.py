"""The append-only, hash-chained audit log, keyed and anchored.

``record()`` adds an event to the current transaction, so the event commits or rolls back with
the change it records. Each row carries the hash of the previous row; a single head row is
locked while appending, which serialises appenders across processes and hosts and keeps the
chain linear.

The hash of each row is an HMAC-SHA256 under ``AUDIT_HMAC_KEY``, a secret kept outside the
database (environment or instance folder): someone who can write to the database can neither
edit a row nor recompute the chain after an edit without it. The head row carries a keyed seal
too, so cutting rows off the end and moving the head back shows. What even the key cannot show
(the whole tail removed together with a head restored from an earlier copy) the anchors show:
``core.anchors`` writes the head to a file outside the database every day.

Rows written before the chain was keyed carry ``alg = 'sha256'`` (the unkeyed digest of the same
canonical form); they are accepted only as the chain's beginning, before the first keyed row,
whose HMAC covers the last of them. A row whose HMAC holds is keyed whatever its ``alg`` says. ``verify_chain()`` recomputes everything (``flask audit
verify`` and the audit admin's page) and names every broken row.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app, has_request_context, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .extensions import db
from .types import UTCDateTime

GENESIS = "0" * 64
KEYED = "hmac-sha256"
UNKEYED = "sha256"  # rows from before the chain was keyed


class AuditEvent(db.Model):
    """One audited event. Rows are never updated or deleted (database triggers refuse it)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the chain (1, 2, …); the hash covers it, so reordering or gaps show.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    unit_name: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16), default="success")
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16), default=KEYED, server_default=UNKEYED)


class AuditHead(db.Model):
    """A single row pointing at the end of the chain; locked by every appender."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # HMAC over (count, last_event_id, last_hash): moving the head back needs the key.
    seal: Mapped[str | None] = mapped_column(String(64))


def _canonical(ev: AuditEvent) -> str:
    return json.dumps(
        [
            ev.seq,
            clock.as_utc(ev.created_at).isoformat(timespec="microseconds"),
            ev.user_id,
            ev.username,
            ev.unit_id,
            ev.unit_name,
            ev.ip,
            ev.event,
            ev.object_type,
            ev.object_id,
            ev.result,
            ev.detail,
            ev.prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _key() -> bytes:
    key = current_app.config.get("AUDIT_HMAC_KEY")
    if not key:
        raise RuntimeError("AUDIT_HMAC_KEY is not set: the audit chain cannot be written or verified")
    return key.encode("utf-8") if isinstance(key, str) else key


def mac(*parts) -> str:
    """HMAC-SHA256 under the audit key of ``parts`` (as canonical JSON), in hex."""
    text = json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))
    return hmac.new(_key(), text.encode("utf-8"), hashlib.sha256).hexdigest()


def _unkeyed(ev: AuditEvent) -> str:
    return hashlib.sha256(_canonical(ev).encode("utf-8")).hexdigest()


def _digest(ev: AuditEvent) -> str:
    return hmac.new(_key(), _canonical(ev).encode("utf-8"), hashlib.sha256).hexdigest()


def head_seal(count: int, last_event_id: int | None, last_hash: str) -> str:
    return mac("head", count, last_event_id, last_hash)


def client_ip() -> str | None:
    """The client's address (ProxyFix has already applied X-Forwarded-For when configured)."""
    return request.remote_addr if has_request_context() else None


def record(
    event: str,
    *,
    obj=None,
    object_type: str | None = None,
    object_id=None,
    result: str = "success",
    user=None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append an audit event to the current transaction (flushes, never commits).

    ``user`` defaults to the logged-in user; ``obj`` may be any model with an ``id`` whose
    class declares ``audit_type``.
    """
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    if obj is not None:
        object_type = object_type or getattr(obj, "audit_type", type(obj).__name__.lower())
        object_id = obj.id
    head = db.session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_hash=GENESIS, count=0)
        db.session.add(head)
        db.session.flush()
    unit = getattr(user, "unit", None) if user is not None else None
    ev = AuditEvent(
        created_at=clock.now(),
        user_id=getattr(user, "id", None),
        username=getattr(user, "username", None),
        unit_id=getattr(unit, "id", None),
        unit_name=getattr(unit, "name", None),
        ip=client_ip(),
        event=event,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        result=result,
        detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        if detail
        else None,
        seq=(head.count or 0) + 1,
        prev_hash=head.last_hash,
        alg=KEYED,
    )
    ev.hash = _digest(ev)  # rows are immutable once inserted: hash before the insert
    db.session.add(ev)
    db.session.flush()
    head.last_event_id = ev.id
    head.last_hash = ev.hash
    head.count = ev.seq
    head.seal = head_seal(head.count, head.last_event_id, head.last_hash)
    # The head's update goes with the transaction's next flush (the next event's locking read
    # of the head flushes it first, and the commit does): the row is already locked.
    return ev


# What ``verify_chain`` can find, in English (the CLI); the audit page translates the codes.
PROBLEMS = {
    "edited": "row edited (content does not match its keyed hash)",
    "recomputed": "row recomputed without the key (its hash is a plain SHA-256 of the content)",
    "downgraded": "unkeyed row after keyed rows (recomputed without the key)",
    "gap": "sequence gap (row deleted)",
    "link": "previous-hash mismatch (the row before it was deleted, inserted or replaced)",
    "inserted": "row inserted (out of order with the rows around it)",
    "tail": "chain end does not match the head (rows deleted at the end)",
    "head_seal": "head altered (its keyed seal does not match)",
    "head_missing": "head row missing",
    "anchor_missing": "anchored row missing (rows deleted, the tail included)",
    "anchor_changed": "anchored row differs from the anchor (edited or recomputed)",
    "anchor_forged": "anchor line edited or forged (its keyed seal does not match)",
}
MAX_FINDINGS = 50


@dataclass
class Finding:
    code: str
    seq: int | None = None
    event_id: int | None = None

    @property
    def text(self) -> str:
        return PROBLEMS[self.code]

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "chain end"
        if self.event_id is not None:
            where += f", event {self.event_id}"
        return f"{self.text} ({where})"


@dataclass
class ChainReport:
    ok: bool
    checked: int
    findings: list[Finding] = field(default_factory=list)
    unkeyed: int = 0  # rows from before the chain was keyed
    anchors: int = 0  # anchors compared

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def problem(self) -> str | None:
        return self.first.text if self.first else None

    @property
    def event_id(self) -> int | None:
        return self.first.event_id if self.first else None


def verify_chain(anchors: Iterable | None = None, batch: int = 5000) -> ChainReport:
    """Recompute the whole chain and compare it with ``anchors`` (``core.anchors.Anchor``s).

    Goes on after a broken row (taking its stored hash as the link to the next one), so that the
    report names every broken row, up to ``MAX_FINDINGS``. ``checked`` counts the rows that hold.
    """
    anchors = list(anchors or ())
    anchored = {a.seq: a for a in anchors if a.valid and a.seq}
    findings = [Finding("anchor_forged", a.seq or None) for a in anchors if not a.valid]
    prev = GENESIS
    checked = unkeyed = 0
    expected = 1
    last_id = 0
    keyed_seen = False

    def found(code, ev=None):
        findings.append(Finding(code, ev.seq if ev else None, ev.id if ev else None))

    last_seq = 0
    while len(findings) < MAX_FINDINGS:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            before = len(findings)
            if ev.seq != expected:
                found("gap", ev)
            elif ev.id <= last_id:
                found("inserted", ev)
            if ev.prev_hash != prev:
                found("link", ev)
            # The HMAC decides; ``alg`` only names what the row claims (it is not hashed, and a
            # downgrade and upgrade of the schema resets it to 'sha256').
            if hmac.compare_digest(_digest(ev), ev.hash):
                keyed_seen = True
            elif _unkeyed(ev) != ev.hash:
                found("edited", ev)
            elif keyed_seen or ev.alg == KEYED:
                found("downgraded" if ev.alg == UNKEYED else "recomputed", ev)
            else:
                unkeyed += 1
            anchor = anchored.get(ev.seq)
            if anchor is not None and anchor.hash != ev.hash:
                found("anchor_changed", ev)
            if len(findings) == before:
                checked += 1
            prev = ev.hash
            expected = ev.seq + 1
            last_id = ev.id
            last_seq = ev.seq
        db.session.expunge_all()
    for seq in sorted(s for s in anchored if s >= expected):
        findings.append(Finding("anchor_missing", seq, anchored[seq].event_id))
    head = db.session.get(AuditHead, 1)
    if head is None:
        if last_seq:
            found("head_missing")
    else:
        if head.last_hash != prev or head.count != last_seq:
            found("tail")
        if (keyed_seen or head.seal is not None) and (
            head.seal is None
            or not hmac.compare_digest(head.seal, head_seal(head.count, head.last_event_id, head.last_hash))
        ):
            found("head_seal")
    return ChainReport(not findings, checked, findings[:MAX_FINDINGS], unkeyed, len(anchored))
