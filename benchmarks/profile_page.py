#!/usr/bin/env python3
"""Profile one page in process (cProfile), against a database the queue benchmark left behind.

    .venv/bin/python benchmarks/queues.py --sizes 200000 --skip-http --keep --workdir /tmp/b
    .venv/bin/python benchmarks/profile_page.py --database-url sqlite:////tmp/b/bench.sqlite3 \\
        --user office --path '/cases?tab=overdue' --requests 200

Logs in as the demo account (Flask test client), makes a few warm-up requests, then profiles
``--requests`` requests and prints the mean time per request, the SQL statements of one request
and the functions with the most cumulative and own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from queues import capture, login_test_client, make_app  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--instance", default=None, help="instance folder (default: beside a SQLite file, or a temp one)")
    ap.add_argument("--user", default="office")
    ap.add_argument("--path", default="/cases")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--statements", action="store_true", help="print the SQL of one request")
    args = ap.parse_args()

    import tempfile

    instance = Path(args.instance or tempfile.mkdtemp(prefix="huiyin-profile-"))
    app = make_app(args.database_url, instance)
    from webapp.core.extensions import db

    client = login_test_client(app, args.user)
    for _ in range(5):
        resp = client.get(args.path)
        assert resp.status_code == 200, resp.status_code
    with app.app_context():
        engine = db.engine
    with capture(engine) as cap:
        client.get(args.path)
    print(f"{len(cap.statements)} statements, {sum(s for _q, _p, s in cap.statements) * 1000:.1f} ms in the database")
    if args.statements:
        for sql, _params, secs in cap.statements:
            print(f"--- {secs * 1000:.2f} ms\n{sql[:400]}")
    t0 = time.perf_counter()
    for _ in range(args.requests):
        client.get(args.path)
    plain = (time.perf_counter() - t0) / args.requests
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.requests):
        client.get(args.path)
    prof.disable()
    print(f"{plain * 1000:.2f} ms per request (unprofiled), {len(resp.data):,} bytes")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
