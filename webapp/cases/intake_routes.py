"""Contact numbers and photos of a problem, for those entitled to them.

* ``reveal_contact`` — the audited "显示完整号码"; ``attachment`` — a photo, to those who may see
  its problem only.

The visit form that registers problems lives with the visits (``visits.intake_routes``).
"""

from pathlib import Path

from flask import Blueprint, abort, current_app, request
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
    att = _visible_attachment(attachment_id)
    try:
        data = uploads.read_bytes(att.stored_name)
    except ValueError:
        abort(404)
    except FileNotFoundError:
        current_app.logger.error("attachment %s: file %s is missing", att.id, att.stored_name)
        abort(404)
    ext = Path(att.stored_name).suffix
    name = att.filename if att.filename.lower().endswith(ext) else f"{Path(att.filename).stem}{ext}"
    # Read whole (at most PHOTO_MAX_BYTES), from whichever store holds it: no file handle
    # outlives the request, whoever forgets to close the response; the stored SHA-256 is the ETag.
    # Only photos are shown in the page; a PDF (or anything else) is handed over as a download,
    # never opened by the browser's viewer.
    inline = att.mime.startswith("image/")
    return uploads.private_file(data, mimetype=att.mime, name=name, etag=att.sha256, download=not inline)


@bp.get("/attachments/<int:attachment_id>/thumb")
@casework
def thumbnail(attachment_id: int):
    """A photo's small JPEG (made on first request for photos stored before thumbnails were kept)."""
    att = _visible_attachment(attachment_id)
    if not att.mime.startswith("image/"):
        abort(404)
    try:
        data = uploads.thumbnail_of(att.stored_name)
    except (ValueError, OSError, uploads.UploadRefused):
        abort(404)
    return uploads.private_file(data, mimetype="image/jpeg", name=f"{Path(att.filename).stem}-缩略图.jpg",
                         etag=f"{att.sha256}-thumb")
