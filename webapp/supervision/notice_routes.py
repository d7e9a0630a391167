"""督办单 (supervision notices): issue, answer, list, print."""

from flask import Blueprint

bp = Blueprint("notices", __name__, url_prefix="/supervision/notices")
