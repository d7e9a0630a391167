"""Engine set-up that differs per database.

SQLite is the embedded default: WAL with ``synchronous=FULL`` (no acknowledged commit lost on
power loss), foreign keys on, and writing requests open their transaction with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the database lock instead of failing
half-way with SQLITE_BUSY_SNAPSHOT. On PostgreSQL, JIT compilation is off for the app's sessions:
the statistics' grouped queries cross its cost threshold and spent ~40 % of their time compiling
(benchmarks/dashboard.py at 200,000 problems: office dashboard 3.3 s → 2.0 s).
"""

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def configure_engine(engine: Engine) -> None:
    """Install the per-dialect connection hooks on ``engine``."""
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _pg_on_connect(dbapi_conn, _record):
            with dbapi_conn.cursor() as cur:
                cur.execute("SET jit = off")
            dbapi_conn.commit()
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy (not the driver) decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = has_request_context() and request.method in WRITE_METHODS
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def lock_for_update(query):
    """``SELECT … FOR UPDATE`` on PostgreSQL; SQLite already holds the write lock (see above)."""
    return query.with_for_update()
