"""The append-only, hash-chained audit log.

``record()`` adds an event to the current transaction, so the event commits or rolls back with
the change it records. Each row carries the hash of the previous row; a single head row is
locked while appending, which serialises appenders across processes and hosts and keeps the
chain linear. ``verify_chain()`` recomputes every hash (the ``flask audit verify`` command).
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from . import clock
from .extensions import db
from .types import UTCDateTime

GENESIS = "0" * 64


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


class AuditHead(db.Model):
    """A single row pointing at the end of the chain; locked by every appender."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"))
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    count: Mapped[int] = mapped_column(Integer, default=0)


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


def _digest(ev: AuditEvent) -> str:
    return hashlib.sha256(_canonical(ev).encode("utf-8")).hexdigest()


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
    )
    ev.hash = _digest(ev)  # rows are immutable once inserted: hash before the insert
    db.session.add(ev)
    db.session.flush()
    head.last_event_id = ev.id
    head.last_hash = ev.hash
    head.count = ev.seq
    db.session.flush()
    return ev


@dataclass
class ChainReport:
    ok: bool
    checked: int
    problem: str | None = None
    event_id: int | None = None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute the whole chain; report the first broken link, if any."""
    prev = GENESIS
    checked = 0
    last_seq = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != checked + 1:
                return ChainReport(False, checked, "sequence gap (row removed)", ev.id)
            if ev.prev_hash != prev:
                return ChainReport(False, checked, "previous-hash mismatch (row missing or altered)", ev.id)
            if _digest(ev) != ev.hash:
                return ChainReport(False, checked, "content does not match its hash", ev.id)
            prev = ev.hash
            checked += 1
            last_seq = ev.seq
        db.session.expunge_all()
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_hash != prev or head.count != checked):
        return ChainReport(False, checked, "chain end does not match the head (rows removed at the end)", None)
    if head is None and checked:
        return ChainReport(False, checked, "head row missing", None)
    return ChainReport(True, checked)
