#!/usr/bin/env python3
"""Load test: several app processes over one PostgreSQL, mixed reads and writes (Locust).

1. Prepares the database (``--database-url``, PostgreSQL; empty or named ``*bench*``): the
   migrations, the demo organisation and problems, then bulk rows up to ``--problems`` (the
   queue benchmark's filler) — or, with ``--reuse``, the problems already there.
2. Serves the app with gunicorn (``--workers`` sync processes, 127.0.0.1, a free port).
3. Runs ``benchmarks/locust_campaign.py`` headless: ``--users`` users (200) for ``--run-time``
   seconds (60): queues, problem pages, searches, 签收, 报送进展, 申请销号, 核销.
4. Then checks what must hold after concurrent writes: 0 failed requests, the kept counters equal
   a fresh count (``flask counts verify``), the audit chain verifies (``flask audit verify``);
   reports p50/p95/p99, requests, refused stale changes and each worker's RSS.
5. ``--sustain-minutes N``: N more minutes of load (``--sustain-users``), the workers' RSS sampled
   every minute (the memory target: < 250 MB after 30 minutes).

Every run is bounded in time; only 127.0.0.1 is contacted.

    createdb -h 127.0.0.1 -U postgres huiyin_bench_load
    .venv/bin/python benchmarks/load_test.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench_load --problems 10000
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from queues import (  # noqa: E402
    Filler,
    Server,
    load_tree,
    log,
    make_app,
    prepare_postgres,
    rebuild_counters,
    setup_database,
)

BIN = Path(sys.executable).parent


def rss_mb(master_pid: int) -> list[float]:
    """Resident memory of each gunicorn worker (children of the master), in MB."""
    out = []
    for child in Path("/proc").glob("[0-9]*"):
        try:
            status = (child / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip() or 0) == master_pid and "VmRSS" in fields:
            out.append(int(fields["VmRSS"].split()[0]) / 1024)
    return sorted(out)


def locust(port: int, users: int, spawn_rate: int, seconds: int, prefix: Path) -> dict:
    cmd = [str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "locust_campaign.py"), "--headless",
           "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s", "--stop-timeout", "10",
           "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180, check=False)  # noqa: S603
    def num(value: str) -> float:
        try:
            return float(value)
        except ValueError:  # "N/A": no request of that kind answered
            return float("nan")

    rows = list(csv.DictReader(Path(f"{prefix}_stats.csv").open()))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    failures = list(csv.DictReader(Path(f"{prefix}_failures.csv").open()))
    return {
        "exit": proc.returncode,
        "requests": int(total["Request Count"]), "failures": int(total["Failure Count"]),
        "rps": num(total["Requests/s"]), "p50_ms": num(total["50%"]), "p95_ms": num(total["95%"]),
        "p99_ms": num(total["99%"]), "max_ms": num(total["Max Response Time"]),
        "by_name": {r["Name"]: {"n": int(r["Request Count"]), "fail": int(r["Failure Count"]),
                                "p95_ms": num(r["95%"]), "p99_ms": num(r["99%"])}
                    for r in rows if r["Name"] != "Aggregated"},
        "failure_kinds": [(f["Name"], f["Error"], f["Occurrences"]) for f in failures][:20],
        "stderr_tail": proc.stderr[-1500:],
    }


def flask_cli(env: dict, *args: str) -> tuple[int, str]:
    proc = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True,  # noqa: S603
                          text=True, timeout=1800, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()[-2000:]


WRITES = {"sign_for": "签收", "progress": "报送进展", "request_signoff": "申请销号",
          "approve_signoff": "同意销号", "reject_signoff": "退回销号申请", "verify": "核销",
          "reject_verification": "退回重办"}


def written_since(url: str, since):
    """With ``since`` None: the timeline's last event id now. Otherwise what the timeline gained
    after that id, by action — the writes that took effect (a form re-shown with an error or a
    stale change refused writes nothing)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if since is None:
                return conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM problem_events")).scalar()
            rows = conn.execute(sa.text("SELECT action, count(*) FROM problem_events WHERE id > :since "
                                        "GROUP BY action ORDER BY count(*) DESC"), {"since": since}).all()
            return {action: n for action, n in rows}
    finally:
        engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True, help="PostgreSQL, empty or named *bench*")
    ap.add_argument("--problems", type=int, default=10_000)
    ap.add_argument("--reuse", action="store_true", help="use the database as it is (already set up and filled)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--spawn-rate", type=int, default=50)
    ap.add_argument("--run-time", type=int, default=60)
    ap.add_argument("--sustain-minutes", type=int, default=0)
    ap.add_argument("--sustain-users", type=int, default=50)
    ap.add_argument("--workdir")
    ap.add_argument("--report")
    args = ap.parse_args()
    if not args.database_url.startswith("postgresql"):
        sys.exit("the load test runs on PostgreSQL (several processes over one database)")

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="huiyin-load-"))
    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    log(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.reuse:
        prepare_postgres(args.database_url)
        app = make_app(args.database_url, instance)
        setup_database(app)
        secs = Filler(app, args.database_url, load_tree(app)).fill_to(args.problems)
        log(f"filled to {args.problems:,} problems in {secs:.1f} s; counters rebuilt in {rebuild_counters(app):.1f} s")
        with app.app_context():
            from webapp.core.extensions import db

            db.session.remove()
            db.engine.dispose()
    env = {**os.environ, "DATABASE_URL": args.database_url, "HUIYIN_INSTANCE": str(instance),
           "PYTHONPATH": str(ROOT), "FLASK_APP": "webapp"}
    code, out = flask_cli(env, "counts", "verify")
    log(f"before the load: flask counts verify → exit {code}")
    started = written_since(args.database_url, None)
    server = Server("webapp:create_app()", env, args.workers, workdir / "gunicorn.log")
    result: dict = {"workers": args.workers, "users": args.users, "run_time_s": args.run_time}
    try:
        server.wait("/healthz")
        log(f"load: {args.users} users for {args.run_time} s against {args.workers} gunicorn processes "
            f"on 127.0.0.1:{server.port}")
        result["load"] = locust(server.port, args.users, args.spawn_rate, args.run_time, workdir / "run")
        result["rss_mb_after_run"] = rss_mb(server.proc.pid)
        load = result["load"]
        log(f"  {load['requests']:,} requests, {load['failures']} failed, {load['rps']:.1f} req/s, "
            f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms")
        for name, row in sorted(load["by_name"].items()):
            log(f"    {name:32} {row['n']:6} requests, {row['fail']} failed, p99 {row['p99_ms']:.0f} ms")
        for kind in load["failure_kinds"]:
            log(f"    failure: {kind}")
        log(f"  worker RSS after the run: {', '.join(f'{x:.0f}' for x in result['rss_mb_after_run'])} MB")
        samples = []
        for minute in range(args.sustain_minutes):
            locust(server.port, args.sustain_users, args.spawn_rate, 60, workdir / f"sustain{minute}")
            samples.append((minute + 1, rss_mb(server.proc.pid)))
            log(f"  sustained {minute + 1} min: worker RSS {', '.join(f'{x:.0f}' for x in samples[-1][1])} MB")
        result["rss_sustained"] = samples
    finally:
        server.stop()
    result["written"] = written_since(args.database_url, started)
    log("  written (the problems' timeline since the load began): "
        + (", ".join(f"{WRITES.get(a, a)} {n:,}" for a, n in result["written"].items()) or "nothing"))
    code, out = flask_cli(env, "counts", "verify")
    result["counts_verify"] = {"exit": code, "output": out[-600:]}
    log(f"after: flask counts verify → exit {code}: {out.splitlines()[-1] if out else ''}")
    code, out = flask_cli(env, "audit", "verify")
    result["audit_verify"] = {"exit": code, "output": out[-600:]}
    log(f"after: flask audit verify → exit {code}: {out.splitlines()[-1] if out else ''}")
    result["load_average_end"] = os.getloadavg()
    log(f"load average now {' '.join(f'{x:.2f}' for x in result['load_average_end'])}")
    if args.report:
        Path(args.report).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    ok = (result["load"]["failures"] == 0 and result["counts_verify"]["exit"] == 0
          and result["audit_verify"]["exit"] == 0)
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
