"""Writes of the security admin: a user's role, the security policy, unlocking an account.

Each operation checks what it needs, changes the rows, writes the audit entry in the same
transaction and flushes; the view commits once.
"""

from flask_babel import gettext as _

from ..core import audit, clock
from ..core.extensions import db
from . import role_changes, separation
from .models import SecurityPolicy, User, current_policy
from .roles import Role, role_fits_unit
from .security_forms import POLICY_FIELDS


class StaleVersion(Exception):
    """The form was filled in from an older version of the row."""


class Refused(Exception):
    """The change is not allowed; ``args[0]`` says why (in Chinese)."""


def assignable_roles(user: User) -> list[Role]:
    """The roles the user may hold, given the kind of their unit (DOMAIN §3)."""
    return [role for role in Role if role_fits_unit(role, user.unit.kind)]


UNCHANGED, CHANGED, PENDING = "unchanged", "changed", "pending"


def set_role(actor: User, user: User, role: Role | None, version: int | None) -> str:
    """Give ``user`` the single ``role`` (or none): ``CHANGED``, ``UNCHANGED`` when it already
    holds it, or ``PENDING`` when an admin role is given or taken (a second admin approves).

    A user has one role, so nobody holds two admin roles; the other rules of 三员分立 are
    ``separation``'s.
    """
    if user.id == actor.id:
        raise Refused(_("不能修改自己的角色。"))
    if version != user.version:
        raise StaleVersion()
    if role is not None and not role_fits_unit(role, user.unit.kind):
        raise Refused(
            _("“%(role)s”不适用于%(kind)s类单位的用户。", role=role.label, kind=user.unit.kind_label)
        )
    if role == user.role:
        return UNCHANGED
    refusal = separation.role_change_refusal(actor, user, role)
    if refusal:
        raise Refused(refusal)
    if separation.needs_second_admin(user.role, role):
        try:
            role_changes.request_change(actor, user, role)
        except role_changes.Refused as exc:
            raise Refused(exc.args[0]) from exc
        return PENDING
    before = user.role
    user.role = role
    audit.record(
        "user.role_changed",
        obj=user,
        detail={
            "username": user.username,
            "before": before.value if before else None,
            "after": role.value if role else None,
        },
    )
    db.session.flush()
    return CHANGED


def policy_values(policy: SecurityPolicy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def update_policy(values: dict, version: int | None) -> dict:
    """Save the policy row (id 1); returns ``{field: (before, after)}`` of what changed."""
    policy = db.session.get(SecurityPolicy, 1)
    if policy is None:  # a database set up without demo data: save the defaults first
        policy = current_policy()
        db.session.add(policy)
        current_version = 0
    else:
        current_version = policy.version
    if version != current_version:
        raise StaleVersion()
    before = policy_values(policy)
    changes = {k: (before[k], values[k]) for k in POLICY_FIELDS if before[k] != values[k]}
    if not changes and current_version:
        return {}
    for name, (_old, new) in changes.items():
        setattr(policy, name, new)
    audit.record(
        "policy.changed",
        obj=policy,
        detail={
            "before": {k: old for k, (old, _new) in changes.items()},
            "after": {k: new for k, (_old, new) in changes.items()},
        },
    )
    db.session.flush()
    return changes


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > clock.now()


def unlock(user: User) -> bool:
    """Clear the lock and the failure count; False when there was nothing to clear."""
    if not is_locked(user) and not user.failed_logins:
        return False
    detail = {
        "username": user.username,
        "locked_until": user.locked_until.isoformat() if is_locked(user) else None,
        "failed_logins": user.failed_logins,
    }
    user.locked_until = None
    user.failed_logins = 0
    audit.record("account.unlocked", obj=user, detail=detail)
    db.session.flush()
    return True
