"""One-time password reset codes, and ending a user's other sessions when the password changes.

The system admin never sees a password that works: creating an account or resetting one gives a
one-time code (valid 24 hours, only its hash stored) that the owner uses at ``/login/reset`` to
set a password of their own. The owner is told (an audit event, and a line after their next
login). Every password change raises the user's session epoch, so the sessions started before
it end at their next request (``auth.load_user``).
"""

import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import update

from ..core import audit, clock
from ..core.extensions import db
from .models import User, UserSession, current_policy
from .passwords import hash_password, policy_errors, verify_password

CODE_VALID = timedelta(hours=24)
# No 0/O, 1/I/L: read aloud or copied from paper without mistakes.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_GROUPS, _GROUP_LEN = 4, 4  # 16 characters: about 79 bits


class CodeRefused(ValueError):
    """The username and code do not match a valid code (one message for every reason)."""


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def new_code() -> str:
    """A random code shown as four groups of four (ABCD-EFGH-JKMN-PQRS)."""
    raw = "".join(secrets.choice(_ALPHABET) for _i in range(_GROUPS * _GROUP_LEN))
    return "-".join(raw[i:i + _GROUP_LEN] for i in range(0, len(raw), _GROUP_LEN))


def unusable_password_hash() -> str:
    """The hash of a random secret nobody knows: the account logs in only after a reset code."""
    return hash_password(secrets.token_urlsafe(32))


def issue_code(user: User, *, via: str) -> str:
    """Give ``user`` a fresh one-time code (replacing any earlier one); returns it to show once.

    Audited as ``user.reset_code_issued``; the owner sees a line at their next login.
    """
    code = new_code()
    now = clock.now()
    user.reset_code_hash = hash_password(_normalise(code))
    user.reset_code_expires_at = now + CODE_VALID
    user.reset_notice_at = now
    db.session.flush()
    audit.record("user.reset_code_issued", obj=user, detail={
        "username": user.username, "expires_at": user.reset_code_expires_at.isoformat(), "via": via,
    })
    return code


def end_other_sessions(user: User, keep: str | None, reason: str) -> int:
    """Raise the session epoch and end every open session of ``user`` but ``keep``."""
    user.session_epoch = (user.session_epoch or 0) + 1
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep:
        stmt = stmt.where(UserSession.id != keep)
    ended = db.session.execute(
        stmt.values(ended_at=clock.now(), ended_reason=reason).execution_options(synchronize_session=False)
    ).rowcount or 0
    if keep:
        row = db.session.get(UserSession, keep)
        if row is not None:
            row.epoch = user.session_epoch
    db.session.flush()
    return ended


def set_password(user: User, password: str, *, keep_session: str | None, event: str, detail=None) -> None:
    """Store a new password the owner chose; end the owner's other sessions; audit ``event``."""
    user.password_hash = hash_password(password)
    user.password_changed_at = clock.now()
    user.must_change_password = False
    user.is_demo = False
    ended = end_other_sessions(user, keep_session, "password")
    audit.record(event, obj=user, user=user, detail={**(detail or {}), "sessions_ended": ended})


def password_errors(user: User, password: str) -> list[str]:
    return policy_errors(password, user.username, current_policy())


def redeem(user: User | None, code: str, password: str) -> list[str]:
    """Set a new password with a valid code; the code is spent. Returns the policy errors, if any
    (the code is then kept); raises ``CodeRefused`` for a wrong, used or expired code."""
    now = clock.now()
    valid = (
        user is not None and user.is_active_account and user.reset_code_hash is not None
        and user.reset_code_expires_at is not None and user.reset_code_expires_at > now
    )
    if not valid or not verify_password(user.reset_code_hash, _normalise(code)):
        if user is not None:
            user.failed_logins = (user.failed_logins or 0) + 1
        audit.record("user.reset_code_refused", obj=user, user=user, result="failure",
                     detail=None if user is not None else {"reason": "unknown user"})
        raise CodeRefused(_("用户名或重置码不正确，或重置码已使用、已过期。"))
    errors = password_errors(user, password)
    if errors:
        return errors
    user.reset_code_hash = None
    user.reset_code_expires_at = None
    user.failed_logins = 0
    user.locked_until = None
    set_password(user, password, keep_session=None, event="user.password_reset_used")
    return []


def take_notice(user: User) -> str | None:
    """The line the owner sees after the next login when a reset code was issued; shown once."""
    if user.reset_notice_at is None:
        return None
    when = clock.as_utc(user.reset_notice_at).astimezone(clock.LOCAL_TZ)
    user.reset_notice_at = None
    return _("系统管理员已于 %(when)s 为您的账号签发一次性密码重置码。如非您本人申请，请立即联系安全管理员。",
             when=when.strftime("%Y-%m-%d %H:%M"))
