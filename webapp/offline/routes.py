"""The installable web app: the service worker (served at the site's root so that its scope is
every page) and the cadre's register for offline lookup.

Which pages the phone keeps is decided here, by endpoint name: each entry of ``OFFLINE_PAGES``
that exists in the app and that the user's role may open is listed in the register, and the
service worker stores those pages for this user. The pages themselves only carry a
``data-offline-form`` attribute on the form that may be recorded offline.
"""

from pathlib import Path

from flask import Blueprint, current_app, has_request_context, jsonify, send_file, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..accounts.gates import role_may, roles_required
from ..accounts.roles import Role
from ..core import clock
from ..core.gates import public
from .lookups import register_of

bp = Blueprint("offline", __name__)

# Pages a cadre records on with no signal (the visit-and-problem registration).
OFFLINE_PAGES = ("intake.new_visit", "visits.new_visit", "visits.new")


def offline_pages(user) -> list[str]:
    return [url_for(ep) for ep in OFFLINE_PAGES
            if ep in current_app.view_functions and role_may(user.role, ep)]


@bp.app_context_processor
def _offline_context():
    """What base.html hands the page script: who is logged in, and where the register is."""
    if not has_request_context():
        return {}  # documents rendered by the task queue
    user = current_user if current_user and current_user.is_authenticated else None
    lookup = None
    if user is not None and role_may(user.role, "offline.lookup"):
        lookup = url_for("offline.lookup")
    return {"offline": {"user": user.id if user is not None else "", "lookup": lookup,
                        "sw": url_for("offline.service_worker")}}


@bp.get("/sw.js")
@public
def service_worker():
    """The service worker script. It holds no data; served from the root so it may control every
    page (``Service-Worker-Allowed``), never cached by the browser so an update reaches phones."""
    path = Path(current_app.static_folder) / "sw.js"
    response = send_file(path, mimetype="text/javascript", max_age=0, conditional=True)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline/register.json")
@roles_required(Role.cadre)
def lookup():
    """The cadre's own register for the phone: what they may pick on the intake pages, the pages
    to keep, and a CSRF token for sending what was recorded offline."""
    return jsonify({
        "user": current_user.id,
        "generated_at": clock.now().isoformat(),
        "csrf_token": generate_csrf(),
        "pages": offline_pages(current_user),
        **register_of(current_user),
    })
