"""Reads: the bell's count, a person's inbox (keyset pages, newest first), the office's
outbox and failures. Every query is scoped to the person or gated to the office."""

from dataclasses import dataclass

from sqlalchemy import func, select

from ..accounts.models import User
from ..core.extensions import db
from .kinds import KINDS, label
from .models import Delivery, DeliveryStatus, Notification, Preference

PAGE = 25
BELL_CAP = 99  # "99+": counting further would cost a scan for nothing


def unread_count(user_id: int) -> int:
    """Unread notifications of a person, counted up to ``BELL_CAP + 1`` (index-only)."""
    inner = (select(Notification.id).where(Notification.user_id == user_id, Notification.read_at.is_(None))
             .limit(BELL_CAP + 1).subquery())
    return db.session.scalar(select(func.count()).select_from(inner)) or 0


@dataclass
class InboxPage:
    rows: list[Notification]
    kind: str | None
    before: int | None
    next_before: int | None
    unread: int


def inbox(user_id: int, *, kind: str | None = None, before: int | None = None) -> InboxPage:
    """One page of a person's inbox: two statements whatever the inbox holds."""
    if kind not in KINDS:
        kind = None
    q = select(Notification).where(Notification.user_id == user_id)
    if kind:
        q = q.where(Notification.kind == kind)
    if before:
        q = q.where(Notification.id < before)
    rows = list(db.session.scalars(q.order_by(Notification.id.desc()).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return InboxPage(rows=rows, kind=kind, before=before,
                     next_before=rows[-1].id if more else None, unread=unread_count(user_id))


def get_own(notification_id: int, user_id: int) -> Notification | None:
    return db.session.scalar(select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user_id))


def preferences(user_id: int) -> dict[str, list[str]]:
    return dict(db.session.execute(select(Preference.kind, Preference.channels).where(
        Preference.user_id == user_id)).all())


def deliveries(statuses: tuple[DeliveryStatus, ...], *, before: int | None = None, limit: int = 50):
    """Deliveries in ``statuses`` (newest first) with their notification and recipient."""
    q = (select(Delivery, Notification, User.full_name, User.username)
         .join(Notification, Notification.id == Delivery.notification_id)
         .join(User, User.id == Notification.user_id)
         .where(Delivery.status.in_(statuses)))
    if before:
        q = q.where(Delivery.id < before)
    rows = db.session.execute(q.order_by(Delivery.id.desc()).limit(limit + 1)).all()
    return rows[:limit], (rows[limit - 1][0].id if len(rows) > limit else None)


def delivery_counts() -> dict[str, int]:
    return {str(s): n for s, n in db.session.execute(
        select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)).all()}


__all__ = ["label"]
