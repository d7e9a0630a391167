"""Two-person changes of the admin roles (三员分立): asked by one admin, applied when another
approves. Each step flushes and is audited; the view commits once.

The rules (who may ask, who may approve, what may never be asked) are ``separation``'s; they
are checked again at approval, against the accounts as they are then.
"""

from flask_babel import gettext as _
from sqlalchemy import select

from ..core import audit, clock
from ..core.extensions import db
from . import separation
from .models import RoleChange, RoleChangeStatus, User
from .roles import Role


class Refused(Exception):
    """The change is not allowed; ``args[0]`` says why (in Chinese)."""


class Stale(Exception):
    """The request or the account changed since the page was drawn."""


def _value(role: Role | None) -> str | None:
    return role.value if role else None


def pending_for(user: User) -> RoleChange | None:
    return db.session.scalar(
        select(RoleChange).where(RoleChange.user_id == user.id, RoleChange.status == RoleChangeStatus.pending)
    )


def request_change(actor: User, user: User, role: Role | None) -> RoleChange:
    """Record the change as waiting for a second admin. ``user.role_change_requested``."""
    if pending_for(user) is not None:
        raise Refused(_("该账号已有一项等待批准的角色变更，请先由另一名管理员批准或驳回。"))
    change = RoleChange(user=user, from_role=user.role, to_role=role, status=RoleChangeStatus.pending,
                        requested_by=actor, requested_at=clock.now())
    db.session.add(change)
    db.session.flush()
    audit.record("user.role_change_requested", obj=change, detail={
        "username": user.username, "before": _value(user.role), "after": _value(role),
    })
    return change


def _decide(approver: User, change: RoleChange, version: int | None) -> None:
    if change.status != RoleChangeStatus.pending or version != change.version:
        raise Stale()
    refusal = separation.approval_refusal(approver, change.requested_by_id, change.user_id)
    if refusal:
        raise Refused(refusal)


def approve(approver: User, change: RoleChange, version: int | None) -> None:
    """Apply the change as a second admin. ``user.role_change_approved`` and ``user.role_changed``."""
    _decide(approver, change, version)
    user = change.user
    if user.role != change.from_role:
        raise Stale()
    refusal = separation.role_change_refusal(change.requested_by, user, change.to_role)
    if refusal:
        raise Refused(refusal)
    change.status = RoleChangeStatus.approved
    change.decided_by = approver
    change.decided_at = clock.now()
    user.role = change.to_role
    db.session.flush()
    audit.record("user.role_change_approved", obj=change, detail={
        "username": user.username, "requested_by": change.requested_by.username,
    })
    audit.record("user.role_changed", obj=user, detail={
        "username": user.username, "before": _value(change.from_role), "after": _value(change.to_role),
        "requested_by": change.requested_by.username, "approved_by": approver.username,
    })


def reject(actor: User, change: RoleChange, version: int | None) -> None:
    """Turn the request down (another admin), or withdraw it (the one who asked).
    ``user.role_change_rejected``."""
    if change.status != RoleChangeStatus.pending or version != change.version:
        raise Stale()
    if not separation.is_admin(actor) or actor.id == change.user_id:
        raise Refused(_("不能驳回涉及自己账号的变更。") if actor.id == change.user_id
                      else _("只有管理员可以批准管理员角色的变更。"))
    change.status = RoleChangeStatus.rejected
    change.decided_by = actor
    change.decided_at = clock.now()
    db.session.flush()
    audit.record("user.role_change_rejected", obj=change, detail={
        "username": change.user.username, "withdrawn": actor.id == change.requested_by_id,
    })


def listing(limit: int = 20) -> tuple[list[RoleChange], list[RoleChange]]:
    """The pending requests (oldest first) and the latest decided ones."""
    pending = db.session.scalars(
        select(RoleChange).where(RoleChange.status == RoleChangeStatus.pending).order_by(RoleChange.id)
    ).all()
    decided = db.session.scalars(
        select(RoleChange).where(RoleChange.status != RoleChangeStatus.pending)
        .order_by(RoleChange.decided_at.desc(), RoleChange.id.desc()).limit(limit)
    ).all()
    return list(pending), list(decided)
