"""Notification tables: the inbox rows, their outbound deliveries, what each person chose,
what the office allows per kind, and the units' group robots.

Rows are written by ``notifications.emit`` (new notifications and deliveries), ``delivery``
(sending) and ``operations`` (reading, choices, the office's rules), never by a view.
"""

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime, enum_column
from ..org.models import Unit


class Notification(db.Model):
    """One message in one person's inbox, about one object (problem, notice, meeting …)."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The inbox (newest first) and the bell (unread count): index-only per person.
        Index("ix_notifications_user_id", "user_id", "id"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        # The inbox filtered by kind, newest first, however rare the kind.
        Index("ix_notifications_user_kind", "user_id", "kind", "id"),
        # The same event is told once per person (the sweep may run twice in a minute).
        UniqueConstraint("dedupe_key", "user_id", name="notification_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # the person's unit then
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    target_type: Mapped[str | None] = mapped_column(String(32))  # problem, notice, meeting, agenda, job
    target_id: Mapped[int | None] = mapped_column(Integer)
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class DeliveryStatus(enum.StrEnum):
    queued = "queued"      # waiting for the task queue
    held = "held"          # quiet hours or the channel's rate limit: sent from ``not_before``
    sent = "sent"          # accepted by the gateway / robot / mail server
    failed = "failed"      # every attempt failed: listed for the office, who may resend
    outbox = "outbox"      # no adapter configured: shown on the outbox, nothing sent


class Delivery(db.Model):
    """One notification on one outbound channel; ``idempotency_key`` = notification:channel."""

    __tablename__ = "notification_deliveries"
    audit_type = "notification_delivery"
    __table_args__ = (
        Index("ix_notification_deliveries_status", "status", "not_before"),
        Index("ix_notification_deliveries_channel_sent", "channel", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(255), default="")  # phone, e-mail, robot's unit
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, 16), default=DeliveryStatus.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    notification: Mapped[Notification] = relationship()


class Preference(db.Model):
    """A person's channels per kind (absent: the office's defaults for that kind)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="preference_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list] = mapped_column(JSON, default=list)


class Contact(db.Model):
    """Where a person is reached besides the account's phone: an e-mail address."""

    __tablename__ = "notification_contacts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))


class KindRule(db.Model):
    """The office's rule for one kind: channels allowed, channels by default, urgent (no quiet hours)."""

    __tablename__ = "notification_kind_rules"
    audit_type = "notification_rule"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    allowed: Mapped[list] = mapped_column(JSON, default=list)
    defaults: Mapped[list] = mapped_column(JSON, default=list)
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class UnitRobot(db.Model):
    """A unit's 企业微信 or 钉钉 group robot (its webhook address, a secret)."""

    __tablename__ = "notification_unit_robots"
    __table_args__ = (UniqueConstraint("unit_id", "channel", name="unit_robot_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    channel: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk
    webhook_url: Mapped[str] = mapped_column(Text)

    unit: Mapped[Unit] = relationship()
