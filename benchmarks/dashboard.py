#!/usr/bin/env python3
"""Benchmark of the office dashboard, the half-month reports and supervision with 200,000 problems
(a script, not a test).

It reuses ``benchmarks/queues.py`` (the database, the bulk generator of problems, assignments and
their units, the statement capture, gunicorn, the login and the load generator) and adds what the
figures need: every bulk problem gets its timeline (``problem_events``: registration, triage,
assignment, sign-for, plan, progress, sign-off, verification, reply — in order, with the times of
the problem's row) and its callbacks (``replies``, with ``replied_at``/``reply_due`` set on the
problem), through SQLAlchemy Core bulk inserts. The half-month report reconstructs each problem's
status as of the period end from that timeline, so without it the report would measure nothing.

In one run, at 1,000 and at 200,000 problems:

1. Fill (queues.Filler, then the timeline), run the supervision sweep (timed: the first run at
   200,000 writes every 催办/通报 due; a second run writes nothing — the daily steady state), issue
   a half-month report (timed: ``stats.reports.issue``, the as-of reconstruction; at 1,000 the period
   before last, at 200,000 the last period, which then shows the change against the other), and
   check the dashboard's district figures against plain counts.
2. Count the SQL statements of each page in process (Flask test client, ``before_cursor_execute``):
   /stats for office, leader, town, dept and grouplead, /stats/reports, the report page, its PDF and
   Excel, /supervision for office and leader. They must be equal at both sizes.
3. At 200,000, EXPLAIN every statement of those pages and of the report issue that reads
   ``problems``, ``problem_events`` or ``replies``, and flag full scans of them (PostgreSQL: Seq
   Scan; SQLite: SCAN, also of a non-covering index). A district-wide figure reads every
   problem by nature (the office's and the leader's dashboard, the report): those scans are
   expected and marked so; a scan in a unit's slice or of the timeline is not.
4. Serve the app and the bare hello app with gunicorn (2 sync workers, as queues.py) and measure
   req/s and p50/p95 of each page against hello — first with ``STATS_CACHE_SIZE=0`` (every
   dashboard request reads from the data — the district's and the groups' the sums kept by the
   writes, a unit's a count over its problems: the worst case, as if the data changed between any
   two requests), then the dashboards again with the counts reused while the data is unchanged.
   In process, each page is timed cold (the reused counts dropped first) and warm, and the
   dashboards also counted over the problems (``STATS_KEPT_SUMS`` off), the baseline of the ratio.
5. With ``--try-index TABLE:COL[,COL…]`` (repeatable, one index at a time): create that index ad
   hoc in the benchmark database only (PostgreSQL: ANALYZE it), and measure the pages, the sweep
   re-run and the slowest statements again (before/after); the index is dropped afterwards.
   Models and migrations are never touched. With ``--try-jit-off`` (PostgreSQL), the pages and a
   report issue again with JIT compilation off for the app's connections (``PGOPTIONS``).

Usage::

    .venv/bin/python benchmarks/dashboard.py --duration 10
    createdb -h 127.0.0.1 -U postgres huiyin_bench
    .venv/bin/python benchmarks/dashboard.py --duration 10 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench
    dropdb -h 127.0.0.1 -U postgres huiyin_bench

A PostgreSQL database must be empty (or be named ``*bench*``, which the script empties first).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks import queues as q  # noqa: E402

log = q.log
TIMELINE_TABLES = ("problem_events", "replies")
# District-wide figures aggregate every problem (or, for the report, every event): a full scan is expected.
DISTRICT_WIDE = {"stats office", "stats leader", "report issue"}

# ============================================================ the timeline of the bulk problems

# Statuses after the sign-for, each with the steps that lead there from 已签收 (action, from, to).
_PLAN = [("submit_plan", "accepted", "plan_review"), ("approve_plan", "plan_review", "in_progress"),
         ("progress", "in_progress", "in_progress")]
_SIGNOFF = [*_PLAN, ("request_signoff", "in_progress", "signoff_review"),
            ("approve_signoff", "signoff_review", "pending_verification")]
_CANNOT = [*_PLAN, ("request_cannot_solve", "in_progress", "cannot_solve_review")]
AFTER_SIGN = {
    "assigned": [], "accepted": [], "plan_review": _PLAN[:1], "in_progress": _PLAN,
    "signoff_review": _SIGNOFF[:-1], "pending_verification": _SIGNOFF, "cannot_solve_review": _CANNOT,
    "cannot_solve": [*_CANNOT, ("approve_cannot_solve", "cannot_solve_review", "cannot_solve")],
    "signed_off": [*_SIGNOFF, ("verify", "pending_verification", "signed_off")],
    "closed": [*_SIGNOFF, ("verify", "pending_verification", "signed_off")],
}
ASSIGN_ACTION = {"sheet": "assign_sheet", "desk": "transfer_desk", "office": "assign_departments"}
VERDICTS = {"satisfied": 80, "basically": 14, "unsatisfied": 2, "unreachable": 3, "refused": 1}
NOTES = {
    "progress": "已完成现场踏勘，正在协调推进。",
    "return": "不属于本单位职责",
    "not_accept": "不属于受理范围，已向群众解释。",
    "merge": "重复问题，合并办理",
    "request_cannot_solve": "涉及政策调整，暂难解决。",
}
PUBLIC = {"register", "assign_sheet", "transfer_desk", "assign_departments", "sign_for", "verify", "reply",
          "not_accept", "merge", "resolve_on_spot"}


class Timeline:
    """Timeline events and callbacks for the problems queues.Filler added (Core bulk inserts)."""

    CHUNK = 20_000

    def __init__(self, app, url: str, tree: q.Tree, seed: int = 2018):
        from webapp.accounts.models import User
        from webapp.accounts.roles import Role
        from webapp.core.extensions import db

        self.url, self.tree = url, tree
        self.rng = random.Random(seed)  # noqa: S311 - benchmark data
        self.lead_of = {g["group"]: g["lead"] for g in tree.groups}
        with app.app_context():
            users = db.session.execute(sa.select(User.id, User.unit_id, User.role).order_by(User.id)).all()
            self.handler, self.leader = {}, {}
            for uid, unit, role in users:
                if role in (Role.handler, Role.desk):
                    self.handler.setdefault(unit, uid)
                elif role == Role.unit_leader:
                    self.leader.setdefault(unit, uid)
            # The demo problems have their real timeline: start after them.
            self.done = db.session.scalar(sa.select(sa.func.max(self.tables()[0].c.id))) or 0

    def tables(self):
        from webapp.cases import models as m
        from webapp.handling.models import Reply

        return (m.Problem.__table__, m.Assignment.__table__, m.ProblemEvent.__table__, Reply.__table__,
                m.AssignmentUnit.__table__)

    def fill(self) -> tuple[float, int, int]:
        """Timeline and callbacks for every problem after ``self.done``; (seconds, events, replies)."""
        started = time.perf_counter()
        problems, assignments, events, replies, parts = self.tables()
        engine = q.loading_engine(self.url)
        n_events = n_replies = 0
        try:
            with engine.begin() as conn:
                top = conn.execute(sa.select(sa.func.max(problems.c.id))).scalar() or 0
                next_eid = (conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0) + 1
                next_rid = (conn.execute(sa.select(sa.func.max(replies.c.id))).scalar() or 0) + 1
            cols = (problems.c.id, problems.c.status, problems.c.registered_at, problems.c.assigned_at,
                    problems.c.accepted_at, problems.c.solved_at, problems.c.closed_at, problems.c.lead_unit_id,
                    problems.c.assigner_unit_id, problems.c.work_group_id, problems.c.registered_by_id,
                    assignments.c.channel, assignments.c.assigned_by_id, assignments.c.ended_at,
                    parts.c.unit_id.label("part_lead"))
            updates = []
            with q.bulk_load(engine, TIMELINE_TABLES):
                lo = self.done
                while lo < top:
                    hi = min(lo + self.CHUNK, top)
                    with engine.begin() as conn:
                        rows = conn.execute(
                            sa.select(*cols).select_from(problems.outerjoin(
                                assignments, assignments.c.problem_id == problems.c.id).outerjoin(
                                parts, sa.and_(parts.c.assignment_id == assignments.c.id, parts.c.role == "lead")))
                            .where(problems.c.id > lo, problems.c.id <= hi).order_by(problems.c.id)).all()
                    e_rows, r_rows = [], []
                    for row in rows:
                        evs, reply, update = self._timeline(row)
                        for ev in evs:
                            ev["id"] = next_eid
                            next_eid += 1
                        e_rows += evs
                        if reply:
                            reply["id"] = next_rid
                            next_rid += 1
                            r_rows.append(reply)
                        if update:
                            updates.append(update)
                    with engine.begin() as conn:
                        if e_rows:
                            conn.execute(events.insert(), e_rows)
                        if r_rows:
                            conn.execute(replies.insert(), r_rows)
                    n_events += len(e_rows)
                    n_replies += len(r_rows)
                    lo = hi
            with engine.begin() as conn:
                stmt = (problems.update().where(problems.c.id == sa.bindparam("pid"))
                        .values(replied_at=sa.bindparam("replied"), reply_due=sa.bindparam("due"),
                                updated_at=sa.bindparam("touched")))
                for i in range(0, len(updates), 5000):
                    conn.execute(stmt, updates[i:i + 5000])
                if engine.dialect.name == "postgresql":
                    for table in TIMELINE_TABLES:  # fixed names, not input
                        conn.execute(sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))  # noqa: S608
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE"))
            self.done = top
        finally:
            engine.dispose()
        return time.perf_counter() - started, n_events, n_replies

    def _timeline(self, r):
        """The events of one problem in time order, its callback, and the reply fields to set."""
        rng, now = self.rng, datetime.now(UTC) - timedelta(minutes=1)
        status = str(r.status)
        group, group_lead = r.work_group_id, self.lead_of.get(r.work_group_id)
        evs = []

        def add(action, before, after, at, user, unit):
            evs.append({"problem_id": r.id, "created_at": min(at, now), "user_id": user, "unit_id": unit,
                        "action": action, "from_status": before, "to_status": after,
                        "note": NOTES.get(action), "is_public": action in PUBLIC, "client_token": None})

        reg = r.registered_at
        add("register", None, "registered", reg, r.registered_by_id, group)
        soon = min(reg + timedelta(hours=rng.uniform(1, 24)), now)
        ended_at = None  # when a problem that owes a reply ended
        if status == "listed":
            add("add_to_list", "registered", "listed", soon, group_lead, group)
        elif status in ("merged", "not_accepted"):
            action = "merge" if status == "merged" else "not_accept"
            add(action, "registered", status, soon, group_lead, group)
            ended_at = soon
        elif status == "pending_verification" and r.channel is None:  # resolved on the spot
            add("resolve_on_spot", "registered", "pending_verification", soon, group_lead, group)
        elif r.channel is not None:
            assigner_user, assigner = r.assigned_by_id, r.assigner_unit_id
            at = r.assigned_at
            if r.channel == "office":  # the group lists it, the office assigns the list
                add("add_to_list", "registered", "listed", reg + (at - reg) / 2, group_lead, group)
                add("assign_departments", "listed", "assigned", at, assigner_user, assigner)
            else:
                add(ASSIGN_ACTION[r.channel], "registered", "assigned", at, assigner_user, assigner)
            lead = r.lead_unit_id
            if status == "returned":
                unit = r.part_lead
                add("return", "assigned", "returned", r.ended_at or at, self.handler.get(unit), unit)
            elif status != "assigned":
                signed = r.accepted_at or at
                add("sign_for", "assigned", "accepted", signed, self.handler.get(lead), lead)
                steps = AFTER_SIGN[status]
                until = r.solved_at or min(now, signed + timedelta(days=rng.uniform(2, 30)))
                gap = (until - signed) / (len(steps) + 1)
                for i, (action, before, after) in enumerate(steps, start=1):
                    at_i = r.solved_at if action == "verify" else signed + gap * i
                    if action == "verify":
                        user, unit = assigner_user, assigner
                    elif action.startswith("approve_"):
                        user, unit = self.leader.get(lead) or self.handler.get(lead), lead
                    else:
                        user, unit = self.handler.get(lead), lead
                    add(action, before, after, at_i, user, unit)
                ended_at = r.solved_at if status in ("signed_off", "closed") else (
                    evs[-1]["created_at"] if status == "cannot_solve" else None)
        # The callback (回音): closed problems have had it; other endings mostly; signed off not yet.
        reply = update = None
        if ended_at is not None:
            replied = status == "closed" or (status != "signed_off" and rng.random() < 0.7)
            if replied:
                at = min(r.closed_at or ended_at + timedelta(days=rng.uniform(0.5, 4)), now)
                verdict = rng.choices(list(VERDICTS), list(VERDICTS.values()))[0]
                before = "signed_off" if status == "closed" else status
                content = "已向群众反馈办理结果。"
                add("reply", before, status, at, group_lead, group)
                evs[-1]["note"] = content
                reply = {"problem_id": r.id, "replied_by_id": group_lead, "unit_id": group, "method": "phone",
                         "replied_at": at, "content": content, "verdict": verdict,
                         "resident_words": "办得慢了些" if verdict == "unsatisfied" else None, "reopened": False,
                         "status_at_reply": before, "created_at": at, "client_token": None}
                update = {"pid": r.id, "replied": at, "due": None, "touched": at}
            else:
                due = (ended_at + timedelta(days=7)).date()
                update = {"pid": r.id, "replied": None, "due": due, "touched": ended_at}
        return evs, reply, update


# ============================================================ pages, statements and EXPLAIN


def pages(report_id: int) -> list[tuple[str, str, str]]:
    """(label, demo account, path) of every page measured."""
    return [
        ("stats office", "office", "/stats"),
        ("stats leader", "leader", "/stats"),
        ("stats town", "town", "/stats"),
        ("stats dept", "dept", "/stats"),
        ("stats grouplead", "grouplead", "/stats"),
        ("reports", "office", "/stats/reports"),
        ("report", "office", f"/stats/reports/{report_id}"),
        ("report.pdf", "office", f"/stats/reports/{report_id}/report.pdf"),
        ("report.xlsx", "office", f"/stats/reports/{report_id}/report.xlsx"),
        ("supervision office", "office", "/supervision"),
        ("supervision leader", "leader", "/supervision"),
    ]


HTTP_SKIP = {"report.pdf", "report.xlsx"}  # documents: timed in process, not under load


def measure_pages(app, page_list, repeat: int = 3) -> dict:
    """Statements and median time of each page, in process, after one warm-up request."""
    from webapp.core.extensions import db
    from webapp.stats import figures

    with app.app_context():
        engine = db.engine
    out = {}
    for label, username, path in page_list:
        client = q.login_test_client(app, username)  # a fresh session per page (see queues.py)
        first = client.get(path)
        if first.status_code != 200:
            raise RuntimeError(f"{path} as {username}: HTTP {first.status_code}")
        times, counts, caps = [], set(), []
        for _ in range(repeat):
            # Cold: the dashboard's reused counts are dropped first, so every measured request
            # computes from the data (as after any change); ``warm`` below measures the reuse.
            with app.app_context():
                figures._cache().clear()
            with q.capture(engine) as cap:
                t0 = time.perf_counter()
                resp = client.get(path)
                times.append(time.perf_counter() - t0)
            if resp.status_code != 200:
                raise RuntimeError(f"{path} as {username}: HTTP {resp.status_code}")
            counts.add(len(cap.statements))
            caps.append(cap)
        if len(counts) != 1:
            raise RuntimeError(f"{path} as {username}: the statement count varies between requests: {counts}")
        warm = []
        for _ in range(repeat):  # the data unchanged since the last request: counts reused
            t0 = time.perf_counter()
            client.get(path)
            warm.append(time.perf_counter() - t0)
        counted = []
        if path == "/stats":  # the baseline: the dashboard counted over the problems, as before the kept sums
            app.config["STATS_KEPT_SUMS"] = False
            try:
                for _ in range(repeat):
                    with app.app_context():
                        figures._cache().clear()
                    t0 = time.perf_counter()
                    client.get(path)
                    counted.append(time.perf_counter() - t0)
            finally:
                app.config["STATS_KEPT_SUMS"] = True
        out[label] = {"queries": len(caps[-1].statements), "seconds": statistics.median(times),
                      "seconds_warm": statistics.median(warm),
                      "seconds_counted": statistics.median(counted) if counted else None,
                      "statements": caps[-1].statements, "bytes": len(resp.data)}
    return out


SCANNED = ("problems", "problem_events", "replies")
READS = re.compile(r"\b(problems|problem_events|replies)\b")


def explain(app, statements) -> list[dict]:
    """EXPLAIN (PostgreSQL: ANALYZE, BUFFERS) each SELECT reading the problems, their timeline or
    callbacks; flag full scans of ``problems`` and ``problem_events``. On SQLite the statement is
    also run once more to time it (EXPLAIN QUERY PLAN does not run it)."""
    from webapp.core.extensions import db

    plans = []
    with app.app_context():
        engine = db.engine
        sqlite = engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            for stmt, params, seconds in statements:
                if not READS.search(stmt) or not stmt.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                if sqlite:
                    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params).all()
                    text = "\n".join(str(r[-1]) for r in rows)
                    aliases = dict(re.findall(r"\b(problems|problem_events|replies) AS (\w+)", stmt))
                    names = "|".join([*SCANNED, *aliases.values()])
                    scans = [str(r[-1]) for r in rows
                             if re.match(rf"SCAN ({names})\b", str(r[-1])) and "COVERING INDEX" not in str(r[-1])]
                    t0 = time.perf_counter()
                    conn.exec_driver_sql(stmt, params).all()
                    ran = time.perf_counter() - t0
                else:
                    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params).all()
                    text = "\n".join(str(r[0]) for r in rows)
                    scans = sorted({m.group(0) for m in re.finditer(
                        r"(Parallel )?Seq Scan on (problems|problem_events|replies)\b( \w+)?", text)})
                    m = re.search(r"Execution Time: ([\d.]+) ms", text)
                    ran = float(m.group(1)) / 1000 if m else seconds
                plans.append({"sql": stmt, "seconds": seconds, "explain_seconds": ran, "plan": text,
                              "full_scans": scans})
    return plans


# ============================================================ sweep, report, figures check


def run_sweep(app) -> tuple[float, dict, int]:
    """The supervision sweep as the scheduler runs it (commit included); (seconds, result, statements)."""
    from webapp.core.extensions import db
    from webapp.supervision import sweep

    with app.app_context():
        with q.capture(db.engine) as cap:
            t0 = time.perf_counter()
            result = sweep.run(source="cli")
            db.session.commit()
            secs = time.perf_counter() - t0
        db.session.remove()
    return secs, result.as_dict(), len(cap.statements)


def issue_report(app, period) -> tuple[float, int, list, str]:
    """Issue (or, when the period is already issued, correct) a period's report as the office;
    (seconds, report id, captured statements, what was done)."""
    from webapp.accounts.models import User
    from webapp.core.extensions import db
    from webapp.stats import reports as rep

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "office"))
        existing = rep.current_report(period)
        with q.capture(db.engine) as cap:
            t0 = time.perf_counter()
            if existing is None:
                report, how = rep.issue(user, period), "issue"
            else:
                report, how = rep.reissue(user, existing, reason="基准测试更正", version=existing.version), "reissue"
            db.session.commit()
            secs = time.perf_counter() - t0
        rid = report.id
        db.session.remove()
    return secs, rid, cap.statements, how


def check_figures(app, report_id: int) -> list[str]:
    """The dashboard's district figures and the issued report against plain counts."""
    from webapp.accounts.models import User
    from webapp.cases.models import Problem
    from webapp.cases.workflow import HANDLING, SOLVED
    from webapp.core import clock
    from webapp.core.extensions import db
    from webapp.stats import figures
    from webapp.stats import reports as rep

    problems = []
    with app.app_context():
        office = db.session.scalar(sa.select(User).where(User.username == "office"))
        today = clock.today()

        def count(*where):
            return db.session.scalar(sa.select(sa.func.count()).select_from(Problem).where(*where))

        d = figures.dashboard(office, today=today).district
        expect = {"total": count(), "solved": count(Problem.status.in_(SOLVED)),
                  "overdue": count(Problem.status.in_(HANDLING), Problem.deadline < today),
                  "reopened": count(Problem.reopen_count > 0)}
        problems += [f"dashboard {k}: {d[k]} ≠ {v}" for k, v in expect.items() if d[k] != v]
        report = db.session.get(rep.HalfMonthReport, report_id)
        end = report.period.end_utc
        r = report.figures["district"]
        # Statuses only move forward in the bulk data: as of the end = solved then and not reopened.
        expect = {"total": count(Problem.registered_at < end),
                  "solved": count(Problem.status.in_(SOLVED), Problem.solved_at < end)}
        problems += [f"report {k}: {r[k]} ≠ {v}" for k, v in expect.items() if r[k] != v]
        db.session.remove()
    return problems


# ============================================================ the run


def size_step(app, filler, timeline, n: int, period) -> dict:
    """Fill to ``n`` problems with their timeline, sweep, issue ``period``'s report, count pages."""
    secs = filler.fill_to(n)
    log(f"filled to {n:,} problems in {secs:.1f} s")
    secs, events, replies = timeline.fill()
    log(f"timeline: {events:,} events and {replies:,} callbacks in {secs:.1f} s")
    out = {"fill_seconds": secs}
    # The rows went in past the ORM: count them for the queues' counters and the dashboards' sums.
    log(f"counters and dashboard sums rebuilt in {q.rebuild_counters(app):.1f} s")
    out["sweep"] = run_sweep(app)
    log(f"sweep: {out['sweep'][0]:.2f} s, {out['sweep'][1]}, {out['sweep'][2]} statements")
    out["sweep_again"] = run_sweep(app)
    log(f"sweep again (nothing new): {out['sweep_again'][0]:.2f} s, {out['sweep_again'][2]} statements")
    secs, rid, stmts, how = issue_report(app, period)
    out["issue"] = {"seconds": secs, "report_id": rid, "statements": stmts, "how": how, "period": period}
    log(f"report {period.start}–{period.end} ({how}): {secs:.2f} s, {len(stmts)} statements")
    out["check"] = check_figures(app, rid)
    log("figures check: " + ("ok" if not out["check"] else "; ".join(out["check"])))
    out["pages"] = measure_pages(app, pages(rid))
    return out


def try_index(app, url, workdir, spec: str, page_list, before: dict, before_plans: dict) -> dict:
    """Create one proposed index ad hoc (``TABLE:COL[,COL…]``), measure again, drop it."""
    table, _sep, columns = spec.partition(":")
    cols = [c.strip() for c in columns.split(",") if c.strip()]
    if not re.fullmatch(r"\w+", table) or not cols or not all(re.fullmatch(r"\w+", c) for c in cols):
        raise SystemExit(f"--try-index {spec!r}: expected TABLE:COL[,COL…]")
    name = f"bench_try_{table}_{'_'.join(cols)}"[:60]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            t0 = time.perf_counter()
            conn.exec_driver_sql(f'CREATE INDEX "{name}" ON {table} ({", ".join(cols)})')
            log(f"ad hoc index {name} ON {table} ({', '.join(cols)}) built in {time.perf_counter() - t0:.1f} s")
            if engine.dialect.name == "postgresql":  # SQLite: no statistics, as the app's database
                conn.exec_driver_sql(f"ANALYZE {table}")
        after = measure_pages(app, page_list)
        sweep_after = run_sweep(app)
        plans_after = {label: explain(app, after[label]["statements"]) for label in before_plans}
        plan_file = Path(workdir) / f"explain-dashboard-{engine.dialect.name}-{name}.txt"
        with plan_file.open("w") as fh:
            for label, plans in plans_after.items():
                fh.write(f"===== {label}\n")
                for pl in plans:
                    fh.write(f"--- {pl['explain_seconds'] * 1000:.1f} ms\n{pl['sql']}\n{pl['plan']}\n\n")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
        engine.dispose()
    print()
    print(f"With the ad hoc index {table} ({', '.join(cols)}): ms in process (median of 3) and the page's "
          f"slowest statement (EXPLAIN)")
    print(f"{'page':20} {'before':>9} {'after':>9} {'stmt before':>12} {'stmt after':>11}  full scans after")
    out = {"index": spec, "pages": {}}
    for label in before_plans:
        b, a = before[label]["seconds"] * 1000, after[label]["seconds"] * 1000
        sb = max((p["explain_seconds"] for p in before_plans[label]), default=0) * 1000
        sa_ = max((p["explain_seconds"] for p in plans_after[label]), default=0) * 1000
        scans = sorted({s for p in plans_after[label] for s in p["full_scans"]})
        print(f"{label:20} {b:>9.1f} {a:>9.1f} {sb:>12.1f} {sa_:>11.1f}  {'; '.join(scans) or 'none'}")
        out["pages"][label] = {"ms_before": b, "ms_after": a, "slowest_sql_ms_before": sb, "slowest_sql_ms_after": sa_,
                               "full_scans_after": scans}
    print(f"{'sweep (nothing new)':20} {before['_sweep_again'] * 1000:>9.1f} {sweep_after[0] * 1000:>9.1f}")
    print(f"  plans with the index: {plan_file}")
    out["sweep_again_ms"] = [before["_sweep_again"] * 1000, sweep_after[0] * 1000]
    return out


def try_jit_off(app, page_list, before: dict, issue_before: float, period) -> dict:
    """PostgreSQL only: the same pages and a report correction with JIT compilation off for the
    app's connections (``PGOPTIONS=-c jit=off``, read by libpq), against the figures measured with
    the server's default (``jit = on``)."""
    from webapp.core.extensions import db

    saved = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = f"{saved or ''} -c jit=off".strip()
    try:
        with app.app_context():
            db.engine.dispose()
            jit = db.session.scalar(sa.text("SHOW jit"))
            db.session.remove()
        after = measure_pages(app, page_list)
        issue_after = issue_report(app, period)[0]
    finally:
        if saved is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = saved
        with app.app_context():
            db.engine.dispose()
    print()
    print(f"With JIT off for the app's connections (PGOPTIONS='-c jit=off'; SHOW jit → {jit}): ms in process")
    print(f"{'page':20} {'jit on':>9} {'jit off':>9}")
    out = {"pages": {}}
    for label, _u, _p in page_list:
        b, a = before[label]["seconds"] * 1000, after[label]["seconds"] * 1000
        print(f"{label:20} {b:>9.1f} {a:>9.1f}")
        out["pages"][label] = {"ms_jit_on": b, "ms_jit_off": a}
    print(f"{'report issue (s)':20} {issue_before:>9.2f} {issue_after:>9.2f}  (jit off: a correction of the same period)")
    out["issue_seconds"] = [issue_before, issue_after]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file in --workdir)")
    ap.add_argument("--problems", type=int, default=200_000)
    ap.add_argument("--small", type=int, default=1_000, help="the first size at which statements are counted")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load per page")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    ap.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--workdir", help="folder for the SQLite file, logs and plans (default: temp)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--skip-http", action="store_true", help="no gunicorn load")
    ap.add_argument("--try-index", action="append", default=[], metavar="TABLE:COL[,COL…]",
                    help="create this index ad hoc at the big size and measure again (repeatable)")
    ap.add_argument("--try-jit-off", action="store_true",
                    help="PostgreSQL: measure the pages and a report issue again with JIT off (PGOPTIONS)")
    ap.add_argument("--report", help="also write the JSON results here")
    args = ap.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="huiyin-bench-dash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        q.prepare_postgres(url)
    dialect = sa.make_url(url).get_backend_name()
    log(f"database: {sa.make_url(url).render_as_string(hide_password=True)}; work folder {workdir}")
    load1, load5, load15 = os.getloadavg()
    log(f"machine: {os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f}")
    results: dict = {"database": dialect, "problems": args.problems, "small": args.small, "pages": {}}
    try:
        app = q.make_app(url, instance)
        t0 = time.perf_counter()
        q.setup_database(app)
        log(f"migrated, demo organisation and demo problems loaded in {time.perf_counter() - t0:.1f} s")
        tree = q.load_tree(app)
        filler = q.Filler(app, url, tree)
        timeline = Timeline(app, url, tree)
        from webapp.core.periods import Period

        last = Period.of(tree.today).previous()
        small = size_step(app, filler, timeline, args.small, last.previous())
        big = size_step(app, filler, timeline, args.problems, last)
        q.check_schema(app)
        with app.app_context():
            from webapp.core.extensions import db

            counts = {t: db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(t)))
                      for t in ("problems", "problem_events", "replies", "assignments")}
            db.session.remove()
        log("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        results["rows"] = counts

        labels = list(small["pages"])
        print()
        print(f"SQL statements per page ({dialect}; in process, after a warm-up request; ms: median of 3, "
              f"cold = after a change (the district's and groups' dashboards read the kept sums), warm = "
              f"the counts reused, the data unchanged, counted = cold with STATS_KEPT_SUMS off, the baseline)")
        print(f"{'page':20} {'at ' + format(args.small, ','):>10} {'at ' + format(args.problems, ','):>12} "
              f"{'ms at small':>12} {'ms at big':>10} {'warm at big':>12} {'counted big':>12} {'ratio':>6}  equal")
        for label in labels:
            s, b = small["pages"][label], big["pages"][label]
            base = b["seconds_counted"]
            print(f"{label:20} {s['queries']:>10} {b['queries']:>12} {s['seconds'] * 1000:>12.1f} "
                  f"{b['seconds'] * 1000:>10.1f} {b['seconds_warm'] * 1000:>12.1f} "
                  f"{base * 1000 if base else 0:>12.1f} {base / b['seconds'] if base else 0:>6.1f}  "
                  f"{'yes' if s['queries'] == b['queries'] else 'NO'}")
            results["pages"][label] = {"queries_small": s["queries"], "queries_big": b["queries"],
                                       "inprocess_ms_small": s["seconds"] * 1000,
                                       "inprocess_ms_big": b["seconds"] * 1000,
                                       "inprocess_ms_big_warm": b["seconds_warm"] * 1000,
                                       "inprocess_ms_big_counted": base * 1000 if base else None}
        equal = all(small["pages"][k]["queries"] == big["pages"][k]["queries"] for k in labels)
        results["queries_equal"] = equal
        results["figures_check"] = small["check"] + big["check"]

        print()
        print(f"Operations ({dialect}; seconds, commit included)")
        for name, key in (("supervision sweep, first run", "sweep"), ("supervision sweep, run again", "sweep_again")):
            for size, step in ((args.small, small), (args.problems, big)):
                secs, res, n = step[key]
                print(f"  {name:30} at {size:>9,}: {secs:8.2f} s  {n:>5} statements  {res}")
                results[f"{key}_{size}"] = {"seconds": secs, "result": res, "statements": n}
        for size, step in ((args.small, small), (args.problems, big)):
            i = step["issue"]
            print(f"  {'half-month report ' + i['how']:30} at {size:>9,}: {i['seconds']:8.2f} s  "
                  f"{len(i['statements']):>5} statements  period {i['period'].start}–{i['period'].end}")
            results[f"issue_{size}"] = {"seconds": i["seconds"], "statements": len(i["statements"]),
                                        "period": [str(i["period"].start), str(i["period"].end)]}
        for label in ("report.pdf", "report.xlsx"):
            b = big["pages"][label]
            print(f"  {'render ' + label:30} at {args.problems:>9,}: {b['seconds']:8.2f} s  "
                  f"{b['queries']:>5} statements  {b['bytes']:,} bytes")
        print(f"  figures check (district and report against plain counts): "
              f"{'ok' if not results['figures_check'] else results['figures_check']}")

        print()
        print(f"EXPLAIN at {args.problems:,} problems ({dialect}); slowest statements (ms) and full scans "
              f"of problems/problem_events")
        plan_file = workdir / f"explain-dashboard-{dialect}.txt"
        all_plans = {}
        with plan_file.open("w") as fh:
            targets = [(label, big["pages"][label]["statements"]) for label in labels]
            targets.append(("report issue", big["issue"]["statements"]))
            for label, statements in targets:
                plans = explain(app, statements)
                all_plans[label] = plans
                fh.write(f"===== {label}\n")
                for pl in plans:
                    fh.write(f"--- {pl['explain_seconds'] * 1000:.1f} ms\n{pl['sql']}\n{pl['plan']}\n\n")
                worst = sorted(plans, key=lambda p: -p["explain_seconds"])[:3]
                scans = sorted({s for p in plans for s in p["full_scans"]})
                expected = label in DISTRICT_WIDE
                results["pages"].setdefault(label, {}).update(
                    full_scans=scans, slowest_sql_ms=[round(p["explain_seconds"] * 1000, 1) for p in worst])
                slowest = ", ".join(f"{p['explain_seconds'] * 1000:.1f}" for p in worst) or "—"
                tag = " (district-wide: expected)" if scans and expected else ""
                print(f"  {label:20} {slowest:24} scans: {'; '.join(scans) or 'none'}{tag}")
        print(f"  full plans: {plan_file}")

        if not args.skip_http:
            page_list = [p for p in pages(big["issue"]["report_id"]) if p[0] not in HTTP_SKIP]
            http = serve(url, instance, workdir, args, page_list)
            for label, load in http.items():
                results["pages"].setdefault(label, {})["http"] = load.__dict__

        if args.try_index:
            before = {k: v for k, v in big["pages"].items()}
            before["_sweep_again"] = big["sweep_again"][0]
            chosen = {k: v for k, v in all_plans.items() if k != "report issue"}
            results["try_index"] = [try_index(app, url, workdir, spec, pages(big["issue"]["report_id"]), before, chosen)
                                    for spec in args.try_index]

        if args.try_jit_off and dialect == "postgresql":
            results["try_jit_off"] = try_jit_off(app, pages(big["issue"]["report_id"]), big["pages"],
                                                 big["issue"]["seconds"], big["issue"]["period"])

        results["load_average_end"] = os.getloadavg()
        load1, load5, load15 = results["load_average_end"]
        log(f"load average now {load1:.2f} {load5:.2f} {load15:.2f}")
        if args.report:
            Path(args.report).write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str))
        return 0 if equal and not results["figures_check"] else 1
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run_load(port, path, cookie, args, lua) -> q.Load:
    """queues.run_load; a page none of whose requests answered within the load generator's 30 s
    timeout is reported as such (0 req/s, no percentiles) instead of stopping the run."""
    try:
        return q.run_load(port, path, cookie, args, lua)
    except IndexError:  # queues.load_python with no completed request
        log(f"{path}: no request answered within 30 s")
        return q.Load(0.0, float("nan"), float("nan"), 0, args.concurrency, 0, "python")


def serve(url: str, instance: Path, workdir: Path, args, page_list) -> dict:
    """gunicorn (as queues.py): hello, /healthz and each page, then hello again; ratios to hello."""
    # The worst case: every dashboard request computes from the data (as if the data changed
    # between any two requests); the stats pages are then measured again with the reuse on.
    env = {**os.environ, "DATABASE_URL": url, "HUIYIN_INSTANCE": str(instance), "PYTHONPATH": str(ROOT),
           "STATS_CACHE_SIZE": "0"}
    lua = workdir / "report.lua"
    lua.write_text(q.WRK_LUA)
    tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")) else "python threads"
    hello = q.Server("benchmarks.hello:app", env, args.workers, workdir / "gunicorn-hello.log")
    app_server = q.Server("webapp:create_app()", env, args.workers, workdir / "gunicorn-app.log")
    out: dict = {}
    try:
        hello.wait("/")
        app_server.wait("/healthz")
        cookies = {}
        for _label, username, path in page_list:
            if username not in cookies:
                cookies[username] = q.http_login(app_server.port, username)
            status, _h, body = q.request("127.0.0.1", app_server.port, "GET", path,
                                         headers={"Cookie": cookies[username]})
            if status != 200 or b'action="/login"' in body:
                raise RuntimeError(f"{path} as {username}: HTTP {status}")
        log(f"load: {tool}, {args.concurrency} concurrent, {args.duration} s per page, "
            f"gunicorn {args.workers} sync workers on 127.0.0.1")
        out["hello"] = q.run_load(hello.port, "/", None, args, lua)
        log(f"hello: {out['hello'].rps:.0f} req/s")
        out["healthz"] = q.run_load(app_server.port, "/healthz", None, args, lua)
        for label, username, path in page_list:
            out[label] = run_load(app_server.port, path, cookies[username], args, lua)
            log(f"{label}: {out[label].rps:.1f} req/s, p95 {out[label].p95_ms:.0f} ms")
        out["hello (again)"] = q.run_load(hello.port, "/", None, args, lua)
    finally:
        app_server.stop()
    reuse = q.Server("webapp:create_app()", {**env, "STATS_CACHE_SIZE": "64"}, args.workers,
                     workdir / "gunicorn-app-reuse.log")
    try:
        reuse.wait("/healthz")
        for label, username, path in page_list:
            if not label.startswith("stats "):
                continue
            cookie = q.http_login(reuse.port, username)
            name = f"{label} (reused)"
            out[name] = run_load(reuse.port, path, cookie, args, lua)
            log(f"{name}: {out[name].rps:.1f} req/s, p95 {out[name].p95_ms:.0f} ms")
    finally:
        reuse.stop()
        hello.stop()
    base = statistics.mean([out["hello"].rps, out["hello (again)"].rps])
    base_p50 = statistics.mean([out["hello"].p50_ms, out["hello (again)"].p50_ms])
    base_p95 = statistics.mean([out["hello"].p95_ms, out["hello (again)"].p95_ms])
    print()
    print(f"HTTP ({sa.make_url(url).get_backend_name()}, {args.problems:,} problems; {tool}; "
          f"{args.concurrency} concurrent, {args.duration} s each; ratios against the mean of the two hello runs: "
          f"req/s ÷ hello, p50 and p95 × hello)")
    print(f"{'page':20} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'req/s ratio':>11} {'p50 ×':>7} {'p95 ×':>7} "
          f"{'requests':>9} {'non-200':>8} {'errors':>7}")
    for label, load in out.items():
        print(f"{label:20} {load.rps:>8.1f} {load.p50_ms:>8.1f} {load.p95_ms:>8.1f} {load.rps / base:>11.3f} "
              f"{load.p50_ms / base_p50:>7.1f} {load.p95_ms / base_p95:>7.1f} "
              f"{load.requests:>9} {load.non200:>8} {load.errors:>7}")
    return out


if __name__ == "__main__":
    sys.exit(main())
