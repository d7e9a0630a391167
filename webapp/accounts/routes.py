"""Login, logout, password change, language, and each role's home page."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..core.extensions import db
from ..core.gates import public
from ..core.security import safe_next
from . import auth, reset_codes, throttle, totp, totp_routes
from . import home as home_page
from .forms import ChangePasswordForm, LoginForm, ResetWithCodeForm
from .gates import any_user
from .models import User, current_policy
from .passwords import policy_errors, verify_password
from .roles import ROLE_DUTIES

bp = Blueprint("accounts", __name__)

GENERIC_LOGIN_ERROR = _l("用户名或密码错误，或账号暂时被锁定。")



@bp.route("/login", methods=["GET", "POST"])
@public
@throttle.limiter.limit(throttle.login_rate, methods=["POST"])
def login():
    """Log in; the same message for an unknown user, a wrong password and a locked account."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.home"))
    form = LoginForm()
    expired = session.pop("expired", None)
    if form.validate_on_submit():
        result = auth.attempt_login(form.username.data, form.password.data)
        if result.ok and totp.enrolled(result.user):
            totp_routes.begin(result.user, safe_next(request.args.get("next")))
            db.session.commit()
            return redirect(url_for("totp.login_step"))
        if result.ok:
            auth.start_session(result.user)
            notice = reset_codes.take_notice(result.user)
            db.session.commit()
            if notice:
                flash(notice, "warning")
            return redirect(safe_next(request.args.get("next")) or url_for("accounts.home"))
        db.session.commit()  # keep the failure count and audit events
        if result.wait_seconds:
            form.password.errors.append(_("尝试过于频繁，请 %(n)d 秒后再试。", n=result.wait_seconds))
            return (render_template("accounts/login.html", form=form), 429,
                    {"Retry-After": str(result.wait_seconds)})
        form.password.errors.append(str(GENERIC_LOGIN_ERROR))
        return render_template("accounts/login.html", form=form), 200
    return render_template("accounts/login.html", form=form, expired=expired)


@bp.post("/logout")
@any_user
def logout():
    """End the session for good."""
    auth.end_session(current_user._get_current_object())
    db.session.commit()
    flash(_("您已安全退出。"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@any_user
def change_password():
    """Change one's own password under the current policy."""
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors.append(_("当前密码不正确。"))
        else:
            errors = policy_errors(form.new.data, user.username, current_policy())
            if verify_password(user.password_hash, form.new.data):
                errors.append(_("新密码不能与当前密码相同。"))
            if errors:
                form.new.errors.extend(errors)
            else:
                # The other sessions of this user end; this one goes on.
                reset_codes.set_password(user, form.new.data, keep_session=user.session_token,
                                         event="user.password_changed")
                try:
                    db.session.commit()
                except StaleDataError:
                    db.session.rollback()
                    flash(_("账号信息已被他人修改，请重试。"), "error")
                    return redirect(url_for("accounts.change_password"))
                flash(_("密码已修改。"), "success")
                return redirect(url_for("accounts.home"))
    return render_template("accounts/change_password.html", form=form, policy=current_policy())


@bp.route("/login/reset", methods=["GET", "POST"])
@public
def reset_with_code():
    """Set a new password with the one-time code the system admin gave; every session ends."""
    if current_user.is_authenticated:
        return redirect(url_for("accounts.change_password"))
    form = ResetWithCodeForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        try:
            errors = reset_codes.redeem(user, form.code.data, form.new.data)
        except reset_codes.CodeRefused as exc:
            db.session.commit()  # keep the failure count and its audit event
            form.code.errors.append(str(exc))
            return render_template("accounts/reset_with_code.html", form=form), 200
        if errors:
            form.new.errors.extend(errors)
        else:
            try:
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                flash(_("账号信息已被他人修改，请重试。"), "error")
                return redirect(url_for("accounts.reset_with_code"))
            flash(_("新密码已设置，请用新密码登录。"), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_with_code.html", form=form)


@bp.post("/locale")
@public
def set_locale():
    """Switch the interface language (kept on the account when logged in)."""
    lang = request.form.get("lang", "zh_CN")
    if lang not in ("zh_CN", "en"):
        lang = "zh_CN"
    session["lang"] = lang
    if current_user.is_authenticated and current_user.locale != lang:
        current_user.locale = lang
        db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.home"))


@bp.get("/")
@any_user
def home():
    """Each role's home: its counts (each a link to the list behind it), the next things to do
    by deadline, who you are and what your role does."""
    user = current_user._get_current_object()
    counts = home_page.counts_for(user) if user.role else []
    return render_template("accounts/home.html", duties=ROLE_DUTIES, counts=counts,
                           todo=home_page.todo_for(user) if user.role else [])
