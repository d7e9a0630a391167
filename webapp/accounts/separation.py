"""三员分立: every rule about the three admin accounts, in one place.

The system admin (accounts and units), the security admin (roles and policy) and the audit
admin (the log) are separate people, and none of them does casework. Here lives what keeps
them apart:

- a change that gives or takes an admin role needs a second admin's approval (``role_changes``);
- no admin changes its own role or unit, and no admin account is given a casework role (an
  admin leaves its admin role first, with a second admin's approval);
- the audit-admin role is never left empty (at least one active account holds it);
- the system admin cannot reset or stop the other two admins' accounts (the server operator's
  ``flask users reset-password`` is their way back in).

Views and operations ask these functions; each answers ``None`` (allowed) or the Chinese reason.
"""

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..core.extensions import db
from ..org.models import Unit
from .models import User
from .roles import ADMIN_ROLES, CASEWORK_ROLES, Role


def is_admin(user: User | None) -> bool:
    return user is not None and user.role in ADMIN_ROLES


def needs_second_admin(before: Role | None, after: Role | None) -> bool:
    """Giving or taking an admin role waits for another admin's approval."""
    return before in ADMIN_ROLES or after in ADMIN_ROLES


def active_auditors(exclude: User | None = None) -> int:
    stmt = select(func.count()).select_from(User).where(
        User.role == Role.auditor, User.is_active_account.is_(True)
    )
    if exclude is not None:
        stmt = stmt.where(User.id != exclude.id)
    return db.session.scalar(stmt)


def role_change_refusal(actor: User, user: User, role: Role | None) -> str | None:
    """Why ``actor`` may not give ``user`` the ``role`` (asked at request and at approval)."""
    if user.id == actor.id:
        return _("不能修改自己的角色。")
    if user.role in ADMIN_ROLES and role in CASEWORK_ROLES:
        return _("三员分立：管理员账号不能被授予办理问题的角色。请先（经另一名管理员批准）取消其管理员角色。")
    if user.role == Role.auditor and role != Role.auditor and user.is_active_account and not active_auditors(user):
        return _("审计管理员角色不能空缺：请先为另一个账号设置审计管理员角色（经批准生效），再调整此账号。")
    return None


def approval_refusal(approver: User, requested_by_id: int | None, user_id: int) -> str | None:
    """The second admin: an admin other than the one who asked and the one concerned."""
    if not is_admin(approver):
        return _("只有管理员可以批准管理员角色的变更。")
    if approver.id == requested_by_id:
        return _("两人规则：不能批准自己提出的变更，请由另一名管理员批准。")
    if approver.id == user_id:
        return _("不能批准涉及自己账号的变更。")
    return None


def account_action_refusal(actor: User, user: User) -> str | None:
    """The system admin cannot reset or stop the security or the audit admin's account."""
    if user.role in (Role.secadmin, Role.auditor) and actor.role == Role.sysadmin:
        return _("三员分立：系统管理员不能重置或停用安全管理员、审计管理员的账号。")
    if user.role == Role.auditor and not active_auditors(user):
        return _("审计管理员角色不能空缺：不能停用唯一的审计管理员账号。")
    return None


def unit_change_refusal(actor: User, user: User, unit: Unit) -> str | None:
    """No admin moves its own account to another unit (into the activity office, say)."""
    if user.id == actor.id and is_admin(actor) and unit.id != user.unit_id:
        return _("三员分立：管理员不能调整自己的所在单位，请由另一名系统管理员办理。")
    return None
