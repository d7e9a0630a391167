"""Engine set-up that differs per database.

SQLite is the embedded default: WAL with ``synchronous=FULL`` (no acknowledged commit lost on
power loss), foreign keys on, and writing requests open their transaction with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the database lock instead of failing
half-way with SQLITE_BUSY_SNAPSHOT; background tasks that write do the same inside
``writing()`` (``core.tasks`` sets it for them). On PostgreSQL, JIT compilation is off for the app's sessions:
the statistics' grouped queries cross its cost threshold and spent ~40 % of their time compiling
(benchmarks/dashboard.py at 200,000 problems: office dashboard 3.3 s → 2.0 s).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
BUSY_TIMEOUT_MS = 15000  # SQLite: how long a writer waits for the write lock
# None: decide by the request's method; True/False: set by ``writing()``.
_writing: ContextVar[bool | None] = ContextVar("huiyin_writing", default=None)


@contextmanager
def writing(on: bool = True) -> Iterator[None]:
    """Transactions begun inside write (on SQLite: ``BEGIN IMMEDIATE``, as a POST request's do),
    or, with ``on=False``, only read until they write (plain ``BEGIN``), whatever the request.

    For work outside a request that reads and then writes: a deferred SQLite transaction whose
    snapshot is older than another connection's commit may not write at all. A background task
    that reads for long uses ``writing(False)`` so that it does not hold the write lock."""
    token = _writing.set(on)
    try:
        yield
    finally:
        _writing.reset(token)


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
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = _writing.get()
        if immediate is None:
            immediate = has_request_context() and request.method in WRITE_METHODS
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def lock_for_update(query):
    """``SELECT … FOR UPDATE`` on PostgreSQL; SQLite already holds the write lock (see above)."""
    return query.with_for_update()
