"""Users, their server-side sessions, and the security policy (one row)."""

import enum
from datetime import datetime
from typing import ClassVar

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core import clock
from ..core.extensions import db
from ..core.pii import EncryptedString
from ..core.types import UTCDateTime
from ..org.models import Unit
from .roles import Role


class User(UserMixin, db.Model):
    """An account: one unit and at most one role (none until the security admin sets it)."""

    __tablename__ = "users"
    audit_type = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[Role | None] = mapped_column(Enum(Role, native_enum=False, length=16))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    # Demo accounts keep their published password (README); never set outside demo data.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active_account: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    # Raised at every password change: sessions started under an older epoch end (auth.load_user).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A one-time reset code (its hash only) issued by the system admin, valid until the time set.
    reset_code_hash: Mapped[str | None] = mapped_column(String(255))
    reset_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a reset code was issued and the owner has not been told yet (a line at next login).
    reset_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # TOTP second factor (accounts.totp): the shared secret, when enrolled, and the last time
    # step accepted (a code is never accepted twice).
    totp_secret: Mapped[str | None] = mapped_column(EncryptedString("totp_secret"))  # sealed (core.pii)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    version: Mapped[int] = mapped_column(default=1)

    unit: Mapped[Unit] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    # Set by the session loader: the server-side session this request runs in.
    session_token: ClassVar[str | None] = None

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the cookie: the server-side session, not the user id,
        # so that logout and timeouts end it for good.
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def role_label(self) -> str:
        return self.role.label if self.role else _l("未分配角色")

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserSession(db.Model):
    """A login session kept in the database, so every process sees logout and timeouts."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_reason: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    # The user's session epoch at login; a password change raises the user's and ends this one.
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """One of the ten one-time recovery codes of a TOTP enrolment (its keyed hash only)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoleChangeStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class RoleChange(db.Model):
    """A change to or from an admin role, waiting for (or decided by) a second admin (三员分立)."""

    __tablename__ = "role_changes"
    audit_type = "role_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    from_role: Mapped[Role | None] = mapped_column(Enum(Role, native_enum=False, length=16))
    to_role: Mapped[Role | None] = mapped_column(Enum(Role, native_enum=False, length=16))
    status: Mapped[RoleChangeStatus] = mapped_column(
        Enum(RoleChangeStatus, native_enum=False, length=16), default=RoleChangeStatus.pending, index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __mapper_args__ = {"version_id_col": version}


class SecurityPolicy(db.Model):
    """The password and session policy set by the security admin (a single row, id 1)."""

    __tablename__ = "security_policy"
    audit_type = "policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    min_length: Mapped[int] = mapped_column(default=10)
    min_classes: Mapped[int] = mapped_column(default=3)
    forbid_username: Mapped[bool] = mapped_column(Boolean, default=True)
    max_age_days: Mapped[int] = mapped_column(default=90)
    lockout_threshold: Mapped[int] = mapped_column(default=5)
    lockout_minutes: Mapped[int] = mapped_column(default=15)
    idle_minutes: Mapped[int] = mapped_column(default=30)
    absolute_hours: Mapped[int] = mapped_column(default=12)
    # Casework roles that must use TOTP too (comma-separated values); the admin roles always do.
    totp_roles: Mapped[str] = mapped_column(String(255), default="", server_default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


def current_policy() -> SecurityPolicy:
    """The policy row; an unsaved default when the table is still empty. Read once per request
    (kept in ``flask.g``: the session's identity map holds it only while someone refers to it)."""
    if has_request_context() and "_huiyin_policy" in g:
        return g._huiyin_policy
    policy = db.session.get(SecurityPolicy, 1) or SecurityPolicy(
        id=1,
        min_length=10,
        min_classes=3,
        forbid_username=True,
        max_age_days=90,
        lockout_threshold=5,
        lockout_minutes=15,
        idle_minutes=30,
        absolute_hours=12,
        totp_roles="",
    )
    if has_request_context():
        g._huiyin_policy = policy
    return policy
