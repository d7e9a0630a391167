"""Per-database engine settings (webapp/core/db.py)."""

import pytest
from sqlalchemy import text

from tests.conftest import PG_URL
from webapp.core.extensions import db


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
def test_postgresql_sessions_run_without_jit(app):
    # The statistics' grouped queries spent ~40 % of their time in JIT compilation (benchmark).
    assert db.session.execute(text("SHOW jit")).scalar() == "off"


@pytest.mark.skipif(bool(PG_URL), reason="SQLite only")
def test_sqlite_runs_in_wal_with_foreign_keys(app):
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
