"""The system admin's pages for API keys: the list, a new key (shown once), revocation.

Like temporary passwords, a new key and its webhook secret are kept nowhere but in the answer
to the request that made them (only the key's hash is stored), so that page renders directly.
"""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from .admin_forms import KeyForm, RevokeForm
from .keys import create_client, revoke_client
from .models import ApiClient

bp = Blueprint("api_keys", __name__, url_prefix="/admin/api-keys")
sysadmin_only = roles_required(Role.sysadmin)

nav.register("api_keys.index", _l("接口密钥"))


@bp.get("/")
@sysadmin_only
def index():
    """Every outside system's key: name, scopes, webhook, when made, used and revoked."""
    clients = db.session.scalars(select(ApiClient).order_by(ApiClient.revoked_at.is_not(None), ApiClient.id)).all()
    return render_template("api/index.html", clients=clients, form=RevokeForm())


@bp.route("/new", methods=["GET", "POST"])
@sysadmin_only
def new():
    """Make a key for an outside system; the key and webhook secret are shown this once."""
    form = KeyForm()
    if form.validate_on_submit():
        try:
            made = create_client(name=form.name.data, scopes=form.scopes.data,
                                 webhook_url=form.webhook_url.data, actor=current_user)
            db.session.commit()
        except FieldsInvalid as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                getattr(form, name).errors = [*getattr(form, name).errors, str(message)]
        else:
            return render_template("api/created.html", made=made)
    return render_template("api/new.html", form=form)


@bp.post("/<int:client_id>/revoke")
@sysadmin_only
def revoke(client_id: int):
    """Revoke a key: every later call with it is refused (403)."""
    client = db.session.get(ApiClient, client_id)
    if client is None:
        abort(404)
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        version = form.version.data or ""
        revoke_client(client, current_user, int(version) if version.isdigit() else None)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, Conflict) else _("该接口密钥已被他人修改，请刷新页面后再操作。"), "warning")
        return redirect(url_for("api_keys.index"))
    flash(_("已停用“%(name)s”的接口密钥。", name=client.name), "success")
    return redirect(url_for("api_keys.index"))
