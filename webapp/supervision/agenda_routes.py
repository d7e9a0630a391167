"""调度会议程: generate a scheduling meeting's agenda and print its packet."""

from flask import Blueprint

bp = Blueprint("agendas", __name__, url_prefix="/supervision/agendas")
