#!/usr/bin/env python3
"""Benchmark of visit coverage, 我的包户 and the register import (a script, not a test).

For each size (households; enterprises are 1/20 of it, visits 3× in two rounds, and one cadre per
100 households so that a cadre's list stays a cadre's), in a fresh database:

1. Migrations, the demo organisation, accounts and problems (``benchmarks/queues.setup_database``),
   then the register, its cadres and visits by bulk inserts.
2. In process (Flask test client), each page ``--repeat`` times: the district's coverage (office,
   by town), a town's (潘安湖街道's handler, by village), a cadre's 我的包户, and the hello page of
   the same app (``/healthz``) as the baseline — p50/p95 in ms, ratio to hello, SQL statements per
   page (must not grow with the size).
3. ``--import-rows N``: an xlsx of N households written (write-only), then imported by the job's
   own functions (``imports.validate`` + ``imports.write``) in a child process: seconds and peak
   memory (max RSS).

Usage::

    .venv/bin/python benchmarks/visits.py --sizes 1000,100000 --import-rows 100000
    .venv/bin/python benchmarks/visits.py --sizes 1000,100000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks import queues as q  # noqa: E402

log = q.log
PAGES = [("district coverage", "office", "/visits/coverage?by=town"),
         ("town coverage", "town", "/visits/coverage?by=village"),
         ("district uncovered list", "office", "/visits/coverage/uncovered?by=district"),
         ("town uncovered list", "town", "/visits/coverage/uncovered?by=district"),
         ("my households", "cadre", "/visits/mine"),
         ("hello (/healthz)", "office", "/healthz")]


def fill(app, households: int, seed: int = 7) -> dict:
    """The register, its cadres and visits for ``households`` households (bulk inserts)."""
    from webapp.accounts.models import User
    from webapp.core import clock
    from webapp.core.extensions import db
    from webapp.demo.registers import rounds_for
    from webapp.org.models import Unit, UnitKind, work_group_units
    from webapp.visits.models import Enterprise, Household, Visit, VisitRound

    rng = random.Random(seed)  # noqa: S311 - benchmark data
    with app.app_context():
        engine = db.engine
        today = clock.today()
        now = clock.now()
        villages = db.session.execute(select_villages(Unit, UnitKind)).all()
        groups = dict(db.session.execute(sa.select(work_group_units.c.unit_id, work_group_units.c.work_group_id)).all())
        cadre = db.session.scalar(sa.select(User).where(User.username == "cadre"))
        pw = cadre.password_hash
        with engine.begin() as conn:
            for name, start, end in rounds_for(today):
                conn.execute(sa.insert(VisitRound.__table__), {"name": name, "starts_on": start, "ends_on": end,
                                                                "created_at": now})
            # One cadre per 100 households, in the group of the households' town.
            n_cadres = max(1, households // 100)
            first_user = conn.execute(sa.select(sa.func.max(User.id))).scalar() + 1
            towns = sorted({v.parent_id for v in villages if v.parent_id in groups})
            users = [{"id": first_user + i, "username": f"bench-cadre-{i}", "full_name": f"队员{i}",
                      "unit_id": groups[towns[i % len(towns)]], "role": "cadre", "password_hash": pw,
                      "password_changed_at": now, "must_change_password": False, "is_demo": False, "is_active": True,
                      "failed_logins": 0, "locale": "zh_CN", "created_at": now, "version": 1}
                     for i in range(n_cadres)]
            for i in range(0, len(users), 5000):
                conn.execute(sa.insert(User.__table__), users[i:i + 5000])
        town_cadres: dict[int, list[tuple[int, int]]] = {}
        for u in users:
            town = towns[(u["id"] - first_user) % len(towns)]
            town_cadres.setdefault(town, []).append((u["id"], u["unit_id"]))
        eligible = [v for v in villages if v.parent_id in town_cadres]
        first_h = 1
        rounds = rounds_for(today)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            batch, vbatch, hid, vid = [], [], first_h, conn.execute(sa.select(sa.func.max(Visit.id))).scalar() or 0
            home_town_first_cadre = (cadre.id, cadre.unit_id)
            for k in range(households):
                v = eligible[k % len(eligible)]
                cadre_id, group_id = (home_town_first_cadre if k < 100 else
                                      town_cadres[v.parent_id][(k // 100) % len(town_cadres[v.parent_id])])
                batch.append({"id": hid, "village_id": v.id, "town_id": v.parent_id, "number": f"B{k:07d}",
                              "head_name": "户主", "initials": "hz", "address": "", "members": 3, "phone": "",
                              "cadre_id": cadre_id, "work_group_id": group_id, "is_closed": False,
                              "closed_reason": "", "created_at": now, "row_hash": "", "version": 1})
                for r, (_n, start, end) in enumerate(rounds):
                    if rng.random() < (0.95 if r == 0 else 0.6):
                        vid += 1
                        day = start + timedelta(days=rng.randint(0, (min(end, today) - start).days))
                        vbatch.append({"id": vid, "visited_on": day, "village_id": v.id, "town_id": v.parent_id,
                                       "work_group_id": group_id, "household_kind": "household",
                                       "household_name": "户主", "visitors": "", "situation": "", "demands": "",
                                       "created_by_id": cadre_id, "created_at": now, "household_id": hid,
                                       "mode": "home", "met": "", "follow_up": "", "unregistered_reason": ""})
                        if rng.random() < 0.6:  # a second visit in the round
                            vid += 1
                            vbatch.append({**vbatch[-1], "id": vid})
                hid += 1
                if len(batch) >= 10000:
                    conn.execute(sa.insert(Household.__table__), batch)
                    conn.execute(sa.insert(Visit.__table__), vbatch)
                    batch, vbatch = [], []
            if batch:
                conn.execute(sa.insert(Household.__table__), batch)
            if vbatch:
                conn.execute(sa.insert(Visit.__table__), vbatch)
            firms = []
            town_list = sorted(town_cadres)
            for k in range(households // 20):
                t = town_list[k % len(town_list)]
                cid, gid = town_cadres[t][k % len(town_cadres[t])]
                firms.append({"name": f"企业{k}", "initials": "qy", "credit_code": None, "is_individual": True,
                              "town_id": t, "address": "", "contact_name": "", "phone": "", "size_band": "small",
                              "industry": "", "cadre_id": cid, "work_group_id": gid, "is_closed": False,
                              "closed_reason": "", "created_at": now, "row_hash": "", "version": 1})
            for i in range(0, len(firms), 10000):
                conn.execute(sa.insert(Enterprise.__table__), firms[i:i + 10000])
            if conn.dialect.name == "postgresql":
                for table in ("households", "visits", "users"):
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                         f"(SELECT max(id) FROM {table}))"))
                conn.execute(sa.text("ANALYZE"))
            else:
                conn.execute(sa.text("ANALYZE"))
        n_visits = vid
        # Loaded past the operations: the coverage counters are counted afresh, as after an import.
        from webapp.visits import counts

        db.session.rollback()  # end the read of the villages before the session writes
        t1 = time.perf_counter()
        counts.rebuild()
        db.session.commit()
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))  # the planner's statistics of the counters too
        log(f"coverage counters rebuilt in {time.perf_counter() - t1:.1f}s")
        log(f"filled {households} households, {len(firms)} enterprises, {n_visits} visits, {len(users)} cadres "
            f"in {time.perf_counter() - t0:.1f}s")
        return {"households": households, "enterprises": len(firms), "visits": n_visits, "cadres": len(users)}


def select_villages(Unit, UnitKind):
    return sa.select(Unit.id, Unit.parent_id).where(Unit.kind == UnitKind.village, Unit.is_active.is_(True))


def measure(app, repeat: int) -> dict:
    from webapp.core.extensions import db

    out = {}
    with app.app_context():
        engine = db.engine
    clients = {u: q.login_test_client(app, u) for u in {p[1] for p in PAGES}}
    for label, user, path in PAGES:
        client = clients[user]
        resp = client.get(path)
        assert resp.status_code == 200, (label, resp.status_code)
        with q.capture(engine) as cap:
            client.get(path)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out[label] = {"p50_ms": round(statistics.median(times), 2),
                      "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2),
                      "statements": len(cap.statements)}
    hello = out["hello (/healthz)"]["p50_ms"] or 0.01
    for v in out.values():
        v["x_hello_p50"] = round(v["p50_ms"] / hello, 1)
    return out


def run_size(url: str | None, households: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        db_url = url or f"sqlite:///{instance / 'bench.sqlite3'}"
        if url:
            q.prepare_postgres(url)
        app = q.make_app(db_url, instance)
        log(f"setting up the database for {households} households")
        q.setup_database(app)
        sizes = fill(app, households)
        result = {"size": sizes, "pages": measure(app, repeat)}
        with app.app_context():
            from webapp.core.extensions import db

            db.engine.dispose()
        return result


def import_child(path: str, url: str, instance: str) -> None:
    """In a child process: import the workbook as the job does; print seconds and max RSS."""
    from webapp.core.extensions import db
    from webapp.visits import imports

    app = q.make_app(url, Path(instance))
    with app.app_context():
        t0 = time.perf_counter()
        out, valid = imports.validate(Path(path), "households")
        t1 = time.perf_counter()
        imports.write("households", valid, out)
        db.session.commit()
        t2 = time.perf_counter()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": out.rows, "errors": len(out.errors), "created": out.created,
                      "validate_s": round(t1 - t0, 1), "write_s": round(t2 - t1, 1), "total_s": round(t2 - t0, 1),
                      "max_rss_mb": round(rss_mb)}))


def run_import(url: str | None, rows: int) -> dict:
    from openpyxl import Workbook

    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        db_url = url or f"sqlite:///{instance / 'import.sqlite3'}"
        if url:
            q.prepare_postgres(url)
        app = q.make_app(db_url, instance)
        q.setup_database(app)
        with app.app_context():
            from webapp.core.extensions import db
            from webapp.org.models import Unit, UnitKind

            villages = db.session.execute(sa.select(Unit.name, Unit.parent_id).where(
                Unit.kind == UnitKind.village, Unit.parent_id.in_(
                    sa.select(Unit.id).where(Unit.name == "潘安湖街道")))).all()
            db.engine.dispose()
        path = instance / "households.xlsx"
        t0 = time.perf_counter()
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("台账")
        from webapp.visits.imports import HOUSEHOLD_COLUMNS

        ws.append(list(HOUSEHOLD_COLUMNS))
        for k in range(rows):
            ws.append(["潘安湖街道", villages[k % len(villages)][0], f"I{k:07d}", "张建国", "一组", 3,
                       "13800138000", "低保" if k % 7 == 0 else "", "cadre"])
        wb.save(path)
        log(f"wrote {rows} rows ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f}s")
        child = [sys.executable, __file__, "--import-child", str(path), db_url, str(instance)]
        proc = subprocess.run(child, capture_output=True, text=True, check=True)  # noqa: S603 - this script
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,100000", help="households per run, comma-separated")
    ap.add_argument("--repeat", type=int, default=30, help="requests per page for p50/p95")
    ap.add_argument("--import-rows", type=int, default=0, help="rows of the import measurement (0: skip)")
    ap.add_argument("--database-url", default=None, help="PostgreSQL (emptied when named *bench*); default SQLite")
    ap.add_argument("--import-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.import_child:
        import_child(*args.import_child)
        return 0
    results = {}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        results[size] = run_size(args.database_url, size, args.repeat)
        log(json.dumps(results[size], ensure_ascii=False))
    if args.import_rows:
        results["import"] = run_import(args.database_url, args.import_rows)
        log(json.dumps(results["import"], ensure_ascii=False))
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
