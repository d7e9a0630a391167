"""Writes of the notification pages: reading, one's own channels, the office's rules per kind,
and resending a failed delivery. Each flushes and audits; the view commits."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..core import audit, clock, tasks
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from .kinds import CHANNELS, KINDS
from .models import Contact, Delivery, DeliveryStatus, KindRule, Notification, Preference


def mark_read(n: Notification) -> None:
    """Opening a notification reads it (one's own inbox; not an audited change of casework)."""
    if n.read_at is None:
        n.read_at = clock.now()
        db.session.flush()


def mark_all_read(user, *, kind: str | None = None) -> int:
    """Every unread notification of ``user`` (of ``kind``) is read now; audited with the count."""
    q = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if kind in KINDS:
        q = q.where(Notification.kind == kind)
    n = db.session.execute(q.values(read_at=clock.now())).rowcount or 0
    audit.record("notification.read_all", object_type="user", object_id=user.id, user=user,
                 detail={"kind": kind, "count": n})
    return n


def save_preferences(user, choices: dict[str, list[str]], email: str | None, allowed: dict[str, list[str]]) -> None:
    """A person's channels per kind, within what the office allows; their e-mail address."""
    errors = {}
    for kind, channels in choices.items():
        bad = [c for c in channels if c not in allowed.get(kind, [])]
        if kind not in KINDS or bad:
            errors[kind] = _l("所选渠道不在活动办允许的范围内。")
    email = (email or "").strip() or None
    if email and ("@" not in email or len(email) > 254 or " " in email):
        errors["email"] = _l("请填写有效的电子邮件地址。")
    if errors:
        raise FieldsInvalid(errors)
    existing = {p.kind: p for p in db.session.scalars(select(Preference).where(Preference.user_id == user.id))}
    for kind, channels in choices.items():
        row = existing.get(kind) or Preference(user_id=user.id, kind=kind)
        row.channels = [c for c in CHANNELS if c in channels]
        db.session.add(row)
    contact = db.session.get(Contact, user.id) or Contact(user_id=user.id)
    contact.email = email
    db.session.add(contact)
    db.session.flush()
    audit.record("notification.preferences", object_type="user", object_id=user.id, user=user,
                 detail={"choices": {k: sorted(v) for k, v in choices.items()}, "email": bool(email)})


def save_rules(user, rules: dict[str, tuple[list[str], list[str], bool]], versions: dict[str, int]) -> None:
    """The office's rule per kind: allowed channels, defaults (a subset), urgent."""
    changed = {}
    for kind, (allowed, defaults, urgent) in rules.items():
        if kind not in KINDS:
            continue
        allowed = [c for c in CHANNELS if c in allowed]
        defaults = [c for c in allowed if c in defaults]
        row = db.session.get(KindRule, kind)
        if row is not None and versions.get(kind) not in (None, row.version):
            raise Conflict(_l("通知规则已被他人修改，请刷新后再保存。"))
        k = KINDS[kind]
        before = ((list(row.allowed), list(row.defaults), row.is_urgent) if row
                  else (list(k.allowed), list(k.defaults), k.urgent))
        if before == (allowed, defaults, urgent):
            continue
        row = row or KindRule(kind=kind)
        row.allowed, row.defaults, row.is_urgent = allowed, defaults, urgent
        db.session.add(row)
        changed[kind] = {"before": before, "after": (allowed, defaults, urgent)}
    db.session.flush()
    if changed:
        audit.record("notification.rules", object_type="notification_rule", user=user, detail=changed)


def resend(d: Delivery, user) -> None:
    """The office sends a failed delivery again (same idempotency key); audited."""
    if d.status != DeliveryStatus.failed:
        raise Conflict(_l("这条发送记录不是失败状态，无需重发。"))
    d.status = DeliveryStatus.queued
    d.attempts = 0
    d.not_before = None
    db.session.flush()
    audit.record("notification.resend", obj=d, user=user, detail={"channel": d.channel})
    from .tasks import send_deliveries

    tasks.enqueue_after_commit(send_deliveries, [d.id])
