#!/usr/bin/env python3
"""Benchmark of notifications and the time-limit sweep (a script, not a test).

It reuses ``benchmarks/queues.py`` (database, demo set-up, the bulk generator of problems) and
measures, in one run:

1. **A 通报 to 300 units**: 300 departments with a handler each (bulk rows), an SMS gateway
   configured (so every delivery is queued, not only recorded) and the real SQLite task queue;
   the time from ``notify_many`` to the commit that enqueues the sending (target < 2 s), and
   the rows and queued tasks it made.
2. **The inbox at 1,000,000 notifications**: one person's inbox filled by bulk insert; the SQL
   statements of ``/notifications`` (and of the home page with its bell) at 10 and at 1,000,000
   rows — they must be equal — and the time per request (median of 20, in process).
3. **The sweeps at N open problems** (default 200,000, ``--problems``): ``supervision.limits``
   (reminders, 超时未签收, escalation) and ``supervision.sweep`` (催办/通报), each run twice:
   the first run writes what is due, the second must write nothing (target < 60 s).

Usage::

    .venv/bin/python benchmarks/notifications.py [--problems 200000] [--inbox 1000000]
    .venv/bin/python benchmarks/notifications.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import queues as q  # noqa: E402
import sqlalchemy as sa  # noqa: E402

log = q.log


def add_units(app, n: int) -> list[int]:
    """``n`` departments under the district, each with one handler (with a phone)."""
    from webapp.accounts.models import User
    from webapp.accounts.roles import Role
    from webapp.core import clock
    from webapp.core.extensions import db
    from webapp.org.models import Unit, UnitKind

    with app.app_context():
        district = db.session.scalar(sa.select(Unit.id).where(Unit.kind == UnitKind.district))
        now = clock.now()
        ids = db.session.execute(sa.insert(Unit).returning(Unit.id), [
            {"name": f"压测部门{i:03d}", "kind": UnitKind.department, "parent_id": district,
             "pinyin_initials": "", "pinyin": "", "is_active": True, "is_demo": True, "created_at": now,
             "version": 1} for i in range(n)]).scalars().all()
        db.session.execute(sa.insert(User), [
            {"username": f"bench-h{i:03d}", "full_name": f"压测经办{i:03d}", "phone": f"139{i:08d}",
             "unit_id": uid, "role": Role.handler, "password_hash": "x", "password_changed_at": now,
             "must_change_password": False, "is_demo": True, "is_active_account": True,
             "failed_logins": 0, "locale": "zh_CN", "created_at": now, "version": 1}
            for i, uid in enumerate(ids)])
        db.session.commit()
        return list(ids)


def bulletin_to_units(app, unit_ids: list[int], workdir: Path) -> dict:
    from webapp.core import tasks
    from webapp.core.extensions import db
    from webapp.notifications.emit import LEAD, Item, People, notify_many
    from webapp.notifications.models import Delivery, Notification

    app.config["SMS_GATEWAY_URL"] = "http://127.0.0.1:9/sms"  # configured: deliveries are queued
    app.config["TASK_QUEUE_URL"] = f"sqlite:///{workdir / 'tasks.sqlite3'}"
    tasks.init_app(app)
    with app.app_context():
        t0 = time.perf_counter()
        people = People(unit_ids)
        items = [Item(people.of(u) + people.of(u, LEAD), "通报：2026年第12期", "请各单位对照整改。",
                      None, f"bench-bulletin:{u}") for u in unit_ids]
        ids = notify_many("bulletin", items, urgent=False)
        db.session.commit()
        seconds = time.perf_counter() - t0
        deliveries = db.session.scalar(sa.select(sa.func.count(Delivery.id)).join(
            Notification, Notification.id == Delivery.notification_id).where(Notification.id.in_(ids)))
        queued_tasks = tasks.queue(app).huey.pending_count()
    tasks.queue(app).huey.flush()
    app.config["TASK_QUEUE_URL"] = "immediate"
    app.config.pop("SMS_GATEWAY_URL")
    tasks.init_app(app)
    return {"units": len(unit_ids), "seconds": round(seconds, 3), "notifications": len(ids),
            "deliveries": deliveries, "tasks_enqueued": queued_tasks}


def fill_inbox(app, url: str, username: str, n: int) -> float:
    from webapp.accounts.models import User
    from webapp.core import clock
    from webapp.notifications.models import Notification

    with app.app_context():
        from webapp.core.extensions import db

        uid = db.session.scalar(sa.select(User.id).where(User.username == username))
        unit = db.session.scalar(sa.select(User.unit_id).where(User.id == uid))
    engine = q.loading_engine(url)
    t0 = time.perf_counter()
    now = clock.now()
    kinds = ["assigned", "remind", "bulletin", "deadline_due", "sign_for_overdue"]
    chunk = 20_000
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            conn.execute(sa.insert(Notification.__table__), [
                {"user_id": uid, "unit_id": unit, "kind": kinds[i % 5], "title": f"压测消息 {i}", "body": "",
                 "target_type": None, "target_id": None, "is_urgent": False, "dedupe_key": None,
                 "created_at": now, "read_at": now if i % 3 else None}
                for i in range(start, min(n, start + chunk))])
    engine.dispose()
    return time.perf_counter() - t0


def inbox_statements(app, username: str, repeat: int = 20) -> dict:
    from tests.cases.pages import counted_queries  # the test suite's statement counter

    client = q.login_test_client(app, username)
    out = {}
    with app.app_context():
        for path in ("/notifications", "/notifications?kind=remind", "/"):
            client.get(path)
            with counted_queries() as n:
                resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - t0)
            out[path] = {"statements": n[0], "median_ms": round(statistics.median(times) * 1000, 1)}
    return out


def sweeps(app, profile: str | None = None) -> dict:
    from webapp.cases.models import Problem
    from webapp.cases.workflow import HANDLING
    from webapp.core.extensions import db
    from webapp.supervision import limits, sweep

    out = {}
    with app.app_context():
        out["open_problems"] = db.session.scalar(sa.select(sa.func.count()).where(Problem.status.in_(HANDLING)))
        for name, run in (("limits", limits.run), ("sweep", sweep.run)):
            for attempt in ("first", "second"):
                profiler = cProfile.Profile() if profile and name == "limits" and attempt == "first" else None
                t0 = time.perf_counter()
                if profiler:
                    profiler.enable()
                result = run(source="bench")
                db.session.commit()
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(profile)
                    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
                told = result.as_dict()
                out[f"{name}_{attempt}"] = {"seconds": round(time.perf_counter() - t0, 2),
                                            **{k: v for k, v in told.items() if k != "date"}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite file in --workdir)")
    ap.add_argument("--problems", type=int, default=200_000)
    ap.add_argument("--inbox", type=int, default=1_000_000)
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--workdir")
    ap.add_argument("--report", help="also write the JSON results here")
    ap.add_argument("--profile", help="profile the first time-limit sweep (cProfile) into this file")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="huiyin-bench-notify-"))
    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        q.prepare_postgres(url)
    log(f"database {sa.make_url(url).render_as_string(hide_password=True)}; work folder {workdir}")
    app = q.make_app(url, instance)
    app.config["TASK_QUEUE_URL"] = "immediate"
    from webapp.core import tasks

    tasks.init_app(app)
    t0 = time.perf_counter()
    q.setup_database(app)
    log(f"set up in {time.perf_counter() - t0:.1f} s")
    results: dict = {"database": sa.make_url(url).get_backend_name()}

    units = add_units(app, args.units)
    results["bulletin"] = bulletin_to_units(app, units, workdir)
    log(f"通报 to {args.units} units: {results['bulletin']}")

    results["inbox_small"] = inbox_statements(app, "town")
    log(f"inbox at demo size: {results['inbox_small']}")
    seconds = fill_inbox(app, url, "town", args.inbox)
    log(f"{args.inbox:,} notifications inserted in {seconds:.1f} s")
    if url.startswith("postgresql"):
        with sa.create_engine(url).begin() as conn:
            conn.execute(sa.text("ANALYZE notifications"))
    results["inbox_large"] = inbox_statements(app, "town")
    log(f"inbox at {args.inbox:,}: {results['inbox_large']}")
    results["inbox_equal_statements"] = all(
        results["inbox_small"][p]["statements"] == results["inbox_large"][p]["statements"]
        for p in results["inbox_small"])

    filler = q.Filler(app, url, q.load_tree(app))
    seconds = filler.fill_to(args.problems)
    log(f"{args.problems:,} problems in {seconds:.1f} s")
    results["sweeps"] = sweeps(app, args.profile)
    log(f"sweeps: {results['sweeps']}")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if args.report:
        Path(args.report).write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
