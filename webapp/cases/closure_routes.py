"""(being written)"""

from flask import Blueprint

bp = Blueprint("closure", __name__)
