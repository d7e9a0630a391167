"""Password hashing (argon2id) and the password policy rules."""

import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from .models import SecurityPolicy


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_KIB"])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Used to spend the same time on unknown usernames as on known ones.
def dummy_verify(password: str) -> None:
    verify_password(_dummy_hash(), password)


_DUMMY: dict[tuple, str] = {}


def _dummy_hash() -> str:
    key = (current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not-a-real-password")
    return _DUMMY[key]


def character_classes(password: str) -> int:
    """How many of the four classes (lower, upper, digit, other) the password uses."""
    return sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() or c in string.punctuation for c in password),
        ]
    )


def policy_errors(password: str, username: str, policy: SecurityPolicy) -> list[str]:
    """Every rule of ``policy`` the password breaks, as Chinese messages (empty when it passes)."""
    errors = []
    if len(password) < policy.min_length:
        errors.append(_("密码至少需要 %(n)s 个字符。", n=policy.min_length))
    if character_classes(password) < policy.min_classes:
        errors.append(
            _("密码需包含小写字母、大写字母、数字、符号中的至少 %(n)s 类。", n=policy.min_classes)
        )
    if policy.forbid_username and username and username.lower() in password.lower():
        errors.append(_("密码不能包含用户名。"))
    return errors
