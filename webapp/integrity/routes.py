"""Integrity flags: the scan, the list, review."""

from flask import Blueprint

bp = Blueprint("integrity", __name__, url_prefix="/integrity")
