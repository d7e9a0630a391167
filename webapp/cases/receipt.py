"""(being written)"""

from flask import Blueprint

bp = Blueprint("receipt", __name__)
