"""Photos taken at a visit, for those who may read the visit (404 for everyone else).

Files are kept by ``cases.uploads`` in the upload store (``core.storage``: random names, a
thumbnail beside each photo) and served never cached, never sniffed into another type.
"""


from flask import Blueprint, abort
from flask_login import current_user
from sqlalchemy import select

from ..cases import uploads
from ..core.extensions import db
from .access import visit_scope
from .intake_routes import visit_readers
from .models import Visit, VisitPhoto

bp = Blueprint("visit_photos", __name__)


def _visible_photo(photo_id: int) -> VisitPhoto:
    photo = db.session.scalar(select(VisitPhoto).join(Visit, Visit.id == VisitPhoto.visit_id)
                              .where(VisitPhoto.id == photo_id, visit_scope(current_user)))
    if photo is None:
        abort(404)
    return photo



@bp.get("/cases/visits/photos/<int:photo_id>")
@visit_readers
def photo(photo_id: int):
    """The photo itself (re-encoded at upload: no location or other metadata)."""
    return uploads.serve(_visible_photo(photo_id), what="visit photo")


@bp.get("/cases/visits/photos/<int:photo_id>/thumb")
@visit_readers
def thumbnail(photo_id: int):
    """The photo's small JPEG (remade from the photo if it went missing)."""
    return uploads.serve_thumbnail(_visible_photo(photo_id))
