"""Login, its throttling (``throttle``: growing delays, never a lock an outsider can set),
server-side sessions and their timeouts.

Sessions and failure counters live in the database, so they hold across processes and hosts;
the throttle's counts live in the limiter's storage (Redis in a multi-process deployment). The
clock is ``core.clock``; tests move it.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_url, login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from ..core import audit, clock
from ..core.extensions import db, login_manager
from . import throttle
from .models import User, UserSession, current_policy
from .passwords import dummy_verify, verify_password

# last_seen_at is written at most this often, to keep reads cheap.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass
class LoginResult:
    ok: bool
    user: User | None = None
    locked: bool = False
    wait_seconds: int = 0  # throttled: this address must wait before trying this account again


def attempt_login(username: str, password: str) -> LoginResult:
    """Check credentials unless this address must still wait; count failures, which only slow
    further tries (``throttle``); audit every outcome.

    The caller commits. The answer never tells whether the username exists.
    """
    policy = current_policy()
    now = clock.now()
    wait = throttle.wait_for(username)
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if wait is not None:
        audit.record("login.failure", obj=user, user=user, result="failure",
                     detail={"username": username[:64], "reason": "throttled", "wait_seconds": wait.seconds})
        return LoginResult(False, wait_seconds=wait.seconds)
    if user is None:
        dummy_verify(password)
        audit.record("login.failure", result="failure", detail={"username": username[:64], "reason": "unknown"})
        throttle.record_failure(username, policy)
        return LoginResult(False)
    if user.locked_until and user.locked_until > now:
        # A lock set before throttling replaced it (or by hand): still honoured until it runs out.
        dummy_verify(password)
        audit.record("login.failure", obj=user, user=user, result="failure", detail={"reason": "locked"})
        return LoginResult(False, locked=True)
    if not verify_password(user.password_hash, password) or not user.is_active_account:
        # Atomic increment: concurrent failures in several processes all count (shown to admins).
        db.session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(user)
        reason = "inactive" if user.is_active_account is False else "password"
        audit.record("login.failure", obj=user, user=user, result="failure", detail={"reason": reason})
        throttle.record_failure(username, policy, user)
        return LoginResult(False)
    # One UPDATE past the row's version (like the failure count above): the same account logging
    # in from two places at once must not make one of them fail on a stale version.
    db.session.execute(
        update(User).where(User.id == user.id).values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user)
    throttle.record_success(username)
    return LoginResult(True, user=user)


def start_session(user: User) -> UserSession:
    """A fresh session at every login (no fixation): clear the cookie and make a new row."""
    session.clear()
    now = clock.now()
    row = UserSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        ip=audit.client_ip(),
        user_agent=(request.user_agent.string or "")[:255],
        epoch=user.session_epoch or 0,
    )
    db.session.add(row)
    user.session_token = row.id
    login_user(user)
    session.permanent = False
    audit.record("login.success", obj=user, user=user, detail={"session": row.id[:8]})
    return row


def end_session(user: User, reason: str = "logout") -> None:
    """End the server-side session for good and clear the cookie."""
    row = db.session.get(UserSession, user.session_token) if user.session_token else None
    if row and row.ended_at is None:
        row.ended_at = clock.now()
        row.ended_reason = reason
    audit.record("logout" if reason == "logout" else f"session.{reason}", obj=user, user=user)
    logout_user()
    session.clear()


@login_manager.unauthorized_handler
def sign_in_first():
    """Someone not signed in asks for a page: the site's own address goes straight to the login
    form (a first visit is not a warning); any other page says why and returns there afterwards."""
    if request.path == "/":
        return redirect(url_for("accounts.login"))
    flash(_("请先登录。"), "info")
    return redirect(login_url("accounts.login", next_url=request.url))


def session_expiry_reason(row: UserSession) -> str | None:
    """'idle' or 'absolute' when the session has timed out under the current policy."""
    policy = current_policy()
    now = clock.now()
    if now - row.created_at > timedelta(hours=policy.absolute_hours):
        return "absolute"
    if now - row.last_seen_at > timedelta(minutes=policy.idle_minutes):
        return "idle"
    return None


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Resolve the cookie's session token; end it when it has timed out."""
    # The session and its user in one statement (every request starts here).
    row = db.session.get(UserSession, token, options=[joinedload(UserSession.user)])
    if row is not None and row.ended_reason == "password":
        session["expired"] = "password"  # ended by a password change elsewhere: say so at login
    if row is None or row.ended_at is not None:
        return None
    user = row.user
    if not user.is_active_account:
        return None
    # A password change since this session began (elsewhere) ends it.
    reason = "password" if (row.epoch or 0) != (user.session_epoch or 0) else session_expiry_reason(row)
    if reason:
        row.ended_at = clock.now()
        row.ended_reason = reason
        audit.record(f"session.{reason}", obj=user, user=user)
        db.session.commit()
        session["expired"] = reason
        return None
    now = clock.now()
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        try:
            db.session.commit()
        except OperationalError:
            # SQLite: a parallel request of the same session holds the write lock; its own touch
            # does the same job, so skip this one rather than fail the page.
            db.session.rollback()
            row = db.session.get(UserSession, token)
            if row is None or row.ended_at is not None:
                return None
            user = row.user
    user.session_token = token
    return user


def password_change_due(user: User) -> bool:
    """True when the user must change the password before doing anything else."""
    if user.is_demo:
        return False
    if user.must_change_password:
        return True
    max_age = current_policy().max_age_days
    if not max_age:  # 0: passwords never expire
        return False
    return clock.now() - user.password_changed_at > timedelta(days=max_age)
