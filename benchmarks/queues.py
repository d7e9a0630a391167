#!/usr/bin/env python3
"""Benchmark of the work queues at 1,000, 10,000, 50,000 and 200,000 problems (a script, not a test).

What it does, in one run, at each size in turn (``--sizes``, smallest first):

1. Builds a fresh database through the migrations with the demo organisation, the demo accounts
   and the demo problems (``flask setup``'s path), then fills it with bulk inserts (SQLAlchemy
   Core, not the per-row operations) up to the size: realistic spread over statuses, work groups,
   villages, categories, towns, district departments and the 12345 desk, with assignments and
   their units, coordinated lists, merged problems, overdue and due-soon deadlines — and the CHECK
   constraints kept. The bulk rows bypass the ORM, so the queues' counters are rebuilt after each
   fill (``cases.counts.rebuild``, what ``flask counts rebuild`` does).
2. Counts the SQL statements each queue page runs, in process (Flask test client, a SQLAlchemy
   ``before_cursor_execute`` listener): they must be equal at every size.
3. Runs EXPLAIN on every statement of every queue page and flags table scans of ``problems`` and
   ``assignment_units`` (the indexes the queue queries need); the plans go to ``explain-*.txt``.
4. Serves the app with gunicorn (2 sync workers, 127.0.0.1, a free port) and, in the same run,
   a bare "hello" app (``benchmarks/hello.py``) with the same settings; logs in once per role
   (CSRF token from the login form, session cookie) and measures requests per second, p95 and
   p99 of each queue page, the problem page, the search by number and by title, and the office
   dashboard (``/stats``) against hello, with ``wrk`` when installed (a Lua script reports the
   percentiles and counts non-200 answers) or else a bounded Python thread load generator.
   At the end: the cost curve — each figure at every size.

Usage::

    .venv/bin/python benchmarks/queues.py --duration 5            # SQLite file in a temp folder
    createdb -h 127.0.0.1 -U postgres huiyin_bench_scale
    .venv/bin/python benchmarks/queues.py --duration 5 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench_scale
    dropdb -h 127.0.0.1 -U postgres huiyin_bench_scale

A PostgreSQL database must be empty (or be named ``*bench*``, which the script empties first).
Only 127.0.0.1 is ever contacted; every load run is bounded by ``--duration``.

If the queue route (``cases.queue``) does not exist, the script measures the query functions
(``cases.queries.queue`` and ``counters``) in process instead and says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from webapp.cases.search import terms as search_terms  # noqa: E402 - pure (no app needed)

PASSWORD = "Huiyin@2026"  # noqa: S105 - the published demo password
# role → (demo account, queue tab); each page is /cases?tab=<tab>
PAGES = [
    ("cadre", "cadre", "open"),
    ("grouplead", "grouplead", "to_triage"),
    ("town", "town", "to_sign"),
    ("dept", "dept", "to_sign"),
    ("desk", "desk", "to_sign"),
    ("office", "office", "listed"),
    ("office-all", "office", "all"),
    ("office-overdue", "office", "overdue"),
]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ============================================================ the database


def make_app(url: str, instance: Path):
    os.environ["HUIYIN_INSTANCE"] = str(instance)
    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(instance / "uploads")})


def prepare_postgres(url: str) -> None:
    """Refuse a non-empty database unless its name says it is a benchmark database (then empty it)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    name = engine.url.database or ""
    with engine.begin() as conn:
        tables = conn.execute(sa.text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")).scalar()
        if tables:
            if "bench" not in name:
                sys.exit(f"database {name!r} is not empty; use an empty one or one named *bench*")
            log(f"emptying benchmark database {name}")
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def setup_database(app) -> None:
    """Migrations, demo organisation, accounts and demo problems — what `flask setup` does."""
    from flask_migrate import upgrade

    from webapp.core.extensions import db
    from webapp.demo.cases import load_demo_cases
    from webapp.demo.org import load_demo

    with app.app_context():
        upgrade()
        load_demo()
        load_demo_cases()
        db.session.commit()


@dataclass
class Tree:
    """The units and people the bulk rows refer to."""

    groups: list[dict]  # territory id, group id, villages, cadre, group lead
    departments: list[int]
    desk: int
    office: int
    categories: list[int]
    year: int
    today: object
    office_user: int
    # unit id → one of its handlers and one of its leaders (who asked for and approved a sign-off)
    handlers: dict = field(default_factory=dict)
    leaders: dict = field(default_factory=dict)


def load_tree(app) -> Tree:
    from sqlalchemy import select

    from webapp.accounts.models import User
    from webapp.accounts.roles import Role
    from webapp.cases.models import Category
    from webapp.core import clock
    from webapp.core.extensions import db
    from webapp.org.models import TERRITORIAL, Unit, UnitKind

    with app.app_context():
        units = db.session.scalars(select(Unit).where(Unit.is_active.is_(True))).all()
        users = db.session.scalars(select(User)).all()
        groups = []
        for g in (u for u in units if u.kind == UnitKind.work_group):
            territory = next(t for t in g.covered_units if t.kind in TERRITORIAL)
            villages = [v.id for v in units if v.kind == UnitKind.village and v.parent_id == territory.id]
            cadres = [u.id for u in users if u.unit_id == g.id and u.role == Role.cadre]
            leads = [u.id for u in users if u.unit_id == g.id and u.role == Role.group_lead]
            if villages and cadres:
                groups.append({"territory": territory.id, "group": g.id, "villages": villages,
                               "cadres": cadres, "lead": (leads or cadres)[0]})
        tree = Tree(
            groups=groups,
            departments=[u.id for u in units if u.kind == UnitKind.department],
            desk=next(u.id for u in units if u.kind == UnitKind.desk),
            office=next(u.id for u in units if u.kind == UnitKind.office),
            categories=list(db.session.scalars(select(Category.id))),
            year=clock.today().year, today=clock.today(),
            office_user=next(u.id for u in users if u.role == Role.office),
            handlers={u.unit_id: u.id for u in users if u.role in (Role.handler, Role.desk)},
            leaders={u.unit_id: u.id for u in users if u.role == Role.unit_leader},
        )
        return tree


# status → share of the problems (a campaign some months in: most problems handled or closed)
STATUS_WEIGHTS = {
    "registered": 6, "returned": 1, "listed": 4, "assigned": 8, "accepted": 12, "plan_review": 2,
    "in_progress": 18, "signoff_review": 2, "pending_verification": 4, "cannot_solve_review": 1,
    "signed_off": 4, "closed": 30, "not_accepted": 3, "merged": 2, "cannot_solve": 3,
}
HANDLING = {"assigned", "accepted", "plan_review", "in_progress", "signoff_review", "cannot_solve_review"}
ASSIGNED_LATER = HANDLING | {"pending_verification", "signed_off", "closed", "cannot_solve"}
TIER_DAYS = {"immediate": 3, "quick": 15, "joint": 40}


FILLED = ("problems", "assignments", "assignment_units", "closures")


def loading_engine(url: str):
    """A plain engine for loading (no app hooks); SQLite without foreign-key enforcement while
    loading — checked as a whole afterwards (``PRAGMA foreign_key_check``)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA foreign_keys=OFF")
            dbapi_conn.execute("PRAGMA synchronous=OFF")
    return engine


@contextmanager
def bulk_load(engine, tables: tuple[str, ...] = FILLED):
    """The documented fast path for bulk loads: drop the secondary indexes (and, on PostgreSQL, the
    foreign keys) of the filled tables, load, then recreate them from their saved definitions —
    the schema is the same afterwards (checked), and every foreign key is validated again.
    (``tables``: the tables being filled; benchmarks/dashboard.py also fills the timeline.)"""
    sqlite = engine.dialect.name == "sqlite"

    def rows(sql):
        stmt = sa.text(sql).bindparams(sa.bindparam("tables", expanding=True))
        return conn.execute(stmt, {"tables": list(tables)}).all()

    with engine.begin() as conn:
        if sqlite:
            indexes = rows("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                           "AND tbl_name IN :tables")
            fks = []
        else:
            indexes = rows("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                           "AND tablename IN :tables AND indexname NOT IN (SELECT conname FROM pg_constraint)")
            fks = rows("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE contype = 'f' AND conrelid::regclass::text IN :tables")
            for table, name, _definition in fks:
                conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ddl in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with engine.begin() as conn:
            for _name, ddl in indexes:
                conn.exec_driver_sql(ddl)
            for table, name, definition in fks:
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the bulk load: {broken[:5]}")


def check_schema(app) -> None:
    """The database still matches the models (indexes and constraints recreated exactly)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from webapp.cases.search import include_name
    from webapp.core.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), db.metadata)
    if diff:
        raise RuntimeError(f"the schema differs from the models after the bulk load: {diff}")


class Filler:
    """Bulk rows through SQLAlchemy Core, in chunks, with ids assigned here."""

    CHUNK = 5000

    def __init__(self, app, url: str, tree: Tree, seed: int = 2017):
        from webapp.demo import cases as demo

        self.app, self.url, self.tree = app, url, tree
        self.rng = random.Random(seed)  # noqa: S311 - benchmark data
        self.templates = demo.TOWN + demo.DESK + demo.DISTRICT
        self.names = [s + g for s in demo.SURNAMES[:40] for g in demo.GIVEN[:30]]
        self.lists: dict[int, dict[str, list[int]]] = {}

    def tables(self):
        from webapp.cases import models as m
        from webapp.core.numbering import NumberSequence
        from webapp.handling.models import Closure

        return (m.Problem.__table__, m.Assignment.__table__, m.AssignmentUnit.__table__,
                m.CoordinatedList.__table__, NumberSequence.__table__, Closure.__table__)

    def fill_to(self, total: int) -> float:
        """Add problems until there are ``total``; returns the seconds it took. Inside the app's
        context: the residents' phone and ID numbers are sealed with its keys (``core.pii``)."""
        with self.app.app_context():
            return self._fill_to(total)

    def _fill_to(self, total: int) -> float:
        from webapp.core import pii

        started = time.perf_counter()
        problems, assignments, parts, lists, numbers, closures = self.tables()
        engine = loading_engine(self.url)
        try:
            with engine.begin() as conn:
                have = conn.execute(sa.select(sa.func.count()).select_from(problems)).scalar()
                if have >= total:
                    return 0.0
                next_pid = (conn.execute(sa.select(sa.func.max(problems.c.id))).scalar() or 0) + 1
                next_aid = (conn.execute(sa.select(sa.func.max(assignments.c.id))).scalar() or 0) + 1
                next_seq = (conn.execute(sa.select(sa.func.max(problems.c.seq)).where(
                    problems.c.year == self.tree.year)).scalar() or 0) + 1
                if not self.lists:
                    self._make_lists(conn, lists)
            n = total - have
            t_load = time.perf_counter()
            with bulk_load(engine):
                p_rows, a_rows, u_rows, c_rows = [], [], [], []
                for i in range(n):
                    p, a, u, c = self._problem(next_pid, next_aid, next_seq)
                    p_rows.append(p)
                    a_rows += a
                    u_rows += u
                    c_rows += c
                    next_pid, next_seq, next_aid = next_pid + 1, next_seq + 1, next_aid + len(a)
                    if len(p_rows) >= self.CHUNK or i == n - 1:
                        with engine.begin() as conn:
                            conn.execute(problems.insert(), pii.with_blind_indexes(problems, p_rows))
                            if a_rows:
                                conn.execute(assignments.insert(), a_rows)
                            if u_rows:
                                conn.execute(parts.insert(), u_rows)
                            if c_rows:
                                conn.execute(closures.insert(), c_rows)
                        p_rows, a_rows, u_rows, c_rows = [], [], [], []
            log(f"  {n:,} rows with indexes rebuilt in {time.perf_counter() - t_load:.1f} s")
            with engine.begin() as conn:
                conn.execute(numbers.delete().where(numbers.c.kind == "problem", numbers.c.year == self.tree.year))
                conn.execute(numbers.insert().values(kind="problem", year=self.tree.year, last=next_seq - 1))
                if engine.dialect.name == "postgresql":
                    for table in ("problems", "assignments", "assignment_units", "coordinated_lists", "closures"):
                        # Fixed table names, not input.
                        conn.execute(sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))  # noqa: S608
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE"))  # what autovacuum does after a bulk load
        finally:
            engine.dispose()
        return time.perf_counter() - started

    def _make_lists(self, conn, lists) -> None:
        """Per work group: a draft list, two submitted ones, and assigned ones."""
        now = datetime.now(UTC)
        n = 0
        for g in self.tree.groups:
            self.lists[g["group"]] = {}
            for status, count in (("draft", 1), ("submitted", 2), ("assigned", 6)):
                for _ in range(count):
                    n += 1
                    row = {"number": None if status == "draft" else f"贾走访清〔{self.tree.year}〕B{n:05d}号",
                           "work_group_id": g["group"], "title": "统筹交办问题清单（基准测试）", "status": status,
                           "created_by_id": g["lead"], "created_at": now - timedelta(days=30),
                           "submitted_at": None if status == "draft" else now - timedelta(days=20), "version": 1}
                    list_id = conn.execute(lists.insert().values(**row).returning(lists.c.id)).scalar()
                    self.lists[g["group"]].setdefault(status, []).append(list_id)

    def _problem(self, pid: int, aid: int, seq: int):
        rng, tree = self.rng, self.tree
        g = rng.choice(tree.groups)
        status = rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]
        tpl = rng.choice(self.templates)
        now = datetime.now(UTC)
        # Open problems are recent; ended ones spread over the campaign.
        age = rng.uniform(0, 45) if status in HANDLING | {"registered", "returned", "listed"} else rng.uniform(0, 240)
        registered_at = now - timedelta(days=age, minutes=rng.randint(0, 600))
        name = rng.choice(self.names)
        village = rng.choice(g["villages"])
        tier = "immediate" if tpl.tier == "immediate" else rng.choice(["quick", "quick", "joint"])
        common = tpl.dept is not None
        p = {
            "id": pid, "year": tree.year, "seq": seq, "number": f"贾走访〔{tree.year}〕{seq:05d}号",
            "receipt_no": f"B{pid:09d}", "visit_id": None, "work_group_id": g["group"],
            "registered_by_id": rng.choice(g["cadres"]), "village_id": village, "town_id": g["territory"],
            "resident_name": name, "resident_phone": f"1390516{rng.randint(0, 9999):04d}",
            "resident_id_number": None, "household_name": f"{name}家", "address": f"{rng.randint(1, 8)}组{rng.randint(1, 60)}号",
            "category_id": rng.choice(tree.categories), "title": tpl.title,
            "search_terms": search_terms(tpl.title, name, f"{name}家", tree.year, seq),
            "description": tpl.description.format(village="本村", name=name, household=f"{name}家"),
            "source": "visit", "status": status, "kind": None, "level": None, "tier": None,
            "deadline": None, "sign_for_deadline": None, "lead_unit_id": None, "assigner_unit_id": None,
            "current_assignment_id": None, "coordinated_list_id": None, "merged_into_id": None,
            "end_reason": None, "registered_at": registered_at, "assigned_at": None, "accepted_at": None,
            "solved_at": None, "closed_at": None, "updated_at": registered_at, "reopen_count": 0,
            "client_token": None, "version": 1,
        }
        assignments, parts, closures = [], [], []
        if status == "listed":
            kind = rng.choice(["draft", "submitted"])
            p.update(kind="common", level="district", tier=tier,
                     coordinated_list_id=rng.choice(self.lists[g["group"]][kind]))
        elif status == "merged":
            p.update(merged_into_id=rng.randint(1, pid - 1) if pid > 1 else None, end_reason="重复问题，合并办理")
            if p["merged_into_id"] is None:
                p["status"] = "registered"
        elif status in ("not_accepted",):
            p.update(end_reason="不属于受理范围，已向群众解释。", tier=tier, kind="individual", level="town")
        elif status == "pending_verification" and rng.random() < 0.3:  # resolved on the spot
            p.update(tier="immediate", kind="individual", level="town", assigner_unit_id=g["group"])
            closures.append(self._closure(pid, "on_spot", "verifying", g["group"], g["lead"], g["lead"],
                                          registered_at))
        elif status in ASSIGNED_LATER or status == "returned":
            channel = "office" if common or rng.random() < 0.2 else ("desk" if rng.random() < 0.12 else "sheet")
            assigned_at = min(registered_at + timedelta(hours=rng.uniform(4, 96)), now - timedelta(minutes=5))
            if channel == "office":
                lead = rng.choice(tree.departments)
                coop = rng.sample([d for d in tree.departments if d != lead], rng.choice([0, 0, 1, 2]))
                assigner, assigner_user = tree.office, tree.office_user
                p.update(kind="common", level="district",
                         coordinated_list_id=rng.choice(self.lists[g["group"]]["assigned"]))
            else:
                lead = tree.desk if channel == "desk" else g["territory"]
                coop = rng.sample(tree.departments, 1) if channel == "sheet" and rng.random() < 0.15 else []
                assigner, assigner_user = g["group"], g["lead"]
                p.update(kind="individual", level="town")
            days = TIER_DAYS[tier] * 7 // 5 + 1
            deadline = (assigned_at + timedelta(days=days)).date()
            if status in HANDLING:  # about one in eight open problems is overdue
                left = -rng.randint(1, 20) if rng.random() < 0.12 else rng.randint(0, days)
                deadline = tree.today + timedelta(days=left)
                assigned_at = min(now - timedelta(days=days - left, hours=rng.uniform(0, 12)),
                                  now - timedelta(minutes=5))
                registered_at = assigned_at - timedelta(hours=rng.uniform(4, 96))
                p["registered_at"] = registered_at
            sign_by = (assigned_at + timedelta(days=1 if assigned_at.weekday() < 4 else 3)).date()
            current = status != "returned"
            signed = status != "assigned" and status != "returned"
            assignments.append({
                "id": aid, "problem_id": pid, "channel": channel,
                "number": f"贾走访交〔{tree.year}〕B{aid:07d}号", "assigner_unit_id": assigner,
                "assigned_by_id": assigner_user, "assigned_at": assigned_at, "deadline": deadline,
                "sign_for_deadline": sign_by, "requirements": "请按时办理。", "is_current": current,
                "ended_at": None if current else assigned_at + timedelta(hours=20), "client_token": None,
            })
            accepted_at = assigned_at + timedelta(hours=rng.uniform(1, 20)) if signed else None
            for role, unit in [("lead", lead)] + [("cooperating", c) for c in coop]:
                if status == "returned":
                    part = "returned" if role == "lead" else "withdrawn"
                elif status == "assigned":
                    part = "pending" if role == "lead" or rng.random() < 0.5 else "accepted"
                else:
                    part = "accepted"
                parts.append({
                    "assignment_id": aid, "problem_id": pid, "unit_id": unit, "role": role, "status": part,
                    "is_current": current, "signed_by_id": None, "returned_reason": "不属于本单位职责" if part == "returned" else None,
                    "signed_at": accepted_at if part == "accepted" else None, "version": 1,
                })
            p.update(tier=tier, assigner_unit_id=assigner, assigned_at=assigned_at, updated_at=accepted_at or assigned_at)
            if current:
                p.update(lead_unit_id=lead, deadline=deadline, sign_for_deadline=sign_by, accepted_at=accepted_at,
                         current_assignment_id=aid)
            if status in ("signed_off", "closed"):
                p["solved_at"] = min(assigned_at + timedelta(days=rng.uniform(1, days)), now)
            if status == "closed":
                p["closed_at"] = p["solved_at"] + timedelta(days=1)
            if status == "cannot_solve":
                p["end_reason"] = "涉及政策调整，暂难解决，已向群众说明。"
            if status in ("signoff_review", "pending_verification"):  # the 销号 request waiting
                asked = min(accepted_at + timedelta(days=rng.uniform(1, 5)), now - timedelta(minutes=3))
                closures.append(self._closure(
                    pid, "signoff", "leader_review" if status == "signoff_review" else "verifying", lead,
                    tree.handlers.get(lead, assigner_user),
                    None if status == "signoff_review" else tree.leaders.get(lead, assigner_user), asked))
        return p, assignments, parts, closures

    def _closure(self, pid: int, kind: str, status: str, unit: int, asked_by: int, leader: int | None,
                 asked_at: datetime) -> dict:
        """The closure a problem waiting for its leader's approval or for verification carries."""
        return {
            "problem_id": pid, "kind": kind, "status": status, "unit_id": unit,
            "result": "已按要求办结，群众表示认可。（基准测试）", "reason_kind": None,
            "no_evidence_reason": "电话协调解决，无书面材料。", "open_parts_reason": None, "open_steps": None,
            "number": f"贾走访销〔{self.tree.year}〕B{pid:07d}号", "completed_on": asked_at.date(),
            "requested_by_id": asked_by, "requested_at": asked_at, "leader_id": leader,
            "leader_at": asked_at + timedelta(minutes=2) if leader else None, "leader_note": None,
            "verifier_id": None, "verifier_unit_id": None, "verified_at": None, "verifier_note": None,
        }


# ============================================================ pages in process: queries and EXPLAIN


@dataclass
class Capture:
    statements: list = field(default_factory=list)  # (sql, params, seconds)


@contextmanager
def capture(engine):
    cap = Capture()
    starts = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        starts[id(cursor)] = (time.perf_counter(), statement, parameters)

    def after(conn, cursor, statement, parameters, context, executemany):
        t0, stmt, params = starts.pop(id(cursor), (time.perf_counter(), statement, parameters))
        cap.statements.append((stmt, params, time.perf_counter() - t0))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield cap
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


FORCE_QUERY_FUNCTIONS = False  # --query-functions: measure queries.queue()/counters() even with the route


def has_queue_route(app) -> bool:
    return "cases.queue" in app.view_functions and not FORCE_QUERY_FUNCTIONS


def login_test_client(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if resp.status_code != 302:
        raise RuntimeError(f"login as {username} failed in process: HTTP {resp.status_code}")
    return client


def measure_in_process(app) -> dict:
    """Statements (and their time) of each queue page, after one warm-up request."""
    from webapp.core.extensions import db

    with app.app_context():
        engine = db.engine
    out = {}
    route = has_queue_route(app)
    for label, username, tab in PAGES:
        if route:
            # A fresh session per page: the session's last-seen time is written once a minute
            # (accounts.auth.TOUCH_EVERY), which would add statements to one request of the three.
            client = login_test_client(app, username)
            path = f"/cases?tab={tab}"
            assert client.get(path).status_code == 200, f"{path} as {username}"
            times, counts = [], set()
            for _ in range(3):  # the median of three requests
                with capture(engine) as cap:
                    t0 = time.perf_counter()
                    resp = client.get(path)
                    times.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise RuntimeError(f"{path} as {username}: HTTP {resp.status_code}")
                counts.add(len(cap.statements))
            if len(counts) != 1:
                raise RuntimeError(f"{path} as {username}: the statement count varies between requests: {counts}")
            elapsed = statistics.median(times)
        else:
            cap, elapsed = _queries_directly(app, engine, username, tab)
        out[label] = {"queries": len(cap.statements), "seconds": elapsed, "statements": cap.statements}
    return out


def _queries_directly(app, engine, username, tab):
    """Without the route: the query functions the route would call (queue + counters)."""
    from sqlalchemy import select

    from webapp.accounts.models import User
    from webapp.cases import queries
    from webapp.core.extensions import db

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        f = queries.QueueFilter(tab=tab)
        queries.queue(user, f), queries.counters(user)  # warm-up
        db.session.expire_all()
        with capture(engine) as cap:
            t0 = time.perf_counter()
            queries.queue(user, f)
            queries.counters(user)
            elapsed = time.perf_counter() - t0
    return cap, elapsed


def explain(app, statements) -> list[dict]:
    """EXPLAIN every statement that reads ``problems``; flag full scans of it."""
    from webapp.core.extensions import db

    plans = []
    with app.app_context():
        engine = db.engine
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            for stmt, params, seconds in statements:
                if "problems" not in stmt or not stmt.lstrip().upper().startswith("SELECT"):
                    continue
                prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
                rows = conn.exec_driver_sql(prefix + stmt, params).all()
                text = "\n".join(" | ".join(str(c) for c in (r[1:] if sqlite else r)) for r in rows)
                if sqlite:
                    scan = [r[-1] for r in rows if re.match(r"SCAN (problems|assignment_units)\b", r[-1])
                            and "INDEX" not in r[-1]]
                else:
                    scan = [line for line in text.splitlines() if re.search(r"Seq Scan on (problems|assignment_units)", line)]
                plans.append({"sql": stmt, "seconds": seconds, "plan": text, "full_scans": scan,
                              "indexes": sorted(set(re.findall(r"\b(ix_problems_\w+)", text)))})
    return plans


# ============================================================ serving and load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, target: str, env: dict, workers: int, log_path: Path):
        self.port = free_port()
        self.log = log_path.open("w")
        cmd = [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", target]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)  # noqa: S603

    def wait(self, path: str = "/", timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log.name}")
            try:
                status, _h, _b = request("127.0.0.1", self.port, "GET", path)
                if status < 500:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def request(host, port, method, path, body=None, headers=None, timeout=60):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), data
    finally:
        conn.close()


def http_login(port: int, username: str) -> str:
    """Log in like a browser: the form's CSRF token, then the session cookie. Returns the Cookie header."""
    jar = SimpleCookie()

    def keep(headers):
        for k, v in headers:
            if k.lower() == "set-cookie":
                jar.load(v)

    status, headers, body = request("127.0.0.1", port, "GET", "/login")
    keep(headers)
    token = CSRF_RE.search(body.decode()).group(1)
    cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
    status, headers, _ = request("127.0.0.1", port, "POST", "/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    if status != 302:
        raise RuntimeError(f"HTTP login as {username} failed: {status}")
    keep(headers)
    return "; ".join(f"{k}={m.value}" for k, m in jar.items())


WRK_LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body) if status ~= 200 then bad = bad + 1 end end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("HUIYIN %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), e.connect + e.read + e.write + e.timeout, b,
    latency:percentile(99)))
end
"""


@dataclass
class Load:
    rps: float
    p50_ms: float
    p95_ms: float
    requests: int
    errors: int
    non200: int
    tool: str
    p99_ms: float = 0.0


def load_wrk(port, path, cookie, duration, concurrency, lua: Path) -> Load:
    cmd = ["wrk", f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(lua), f"http://127.0.0.1:{port}{path}"]
    if cookie:
        cmd[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout  # noqa: S603
    m = re.search(r"^HUIYIN (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out, re.M)
    if not m:
        raise RuntimeError(f"wrk said: {out}")
    reqs, dur_us, p50, p95, errors, non200, p99 = map(int, m.groups())
    return Load(reqs / (dur_us / 1e6), p50 / 1000, p95 / 1000, reqs, errors, non200, "wrk", p99 / 1000)


def load_python(port, path, cookie, duration, concurrency) -> Load:
    """A bounded load generator: ``concurrency`` threads, each a request at a time, for ``duration`` s."""
    latencies, errors, non200 = [], [0], [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration
    headers = {"Cookie": cookie} if cookie else {}

    def worker():
        mine, bad, err = [], 0, 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                status, _h, _b = request("127.0.0.1", port, "GET", path, headers=headers, timeout=30)
                bad += status != 200
            except OSError:
                err += 1
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors[0] += err
            non200[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:  # not one request answered within the run (reported as 0 req/s, errors counted)
        return Load(0.0, float("nan"), float("nan"), 0, errors[0] + concurrency, non200[0], "python", float("nan"))
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return Load(len(latencies) / elapsed, q[49] * 1000, q[94] * 1000, len(latencies), errors[0], non200[0], "python",
                q[98] * 1000)


def run_load(port, path, cookie, args, lua) -> Load:
    if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")):
        return load_wrk(port, path, cookie, args.duration, args.concurrency, lua)
    return load_python(port, path, cookie, args.duration, args.concurrency)


# ============================================================ the run


def rebuild_counters(app) -> float:
    """The bulk rows went in past the ORM: count them for the queues' counters (as after any bulk load)."""
    from webapp.cases import counts
    from webapp.core.extensions import db
    from webapp.stats import sums

    t0 = time.perf_counter()
    with app.app_context():
        counts.rebuild()
        sums.rebuild()
        db.session.commit()
        db.session.remove()
    return time.perf_counter() - t0


def sample_problem(app) -> tuple[int, str]:
    """A problem in handling (id, number) for the problem page and the search by number."""
    from sqlalchemy import select

    from webapp.cases.models import Problem
    from webapp.core.extensions import db

    with app.app_context():
        row = db.session.execute(select(Problem.id, Problem.number).where(Problem.status == "in_progress")
                                 .order_by(Problem.id.desc()).limit(1)).one()
        db.session.remove()
    return row.id, row.number


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file in --workdir)")
    ap.add_argument("--sizes", default="1000,10000,50000,200000",
                    help="numbers of problems, smallest first: each size is filled, counted, explained and loaded")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per page")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    ap.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--workdir", help="folder for the SQLite file, logs and the report (default: temp)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--skip-http", action="store_true", help="only fill, count queries and EXPLAIN")
    ap.add_argument("--report", help="also write the JSON results here")
    ap.add_argument("--query-functions", action="store_true",
                    help="measure cases.queries.queue()+counters() in process, as when the route is missing")
    args = ap.parse_args()
    global FORCE_QUERY_FUNCTIONS
    FORCE_QUERY_FUNCTIONS = args.query_functions
    sizes = sorted(int(x) for x in args.sizes.split(","))

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="huiyin-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        prepare_postgres(url)
    dialect = sa.make_url(url).get_backend_name()
    log(f"database: {sa.make_url(url).render_as_string(hide_password=True)}; work folder {workdir}")
    load1, load5, load15 = os.getloadavg()
    log(f"machine: {os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f}")

    results: dict = {"database": dialect, "sizes": sizes, "pages": {}, "http": {}}
    try:
        app = make_app(url, instance)
        t0 = time.perf_counter()
        setup_database(app)
        log(f"migrated, demo organisation and demo problems loaded in {time.perf_counter() - t0:.1f} s")
        tree = load_tree(app)
        filler = Filler(app, url, tree)
        route = has_queue_route(app)
        if not route:
            log("NOTE: the route cases.queue does not exist: measuring cases.queries.queue()+counters() in process")
        measured: dict[int, dict] = {}
        plan_file = workdir / f"explain-{dialect}.txt"
        plan_fh = plan_file.open("w")
        for size in sizes:
            secs = filler.fill_to(size)
            log(f"filled to {size:,} problems in {secs:.1f} s; counters rebuilt in {rebuild_counters(app):.1f} s")
            if size == sizes[-1]:
                check_schema(app)
            measured[size] = measure_in_process(app)
            for label, username, tab in PAGES:
                plans = explain(app, measured[size][label]["statements"])
                plan_fh.write(f"===== {size:,} problems: {label} ({username}, tab={tab})\n")
                for pl in plans:
                    plan_fh.write(f"--- {pl['seconds'] * 1000:.1f} ms\n{pl['sql']}\n{pl['plan']}\n\n")
                measured[size][label]["full_scans"] = sorted({x for pl in plans for x in pl["full_scans"]})
                measured[size][label]["indexes"] = sorted({x for pl in plans for x in pl["indexes"]})
            if not args.skip_http and route:
                with app.app_context():
                    from webapp.core.extensions import db

                    db.session.remove()
                    db.engine.dispose()
                extra = sample_problem(app)
                results["http"][size] = {k: v.__dict__ for k, v in
                                         serve_and_load(url, instance, workdir, args, size, extra).items()}
        plan_fh.close()
        with app.app_context():
            from webapp.core.extensions import db

            db.session.remove()
            db.engine.dispose()

        print()
        print(f"SQL statements per page ({dialect}; in process, after a warm-up request; ms: median of 3)")
        print(f"{'page':16} " + " ".join(f"{format(n, ','):>16}" for n in sizes) + "  equal  full scans (largest)")
        equal = True
        for label, _u, _t in PAGES:
            counts_ = [measured[n][label]["queries"] for n in sizes]
            same = len(set(counts_)) == 1
            equal &= same
            cells = " ".join(f"{measured[n][label]['queries']:>5} {measured[n][label]['seconds'] * 1000:>7.1f} ms"
                             for n in sizes)
            scans = "; ".join(measured[sizes[-1]][label]["full_scans"]) or "none"
            print(f"{label:16} {cells}  {'yes' if same else 'NO':5}  {scans}")
            results["pages"][label] = {str(n): {"queries": measured[n][label]["queries"],
                                                "inprocess_ms": measured[n][label]["seconds"] * 1000,
                                                "full_scans": measured[n][label]["full_scans"]} for n in sizes}
        results["queries_equal"] = equal
        # 已超期 reads the partial index of open problems' deadlines (never the ended problems).
        overdue_indexes = measured[sizes[-1]]["office-overdue"]["indexes"]
        results["overdue_indexes"] = overdue_indexes
        print(f"  office-overdue at {sizes[-1]:,} reads: {', '.join(overdue_indexes) or 'no problems index'}"
              f" (partial index of open problems used: {'yes' if 'ix_problems_open_deadline' in overdue_indexes else 'NO'})")
        print(f"  full plans: {plan_file}")
        if results["http"]:
            print_curve(results["http"], sizes, dialect, args)
        results["load_average_end"] = os.getloadavg()
        load1, load5, load15 = results["load_average_end"]
        log(f"load average now {load1:.2f} {load5:.2f} {load15:.2f}")
        if args.report:
            Path(args.report).write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
        return 0 if equal else 1
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def print_curve(http: dict, sizes: list[int], dialect: str, args) -> None:
    """Each page's ratio to hello, p95 and p99 at every size: the cost curve."""
    print()
    print(f"HTTP cost curve ({dialect}; {args.concurrency} concurrent, {args.duration} s per page, gunicorn "
          f"{args.workers} sync workers; ratio = req/s ÷ mean hello req/s of the same size's run)")
    labels = [k for k in http[sizes[0]] if not k.startswith("hello")]
    print(f"{'page':18} " + " ".join(f"{format(n, ','):>24}" for n in sizes))
    print(f"{'':18} " + " ".join(f"{'ratio':>7} {'p95':>7} {'p99':>8}" for _ in sizes))
    for label in labels:
        cells = []
        for n in sizes:
            run = http[n]
            base = statistics.mean([run["hello"]["rps"], run["hello (again)"]["rps"]])
            page = run[label]
            bad = " !" if page["non200"] or page["errors"] else ""
            cells.append(f"{page['rps'] / base:>7.3f} {page['p95_ms']:>7.1f} {page['p99_ms']:>7.1f}{bad or ' '}")
        print(f"{label:18} " + " ".join(cells))
    print(f"{'hello req/s':18} " + " ".join(
        f"{statistics.mean([http[n]['hello']['rps'], http[n]['hello (again)']['rps']]):>24.0f}" for n in sizes))


def serve_and_load(url: str, instance: Path, workdir: Path, args, size: int, extra: tuple[int, str]) -> dict:
    """hello and the app side by side; every queue page, then the problem page, the searches and
    the office dashboard, then hello again — at one size."""
    env = {**os.environ, "DATABASE_URL": url, "HUIYIN_INSTANCE": str(instance), "PYTHONPATH": str(ROOT)}
    lua = workdir / "report.lua"
    lua.write_text(WRK_LUA)
    tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")) else "python threads"
    hello = Server("benchmarks.hello:app", env, args.workers, workdir / "gunicorn-hello.log")
    app_server = Server("webapp:create_app()", env, args.workers, workdir / "gunicorn-app.log")
    problem_id, number = extra
    extras = [
        ("problem page", "office", f"/cases/{problem_id}"),
        ("search number", "office", "/cases?" + urllib.parse.urlencode({"q": number})),
        ("search title", "office", "/cases?" + urllib.parse.urlencode({"q": "路灯"})),
        ("office dashboard", "office", "/stats"),
    ]
    out: dict[str, Load] = {}
    try:
        hello.wait("/")
        app_server.wait("/healthz")
        cookies = {}
        targets = [(label, username, f"/cases?tab={tab}") for label, username, tab in PAGES] + extras
        for _label, username, path in targets:
            if username not in cookies:
                cookies[username] = http_login(app_server.port, username)
            status, _h, body = request("127.0.0.1", app_server.port, "GET", path,
                                       headers={"Cookie": cookies[username]})
            if status != 200 or b'action="/login"' in body:
                raise RuntimeError(f"{path} as {username}: HTTP {status}")
        log(f"load at {size:,}: {tool}, {args.concurrency} concurrent, {args.duration} s per page, "
            f"gunicorn {args.workers} sync workers on 127.0.0.1")
        out["hello"] = run_load(hello.port, "/", None, args, lua)
        for label, username, path in targets:
            out[label] = run_load(app_server.port, path, cookies[username], args, lua)
            log(f"  {label}: {out[label].rps:.1f} req/s, p95 {out[label].p95_ms:.1f} ms, p99 {out[label].p99_ms:.1f} ms")
        out["hello (again)"] = run_load(hello.port, "/", None, args, lua)
        log(f"  hello: {out['hello'].rps:.0f} and {out['hello (again)'].rps:.0f} req/s")
    finally:
        app_server.stop()
        hello.stop()
    return out


if __name__ == "__main__":
    sys.exit(main())
