#!/usr/bin/env python3
"""Benchmark of the historical visits' import (走访台账 with problems; a script, not a test).

In a fresh database (migrations, the demo organisation, accounts and problems, and a register of
``--households`` households by bulk inserts, as ``benchmarks/visits.py`` builds them), an xlsx of
``--rows`` rows — each a visit to one household with a problem, every fourth one 已办结 with its
close date — is checked and written by the job's own functions (``visit_imports.validate`` +
``visit_imports.write``, one commit per chunk as the job does): seconds per phase and per row.
``--profile N`` prints the 30 most expensive functions (cumulative) of the write.

Usage::

    .venv/bin/python benchmarks/visit_import.py --rows 2000
    .venv/bin/python benchmarks/visit_import.py --rows 500 --profile 30
    .venv/bin/python benchmarks/visit_import.py --rows 2000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/huiyin_bench
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks import queues as q  # noqa: E402
from benchmarks import visits as bv  # noqa: E402

log = q.log


def workbook(app, path: Path, rows: int) -> None:
    from openpyxl import Workbook

    from webapp.cases.models import Category
    from webapp.core import clock
    from webapp.core.extensions import db
    from webapp.org.models import Unit
    from webapp.visits.imports import VISIT_COLUMNS
    from webapp.visits.models import Household

    with app.app_context():
        names = dict(db.session.execute(sa.select(Unit.id, Unit.name)).all())
        entries = db.session.execute(sa.select(Household.number, Household.village_id, Household.town_id)
                                     .order_by(Household.id).limit(rows)).all()
        categories = db.session.scalars(sa.select(Category.name).where(Category.is_active.is_(True))).all()
        today = clock.today()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("走访台账")
    ws.append(list(VISIT_COLUMNS))
    for k in range(rows):
        number, village, town = entries[k % len(entries)]
        day = today - dt.timedelta(days=30 + k % 300)
        closed = k % 4 == 0
        ws.append([day, names[town], names[village], number, "", "", "cadre", "入户", "户主本人", "身体尚可", "",
                   "下月回访", "", f"问题{k}", f"第 {k} 行反映的问题", categories[k % len(categories)], "", "",
                   "已办结" if closed else "", day + dt.timedelta(days=5) if closed else None,
                   "已办结并答复" if closed else ""])
    wb.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--profile", type=int, default=0, help="print the N most expensive functions of the write")
    ap.add_argument("--database-url", default=None, help="PostgreSQL (emptied when named *bench*); default SQLite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        url = args.database_url or f"sqlite:///{instance / 'bench.sqlite3'}"
        if args.database_url:
            q.prepare_postgres(url)
        app = q.make_app(url, instance)
        log("setting up the database")
        q.setup_database(app)
        bv.fill(app, args.households)
        path = instance / "ledger.xlsx"
        workbook(app, path, args.rows)
        from flask_babel import force_locale

        from webapp.accounts.models import User
        from webapp.core.db import writing
        from webapp.core.extensions import db
        from webapp.visits import visit_imports as vi

        with app.app_context(), force_locale("zh_CN"):
            t0 = time.perf_counter()
            out, valid = vi.validate(path)
            t1 = time.perf_counter()
            db.session.commit()
            prof = cProfile.Profile() if args.profile else None
            with writing():
                office = db.session.scalar(sa.select(User).where(User.username == "office"))
                if prof:
                    prof.enable()
                vi.write(valid, out, office, chunk=getattr(vi, "CHUNK_ROWS", None))
                db.session.commit()
                if prof:
                    prof.disable()
            t2 = time.perf_counter()
            db.engine.dispose()
        result = {"rows": out.rows, "errors": len(out.errors), "first_error": out.errors[0][1] if out.errors else "",
                  "visits": out.visits_created, "problems": out.problems_created,
                  "validate_s": round(t1 - t0, 1), "write_s": round(t2 - t1, 1), "total_s": round(t2 - t0, 1),
                  "ms_per_row": round((t2 - t0) * 1000 / max(out.rows, 1), 1)}
        log(json.dumps(result, ensure_ascii=False))
        if prof:
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(args.profile)
            print(s.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
