"""Pages: the inbox (every account), one's channels, and for the office the rules per kind,
the outbox (what would have been sent) and the failed deliveries with a resend button."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..accounts import home, nav
from ..accounts.gates import any_user, roles_required
from ..accounts.roles import Role
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from ..core.render import render
from . import operations, queries
from .emit import rule_for
from .kinds import CHANNEL_LABELS, CHANNELS, KINDS, TARGETS
from .models import Contact, Delivery, DeliveryStatus

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

nav.register("notifications.inbox", _l("消息"))
nav.register("notifications.outbox", _l("通知发送"))


def _int(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@bp.get("")
@any_user
def inbox():
    """The person's notifications, newest first, unread in bold; filter by kind."""
    page = queries.inbox(current_user.id, kind=request.args.get("kind") or None, before=_int("before"))
    return render("notifications/inbox.html", block="list", page=page, kinds=KINDS)


@bp.get("/<int:notification_id>")
@any_user
def open_(notification_id: int):
    """Open one of one's notifications: read now, on to what it is about."""
    n = queries.get_own(notification_id, current_user.id)
    if n is None:
        abort(404)
    operations.mark_read(n)
    db.session.commit()
    if n.target_type in TARGETS and n.target_id is not None:
        endpoint, arg = TARGETS[n.target_type]
        return redirect(url_for(endpoint, **{arg: n.target_id}))
    return redirect(url_for("notifications.inbox"))


@bp.post("/read-all")
@any_user
def read_all():
    """Mark all (of one kind, when filtered) read."""
    kind = request.form.get("kind") or None
    count = operations.mark_all_read(current_user._get_current_object(), kind=kind)
    db.session.commit()
    flash(_("已将 %(n)d 条消息标为已读。", n=count), "success")
    return redirect(url_for("notifications.inbox", kind=kind) if kind in KINDS else url_for("notifications.inbox"))


def _allowed_by_kind() -> dict[str, list[str]]:
    return {code: rule_for(code)[0] for code in KINDS}


@bp.route("/preferences", methods=["GET", "POST"])
@any_user
def preferences():
    """Which channels one wants per kind, within what the office allows; one's e-mail address."""
    allowed = _allowed_by_kind()
    contact = db.session.get(Contact, current_user.id)
    chosen = {code: rule_for(code)[1] for code in KINDS} | queries.preferences(current_user.id)
    email = contact.email if contact else ""
    errors = {}
    if request.method == "POST":
        choices = {code: request.form.getlist(f"ch-{code}") for code in KINDS if allowed[code]}
        email = request.form.get("email", "")
        try:
            operations.save_preferences(current_user._get_current_object(), choices, email, allowed)
        except FieldsInvalid as exc:
            db.session.rollback()
            errors = exc.errors
            chosen |= choices
        else:
            db.session.commit()
            flash(_("通知方式已保存。"), "success")
            return redirect(url_for("notifications.preferences"))
    return render("notifications/preferences.html", kinds=KINDS, allowed=allowed, chosen=chosen,
                  email=email or "", errors=errors, channels=CHANNELS, channel_labels=CHANNEL_LABELS,
                  phone=current_user.phone)


@bp.route("/rules", methods=["GET", "POST"])
@roles_required(Role.office)
def rules():
    """The office's rule per kind: channels allowed, channels by default, urgent (quiet hours)."""
    from .models import KindRule

    if request.method == "POST":
        submitted = {code: (request.form.getlist(f"allow-{code}"), request.form.getlist(f"default-{code}"),
                            request.form.get(f"urgent-{code}") == "1") for code in KINDS}
        versions = {code: int(v) for code in KINDS
                    if (v := request.form.get(f"version-{code}", "")).isdigit()}
        try:
            operations.save_rules(current_user._get_current_object(), submitted, versions)
        except Conflict as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("notifications.rules")), 303
        db.session.commit()
        flash(_("通知规则已保存。"), "success")
        return redirect(url_for("notifications.rules"))
    rows = {code: rule_for(code) for code in KINDS}
    versions = {r.kind: r.version for r in db.session.query(KindRule).all()}
    return render("notifications/rules.html", kinds=KINDS, rows=rows, versions=versions,
                  channels=CHANNELS, channel_labels=CHANNEL_LABELS)


STATUS_LABELS = {
    "queued": _l("排队中"), "held": _l("暂缓（夜间或限速）"), "sent": _l("已发送"),
    "failed": _l("失败"), "outbox": _l("仅记录"),
}
OUTBOX_TABS = {
    "outbox": ((DeliveryStatus.outbox,), _l("未配置渠道（仅记录）")),
    "pending": ((DeliveryStatus.queued, DeliveryStatus.held), _l("待发送")),
    "sent": ((DeliveryStatus.sent,), _l("已发送")),
    "failed": ((DeliveryStatus.failed,), _l("发送失败")),
}


@bp.get("/outbox")
@roles_required(Role.office)
def outbox():
    """What went, waits, failed, or would have been sent (no adapter configured)."""
    tab = request.args.get("tab", "outbox")
    if tab not in OUTBOX_TABS:
        tab = "outbox"
    rows, next_before = queries.deliveries(OUTBOX_TABS[tab][0], before=_int("before"))
    counts = queries.delivery_counts()
    tab_counts = {key: sum(counts.get(str(s), 0) for s in statuses) for key, (statuses, _label) in OUTBOX_TABS.items()}
    return render("notifications/outbox.html", rows=rows, next_before=next_before, tab=tab,
                  tabs=OUTBOX_TABS, tab_counts=tab_counts, counts=counts, channel_labels=CHANNEL_LABELS,
                  status_labels=STATUS_LABELS, kinds=KINDS)


@bp.post("/deliveries/<int:delivery_id>/resend")
@roles_required(Role.office)
def resend(delivery_id: int):
    """Send a failed delivery again."""
    d = db.session.get(Delivery, delivery_id)
    if d is None:
        abort(404)
    try:
        operations.resend(d, current_user._get_current_object())
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("notifications.outbox", tab="failed"))
    db.session.commit()
    flash(_("已重新排队发送。"), "success")
    return redirect(url_for("notifications.outbox", tab="failed"))


@home.counts
def _home_counts(user) -> list[home.Count]:
    """Unread messages for everyone; failed deliveries for the office."""
    out = [home.Count("unread", _l("未读消息"), queries.unread_count(user.id), url_for("notifications.inbox"))]
    if user.role == Role.office:
        failed = queries.delivery_counts().get("failed", 0)
        out.append(home.Count("failed", _l("发送失败"), failed, url_for("notifications.outbox", tab="failed"), True))
    return out
