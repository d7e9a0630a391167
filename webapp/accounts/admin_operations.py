"""Account changes made by the system administrator: create, edit, deactivate, reactivate,
issue a password reset code, import. Roles are not set here: the security administrator assigns them.

Operations validate, change, flush and write the audit entry; the caller commits once.
New and reset accounts get a one-time reset code (``reset_codes``), returned to the caller to
be shown once; only its hash is stored, and the system admin never learns a working password.
"""

import re
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from ..core import audit, clock
from ..core.extensions import db
from ..org import operations as org_operations
from ..org.models import UNIT_KIND_LABELS, Unit
from . import reset_codes, separation
from .models import User, UserSession
from .roles import ROLE_UNIT_KINDS, Role, role_fits_unit

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# Mainland mobile numbers, or landlines with area code (optionally with an extension).
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$")
NAME_MAX = 64
# Units where an account can hold some role (villages have no users of their own).
USER_UNIT_KINDS = frozenset().union(*ROLE_UNIT_KINDS.values())



class UserError(ValueError):
    """A change the rules refuse; ``messages`` are Chinese sentences, ``field`` the form field."""

    def __init__(self, messages: str | Sequence[str], field: str | None = None):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.field = field
        super().__init__("".join(self.messages))


# --- rules (shared with the import) ----------------------------------------------------------

def username_error(username: str) -> str | None:
    if not username:
        return _("请填写用户名。")
    if not USERNAME_RE.match(username):
        return _("用户名为 2–64 位字母、数字或“._-”，以字母或数字开头。")
    return None


def username_taken(username: str) -> bool:
    """Case-insensitively, so that no two accounts differ only in letter case."""
    return db.session.scalar(
        select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
    ) > 0


def full_name_error(full_name: str) -> str | None:
    if not full_name:
        return _("请填写姓名。")
    if len(full_name) > NAME_MAX:
        return _("姓名最多 %(n)s 个字。", n=NAME_MAX)
    return None


def normalize_phone(phone: str | None) -> str | None:
    phone = re.sub(r"[\s]", "", phone or "")
    if re.fullmatch(r"\d+\.0", phone):  # a numeric Excel cell
        phone = phone[:-2]
    return phone or None


def phone_error(phone: str | None) -> str | None:
    if phone and not PHONE_RE.match(phone):
        return _("电话号码格式不正确：请填写 11 位手机号或带区号的固定电话（如 0516-87012345）。")
    return None


def unit_error(unit: Unit | None, role: Role | None = None) -> str | None:
    """Whether an account (holding ``role``, if any) may belong to ``unit``."""
    if unit is None:
        return _("请选择所在单位。")
    if not unit.is_active:
        return _("单位“%(name)s”已停用。", name=unit.name)
    if unit.kind not in USER_UNIT_KINDS:
        return _("%(kind)s没有用户账号，请选择其他单位。", kind=UNIT_KIND_LABELS[unit.kind])
    if role is not None and not role_fits_unit(role, unit.kind):
        return _(
            "该用户的角色是“%(role)s”，只能属于%(kinds)s，不能调到%(kind)s“%(name)s”。请先请安全管理员调整角色。",
            role=role.label, kinds=org_operations.kind_labels(ROLE_UNIT_KINDS[role]),
            kind=UNIT_KIND_LABELS[unit.kind], name=unit.name,
        )
    return None


def _end_sessions(user: User, reason: str) -> int:
    """End every open session of ``user`` (deactivation, password reset)."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), ended_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _unit_ref(unit: Unit | None) -> dict | None:
    return None if unit is None else {"id": unit.id, "name": unit.name}


# --- operations ------------------------------------------------------------------------------

def create_user(*, username: str, full_name: str, phone: str | None, unit: Unit | None,
                via: str | None = None) -> tuple[User, str]:
    """A new account without a role and without a usable password: the owner sets one with the
    one-time reset code returned (to show once). Audited as ``user.create``.
    """
    username = (username or "").strip()
    full_name = (full_name or "").strip()
    phone = normalize_phone(phone)
    for field, message in (("username", username_error(username)), ("full_name", full_name_error(full_name)),
                           ("phone", phone_error(phone)), ("unit", unit_error(unit))):
        if message:
            raise UserError(message, field=field)
    if username_taken(username):
        raise UserError(_("用户名“%(name)s”已被使用。", name=username), field="username")
    now = clock.now()
    user = User(
        username=username, full_name=full_name, phone=phone, unit=unit, role=None,
        password_hash=reset_codes.unusable_password_hash(), password_changed_at=now, must_change_password=True,
        is_demo=False, is_active_account=True, created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    detail = {"username": username, "full_name": full_name, "phone": phone, "unit": _unit_ref(unit)}
    if via:
        detail["via"] = via
    audit.record("user.create", obj=user, detail=detail)
    return user, reset_codes.issue_code(user, via=via or "web")


def update_user(user: User, *, full_name: str, phone: str | None, unit: Unit | None,
                actor: User | None = None) -> bool:
    """Change name, phone and unit (the unit must fit the user's role; no admin moves itself).
    ``user.update``. Returns False when nothing changed.
    """
    full_name = (full_name or "").strip()
    phone = normalize_phone(phone)
    for field, message in (("full_name", full_name_error(full_name)), ("phone", phone_error(phone))):
        if message:
            raise UserError(message, field=field)
    if unit is None or unit.id != user.unit_id:
        message = unit_error(unit, user.role) or (
            actor is not None and separation.unit_change_refusal(actor, user, unit))
        if message:
            raise UserError(message, field="unit")
    before: dict = {}
    after: dict = {}
    if full_name != user.full_name:
        before["full_name"], after["full_name"] = user.full_name, full_name
        user.full_name = full_name
    if phone != user.phone:
        before["phone"], after["phone"] = user.phone, phone
        user.phone = phone
    if unit.id != user.unit_id:
        before["unit"], after["unit"] = _unit_ref(user.unit), _unit_ref(unit)
        user.unit = unit
    if not after:
        return False
    db.session.flush()
    audit.record("user.update", obj=user, detail={"before": before, "after": after})
    return True


def _refuse_other_admins(user: User, actor: User) -> None:
    """三员分立 (``separation``): the system admin cannot take over the other admins' accounts."""
    message = separation.account_action_refusal(actor, user)
    if message:
        raise UserError(message)


def deactivate_user(user: User, actor: User) -> None:
    """Stop an account (its sessions end now); never one's own. ``user.deactivate``."""
    if user.id == actor.id:
        raise UserError(_("不能停用自己的账号。"))
    _refuse_other_admins(user, actor)
    if not user.is_active_account:
        raise UserError(_("该账号已经停用。"))
    user.is_active_account = False
    ended = _end_sessions(user, "deactivated")
    db.session.flush()
    audit.record("user.deactivate", obj=user, detail={
        "username": user.username, "before": {"is_active": True}, "after": {"is_active": False},
        "sessions_ended": ended,
    })


def reactivate_user(user: User) -> None:
    """Let an account log in again (its unit must be active). ``user.reactivate``."""
    if user.is_active_account:
        raise UserError(_("该账号已经是启用状态。"))
    if not user.unit.is_active:
        raise UserError(_("所在单位“%(name)s”已停用，请先把账号调到启用的单位。", name=user.unit.name))
    user.is_active_account = True
    db.session.flush()
    audit.record("user.reactivate", obj=user, detail={
        "username": user.username, "before": {"is_active": False}, "after": {"is_active": True},
    })


def reset_password(user: User, actor: User | None) -> str:
    """A one-time reset code (to show once, valid 24 hours) with which the owner sets a new
    password; also unlocks the account. The current password keeps working until the code is
    used, so a code the owner did not ask for takes nothing away (and the owner is told).
    ``user.password_reset`` and ``user.reset_code_issued``. ``actor`` None: the server operator
    (``flask users reset-password``), the way back in for the security and audit admins."""
    if actor is not None and user.id == actor.id:
        raise UserError(_("不能在这里重置自己的密码，请使用“修改密码”。"))
    if actor is not None:
        _refuse_other_admins(user, actor)
    was_locked = bool(user.locked_until and user.locked_until > clock.now())
    user.failed_logins = 0
    user.locked_until = None
    db.session.flush()
    via = "web" if actor is not None else "cli"
    audit.record("user.password_reset", obj=user, detail={
        "username": user.username, "unlocked": was_locked, "via": via,
    })
    return reset_codes.issue_code(user, via=via)


def import_users(plan: Sequence, filename: str) -> list[tuple[User, str]]:
    """Create the checked rows of an import (``accounts.admin_excel.plan_import``).

    One ``user.create`` per account plus a ``users.import`` summary. Raises ``UserError``
    naming the row when a row is refused after all; the caller then rolls back.
    """
    created = []
    for p in plan:
        try:
            created.append(create_user(username=p.username, full_name=p.full_name, phone=p.phone,
                                       unit=p.unit, via="import"))
        except UserError as exc:
            raise UserError([_("第 %(row)s 行：", row=p.row) + "".join(exc.messages)]) from exc
    audit.record("users.import", object_type="user", detail={
        "filename": filename, "created": len(created), "usernames": [u.username for u, _pw in created],
    })
    return created


def active_users_blocker(unit: Unit) -> str | None:
    """A unit with active accounts cannot be deactivated (registered with ``org.operations``)."""
    count = db.session.scalar(
        select(func.count()).select_from(User)
        .where(User.unit_id == unit.id, User.is_active_account.is_(True))
    )
    if count:
        return _("该单位还有 %(n)s 个启用的用户账号，请先停用这些账号或把他们调到其他单位。", n=count)
    return None


org_operations.register_deactivation_check(active_users_blocker)
