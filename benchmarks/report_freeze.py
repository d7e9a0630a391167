#!/usr/bin/env python3
"""Benchmark of freezing a half-month report and printing it (a script, not a test).

The 半月调度统计表 is frozen when the office issues it (``stats.reports.issue``: the problem
figures as of the period end, reconstructed from the timeline, the visits coverage of the round by
town with its weekly trend, and the trend of every half month since the campaign's start), then
printed (``stats.documents.print_context`` + WeasyPrint). The bar: freeze + PDF < 5 s at 200,000
problems.

It reuses ``benchmarks/queues.py`` (the database through the migrations and the demo data, the
bulk generator of problems, assignments and their units, the statement capture) and
``benchmarks/dashboard.py`` (every bulk problem's timeline and callbacks), and loads the demo
registers (households, enterprises, two visiting rounds) so that the coverage has something to
count. At each size (``--sizes``, smallest first): fill, then issue the last ended period's report
(a correction when it is already issued), timed with its statement count, then render its PDF,
timed; ``--profile`` prints the functions that take the time (cProfile, cumulative).

Usage::

    .venv/bin/python benchmarks/report_freeze.py --sizes 1000,200000
    .venv/bin/python benchmarks/report_freeze.py --sizes 1000 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks import dashboard as dash  # noqa: E402
from benchmarks import queues as q  # noqa: E402

log = q.log
BAR_SECONDS = 5.0


def freeze_and_print(app, period, profile: bool) -> dict:
    """Issue (or correct) ``period``'s report and render its PDF, each timed."""
    from flask_babel import force_locale

    from webapp.accounts.models import User
    from webapp.core.extensions import db
    from webapp.documents.pdf import render_pdf
    from webapp.stats import documents
    from webapp.stats import reports as rep

    profiler = cProfile.Profile() if profile else None
    with app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.username == "office"))
        existing = rep.current_report(period)
        with q.capture(db.engine) as cap:
            if profiler:
                profiler.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            if existing is None:
                report = rep.issue(user, period)
            else:
                report = rep.reissue(user, existing, reason="基准测试更正", version=existing.version)
            db.session.commit()
            freeze, freeze_cpu = time.perf_counter() - t0, time.process_time() - c0
            t1, c1 = time.perf_counter(), time.process_time()
            with force_locale("zh_CN"):
                data = render_pdf("half_month_report", **documents.print_context(report))
            pdf, pdf_cpu = time.perf_counter() - t1, time.process_time() - c1
            if profiler:
                profiler.disable()
        figures = report.figures
        out = {"freeze": freeze, "pdf": pdf, "total": freeze + pdf, "cpu": freeze_cpu + pdf_cpu,
               "freeze_cpu": freeze_cpu, "pdf_cpu": pdf_cpu, "statements": len(cap.statements),
               "pdf_bytes": len(data), "problems": figures["district"]["total"],
               "trend_periods": len(figures.get("trend") or []),
               "coverage_towns": len((figures.get("coverage") or {}).get("towns") or []),
               "coverage_weeks": len((figures.get("coverage") or {}).get("weeks") or [])}
        db.session.remove()
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,200000", help="problem counts, smallest first")
    ap.add_argument("--database-url", help="default: a SQLite file in the work folder")
    ap.add_argument("--workdir")
    ap.add_argument("--profile", action="store_true", help="print where the time goes (cProfile)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="huiyin-bench-report-"))
    instance = workdir / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        q.prepare_postgres(url)
    load1, load5, load15 = os.getloadavg()
    log(f"machine: {os.cpu_count()} CPUs, load average {load1:.2f} {load5:.2f} {load15:.2f}")
    app = q.make_app(url, instance)
    t0 = time.perf_counter()
    q.setup_database(app)
    with app.app_context():
        from webapp.core.extensions import db
        from webapp.demo.registers import load_registers

        counts = load_registers()
        db.session.commit()
    log(f"migrated, demo data and registers ({counts}) loaded in {time.perf_counter() - t0:.1f} s")
    tree = q.load_tree(app)
    filler = q.Filler(app, url, tree)
    timeline = dash.Timeline(app, url, tree)
    from webapp.core.periods import Period

    period = Period.of(tree.today).previous()
    results = []
    for n in sizes:
        secs = filler.fill_to(n)
        log(f"filled to {n:,} problems in {secs:.1f} s")
        secs, events, replies = timeline.fill()
        log(f"timeline: {events:,} events and {replies:,} callbacks in {secs:.1f} s")
        for attempt in ("first", "again"):
            r = freeze_and_print(app, period, args.profile and attempt == "again")
            load1, _l5, _l15 = os.getloadavg()
            verdict = "ok" if r["total"] < BAR_SECONDS else f"OVER the {BAR_SECONDS:.0f} s bar"
            log(f"{n:,} problems ({attempt}): freeze {r['freeze']:.2f} s ({r['statements']} statements), "
                f"PDF {r['pdf']:.2f} s ({r['pdf_bytes'] // 1024} KB), total {r['total']:.2f} s — {verdict}; "
                f"CPU of this process {r['freeze_cpu']:.2f} + {r['pdf_cpu']:.2f} s; "
                f"trend {r['trend_periods']} half months, coverage {r['coverage_towns']} towns / "
                f"{r['coverage_weeks']} weeks; load {load1:.2f}")
            if r.get("profile"):
                print(r["profile"])
            results.append((n, attempt, r))
    print("\nsize              freeze    pdf   total   (CPU)  statements")
    for n, attempt, r in results:
        print(f"{n:>9,} {attempt:<5} {r['freeze']:6.2f} {r['pdf']:6.2f} {r['total']:6.2f} {r['cpu']:6.2f}  "
              f"{r['statements']}")
    return 0 if all(r["total"] < BAR_SECONDS for n, _a, r in results if n == sizes[-1]) else 1


if __name__ == "__main__":
    sys.exit(main())
