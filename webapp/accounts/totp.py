"""TOTP two-factor login (RFC 6238, pyotp): who must use it, enrolment with a QR code and ten
one-time recovery codes, checking a code at login, and the security admin's reset.

The three admin roles always need it; the security admin may name casework roles that need it
too (``SecurityPolicy.totp_roles``; the activity office is the first candidate); everyone else
may enrol by choice. A code is accepted once only (the last accepted time step is kept), with
one step of clock drift either way. Recovery codes are stored as keyed hashes (HMAC under the
app's secret key), each usable once. Every step is audited; the caller commits.
"""

import hashlib
import hmac
import secrets

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select

from ..core import audit, clock
from ..core.extensions import db
from .models import RecoveryCode, User, current_policy
from .roles import ADMIN_ROLES, Role

ISSUER = "回音 Huiyin"
RECOVERY_COUNT = 10
STEP_SECONDS = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class Refused(Exception):
    """The code is wrong or was already used; ``args[0]`` says so in Chinese."""


def policy_roles() -> set[Role]:
    """The casework roles the security admin requires TOTP of."""
    names = {n for n in (current_policy().totp_roles or "").split(",") if n}
    return {r for r in Role if r.value in names}


def required(user: User) -> bool:
    return user.role in ADMIN_ROLES or user.role in policy_roles()


def enrolled(user: User) -> bool:
    return bool(user.totp_secret)


def enrolment_due(user: User) -> bool:
    """Logged in with the password alone while TOTP is required: enrol before anything else."""
    return required(user) and not enrolled(user)


def new_secret() -> str:
    return pyotp.random_base32()


def qr_svg(user: User, secret: str) -> str:
    """The otpauth URI as an inline SVG QR code (no script, no style attribute: the CSP holds)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, light="#fff", dark="#000")


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _matching_step(secret: str, code: str) -> int | None:
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = int(clock.now().timestamp()) // STEP_SECONDS
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _recovery_hash(user_id: int, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode("utf-8")
    return hmac.new(key, f"recovery:{user_id}:{_normalise(code)}".encode(), hashlib.sha256).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _i in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user.id, raw)))
    return codes


def enrol(user: User, secret: str, code: str) -> list[str]:
    """Keep ``secret`` once the user proves the app shows its codes; returns the ten recovery
    codes (to show once). ``user.totp_enrolled``."""
    step = _matching_step(secret, code)
    if step is None:
        raise Refused(_wrong())
    user.totp_secret = secret
    user.totp_enrolled_at = clock.now()
    user.totp_last_step = step
    codes = _new_recovery_codes(user)
    db.session.flush()
    audit.record("user.totp_enrolled", obj=user, detail={"username": user.username})
    return codes


def check(user: User, code: str) -> str:
    """The second step of a login: a TOTP code or an unused recovery code. Returns which
    (``"totp"`` or ``"recovery"``); raises ``Refused`` and audits the failure otherwise."""
    step = _matching_step(user.totp_secret or "", code) if enrolled(user) else None
    if step is not None and step > (user.totp_last_step or 0):
        user.totp_last_step = step
        db.session.flush()
        return "totp"
    if step is None and enrolled(user):
        row = db.session.scalar(select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
            RecoveryCode.code_hash == _recovery_hash(user.id, code)))
        if row is not None:
            row.used_at = clock.now()
            db.session.flush()
            audit.record("user.recovery_code_used", obj=user, user=user,
                         detail={"left": recovery_codes_left(user)})
            return "recovery"
    audit.record("login.failure", obj=user, user=user, result="failure",
                 detail={"reason": "totp_replayed" if step is not None else "totp"})
    raise Refused(_wrong())


def recovery_codes_left(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def reset(actor: User, user: User) -> bool:
    """The security admin clears a user's TOTP (lost phone): the user enrols again at the next
    login. Never one's own. ``user.totp_reset``; False when there was nothing to clear."""
    if actor.id == user.id:
        raise Refused(_own())
    if not enrolled(user):
        return False
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    audit.record("user.totp_reset", obj=user, detail={"username": user.username})
    return True


def _wrong() -> str:
    return _("验证码不正确或已使用，请输入认证器上当前显示的 6 位数字，或一个未用过的恢复码。")


def _own() -> str:
    return _("不能重置自己的双因素认证，请联系另一位安全管理员。")
