"""Spot checks: draw a sample, record callbacks."""

from flask import Blueprint

bp = Blueprint("spotchecks", __name__, url_prefix="/integrity/spot-checks")
