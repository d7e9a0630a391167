"""问责 records against units."""

from flask import Blueprint

bp = Blueprint("accountability", __name__, url_prefix="/integrity/accountability")
