"""(being written)"""

from flask import Blueprint

bp = Blueprint("taskbook", __name__)
