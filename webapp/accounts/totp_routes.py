"""The TOTP pages: the login's second step, and enrolment (QR code, ten recovery codes).

After a right password, an enrolled account is not logged in yet: the signed session cookie
remembers, for five minutes, whose password was right, and this page asks for the code. An
account that must use TOTP and has not enrolled logs in with the password and is sent to the
enrolment page before anything else (``gates.enforce_gate``).
"""

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import update
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..core import audit
from ..core.extensions import db
from ..core.gates import public
from . import auth, reset_codes, throttle, totp
from .gates import any_user
from .models import User, current_policy

bp = Blueprint("totp", __name__)

PENDING_SECONDS = 300


class CodeForm(FlaskForm):
    code = StringField(_l("6 位验证码"), validators=[DataRequired(_l("请输入验证码。")), Length(max=32)])


class LoginCodeForm(FlaskForm):
    code = StringField(_l("验证码或恢复码"), validators=[DataRequired(_l("请输入验证码。")), Length(max=32)])


def begin(user: User, next_url: str | None) -> None:
    """The password was right: remember whose, for the second step (called by the login view)."""
    session.clear()
    session["mfa"] = {"uid": user.id, "at": int(time.time()), "next": next_url}
    audit.record("login.password_ok", obj=user, user=user, detail={"second_factor": "totp"})


def _pending() -> User | None:
    pending = session.get("mfa")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("uid"))
    return user if user is not None and user.is_active_account and totp.enrolled(user) else None


def _count_failure(user: User) -> bool:
    """A wrong code counts like a wrong password: it slows further tries from this address
    (``throttle``), never locks the account. True when this address must now wait."""
    db.session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(user)
    throttle.record_failure(user.username, current_policy(), user)
    return throttle.wait_for(user.username) is not None


@bp.route("/login/totp", methods=["GET", "POST"])
@public
def login_step():
    """The second step of a login: the authenticator's code (or a recovery code)."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.home"))
    user = _pending()
    if user is None:
        session.pop("mfa", None)
        flash(_("请先输入用户名和密码。"), "info")
        return redirect(url_for("accounts.login"))
    form = LoginCodeForm()
    if form.validate_on_submit():
        try:
            kind = totp.check(user, form.code.data)
        except totp.Refused as exc:
            locked = _count_failure(user)
            db.session.commit()
            if locked:
                session.pop("mfa", None)
                flash(_("用户名或密码错误，或账号暂时被锁定。"), "error")
                return redirect(url_for("accounts.login"))
            form.code.errors.append(str(exc))
            return render_template("accounts/totp_login.html", form=form), 200
        next_url = session.get("mfa", {}).get("next")
        user.failed_logins = 0
        auth.start_session(user)
        notice = reset_codes.take_notice(user)
        left = totp.recovery_codes_left(user) if kind == "recovery" else None
        db.session.commit()
        if notice:
            flash(notice, "warning")
        if left is not None:
            flash(_("已使用一个恢复码，还剩 %(n)s 个。用完前请联系安全管理员重置双因素认证。", n=left), "warning")
        return redirect(next_url or url_for("accounts.home"))
    return render_template("accounts/totp_login.html", form=form)


@bp.route("/account/totp", methods=["GET", "POST"])
@any_user
def enrol():
    """Enrol an authenticator app: scan the QR code, confirm with a code, keep the recovery codes."""
    user = current_user._get_current_object()
    if totp.enrolled(user):
        return render_template("accounts/totp_status.html", required=totp.required(user),
                               left=totp.recovery_codes_left(user))
    secret = session.get("totp_secret")
    if not secret or request.method == "GET":
        secret = session["totp_secret"] = totp.new_secret()
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = totp.enrol(user, secret, form.code.data)
        except totp.Refused as exc:
            form.code.errors.append(str(exc))
        else:
            db.session.commit()
            session.pop("totp_secret", None)
            return render_template("accounts/totp_codes.html", codes=codes)
    return render_template("accounts/totp_enrol.html", form=form, secret=secret, qr=totp.qr_svg(user, secret),
                           required=totp.required(user))
