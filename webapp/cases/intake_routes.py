"""Contact numbers and photos of a problem, for those entitled to them.

* ``reveal_contact`` — the audited "显示完整号码"; ``attachment`` — a photo, to those who may see
  its problem only.

The visit form that registers problems lives with the visits (``visits.intake_routes``).
"""

from flask import Blueprint, abort, request
from flask_login import current_user

from ..accounts.gates import roles_required
from ..accounts.roles import CASEWORK_ROLES, Role
from ..core.extensions import db
from ..core.render import render
from ..core.security import safe_next
from . import access, uploads
from . import operations as ops
from .models import Attachment
from .workflow import NotAllowed

bp = Blueprint("intake", __name__)

# Who may ask for a full number at all (DOMAIN §3: the registering cadre, the handling units, the
# office); the operation decides per problem. Group leads and leaders never may (403).
contact_roles = roles_required(Role.cadre, Role.handler, Role.unit_leader, Role.desk, Role.office)
casework = roles_required(*CASEWORK_ROLES)


# ---------------------------------------------------------------- contact numbers and photos



@bp.post("/cases/<int:problem_id>/reveal")
@contact_roles
def reveal_contact(problem_id: int):
    """显示完整号码: the full phone and ID number, for those entitled, always audited."""
    problem = access.get_problem_or_404(problem_id, current_user)
    try:
        ops.reveal_contact(problem, current_user)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    db.session.commit()
    return render("cases/intake/contact.html", block="contact", problem=problem,
                  back=safe_next(request.form.get("next")))


def _visible_attachment(attachment_id: int) -> Attachment:
    att = db.session.get(Attachment, attachment_id)
    if att is None:
        abort(404)
    access.get_problem_or_404(att.problem_id, current_user)
    return att



@bp.get("/attachments/<int:attachment_id>")
@casework
def attachment(attachment_id: int):
    """A photo or document, only to those who may see its problem (404 for everyone else)."""
    return uploads.serve(_visible_attachment(attachment_id), what="attachment")


@bp.get("/attachments/<int:attachment_id>/thumb")
@casework
def thumbnail(attachment_id: int):
    """A photo's small JPEG (made on first request for photos stored before thumbnails were kept)."""
    return uploads.serve_thumbnail(_visible_attachment(attachment_id))
