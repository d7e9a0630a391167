"""``GET /healthz`` for load balancers: the database's state, no data, no login."""

import time

from flask import Blueprint, jsonify
from sqlalchemy import text

from .extensions import db
from .gates import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Answer 200 when the database answers, 503 otherwise."""
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        state = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        state = "unavailable"
    body = {
        "status": "ok" if state == "ok" else "error",
        "database": {"state": state, "latency_ms": round((time.perf_counter() - started) * 1000, 2)},
    }
    return jsonify(body), 200 if state == "ok" else 503
