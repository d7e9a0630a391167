"""The dashboards' sums, kept by the writes that change them, in the same transaction.

The office's dashboard sums every problem of the campaign five ways (district, territory, lead
unit, category, source) and over six half months. Counted afresh, that is a pass over every
problem — two seconds at 200,000 — and on a busy day every view follows some change. Instead
each problem adds one row of counts to its *cell* of ``stats_cells`` — (work group, territory,
lead unit, category, source) — and one to the half month it was registered in and one to the
half month it was solved in (``stats_periods``). What it added is recorded beside it
(``stats_counted``); after every flush that touched a problem, a callback (回访), an extension
(延期) or a sign-off (销号), the problem is counted again with the very expressions the dashboard
counts with (``figures._columns``) and the difference — only it — is added (rows written in one
order, so concurrent transactions queue rather than deadlock; every operation locks its
problem's row first, ``cases.pages.load``, so no two transactions count one problem at once).
A dashboard of the district or of a work group then sums the cells of its slice. Only 已超期
depends on the day: it is counted from the problems in handling whose deadline has passed, a
range of the partial index ``ix_problems_open_deadline_cells`` read alone.

Bulk loads that bypass the ORM (the demo campaign, the benchmarks) call ``rebuild``; ``verify``
(``flask counts verify``) compares the kept sums with a count of the problems.
"""

from collections import Counter, defaultdict
from datetime import date

from flask import current_app
from sqlalchemy import (
    Column,
    Date,
    Integer,
    String,
    Table,
    Text,
    and_,
    cast,
    delete,
    event,
    exists,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..accounts.roles import Role
from ..cases.access import SEE_ALL
from ..cases.counts import touched_problems
from ..cases.models import Problem
from ..cases.queries import open_problem
from ..cases.workflow import SOLVED, Status
from ..core.extensions import db
from ..core.periods import Period, recent
from ..handling.models import Closure, Extension, Reply
from . import figures

KEPT = tuple(c for c in figures.COUNTS if c != "overdue")  # 已超期 changes with the day: counted live
CELL = ("work_group_id", "town_id", "lead_unit_id", "category_id", "source")
REGISTERED, SOLVED_IN = "registered", "solved"

cells = Table(
    "stats_cells", db.metadata,
    Column("key", String(120), primary_key=True),
    Column("work_group_id", Integer),
    Column("town_id", Integer),
    Column("lead_unit_id", Integer),
    Column("category_id", Integer),
    Column("source", String(20)),
    *[Column(name, Integer, nullable=False, default=0) for name in KEPT],
)

periods = Table(
    "stats_periods", db.metadata,
    Column("key", String(60), primary_key=True),
    Column("work_group_id", Integer),
    Column("start", Date, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("n", Integer, nullable=False, default=0),
)

# What each problem added (its cell, its counts, its half months), to take it out again on change.
# No foreign key: the record must outlive a deleted problem long enough to be subtracted.
counted = Table(
    "stats_counted", db.metadata,
    Column("problem_id", Integer, primary_key=True, autoincrement=False),
    Column("kept", Text, nullable=False, default=""),
)


# ---------------------------------------------------------------- what one problem adds


def _cell_key(values) -> str:
    return "|".join("" if v is None else str(v) for v in values)


def _period_key(group, start: date, kind: str) -> str:
    return f"{'' if group is None else group}|{start.isoformat()}|{kind}"


def _contributions(conn, ids) -> dict[int, str]:
    """What each problem ``ids`` adds now, as the text ``stats_counted`` keeps: its cell key, its
    non-zero counts (``name=n``) and its half-month keys, a line each."""
    src = figures.Live()
    where = [Problem.id.in_(ids)]
    callbacks = figures._callbacks(src, where)
    extended, reworked = figures._extended(src, ids), figures._reworked(src, ids)
    columns = [c for c in figures._columns(src, callbacks, extended, reworked) if c.name != "overdue"]
    plain = [Problem.id, *[getattr(Problem, name) for name in CELL], Problem.status,
             Problem.registered_at, Problem.solved_at]
    q = (select(*plain, figures.local_date(Problem.registered_at).label("registered_on"),
                figures.local_date(Problem.solved_at).label("solved_on"), *columns)
         .select_from(Problem)
         .outerjoin(callbacks, callbacks.c.problem_id == Problem.id)
         .outerjoin(extended, extended.c.problem_id == Problem.id)
         .outerjoin(reworked, reworked.c.problem_id == Problem.id)
         .where(*where)
         .group_by(*plain))
    out = {}
    for r in conn.execute(q).mappings():
        group = r["work_group_id"]
        halves = [_period_key(group, Period.of(_as_date(r["registered_on"])).start, REGISTERED)]
        if Status(r["status"]) in SOLVED and r["solved_on"] is not None:
            halves.append(_period_key(group, Period.of(_as_date(r["solved_on"])).start, SOLVED_IN))
        counts = ",".join(f"{name}={int(r[name])}" for name in KEPT if r[name])
        out[r["id"]] = "\n".join([_cell_key(r[name] for name in CELL), counts, ",".join(halves)])
    return out


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # SQLite gives text


def _parse(text: str | None) -> tuple[str | None, Counter, list[str]]:
    if not text:
        return None, Counter(), []
    cell, counts, halves = (text.split("\n") + ["", ""])[:3]
    amounts = Counter({k: int(v) for k, v in (item.split("=") for item in counts.split(",") if item)})
    return cell, amounts, [h for h in halves.split(",") if h]


# ---------------------------------------------------------------- keeping them


def _upsert(conn, table, rows: list[dict], set_) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    index = [next(iter(table.primary_key.columns)).name]
    conn.execute(stmt.on_conflict_do_update(index_elements=index, set_=set_(stmt.excluded)), rows)


def _none_or_int(text: str):
    return int(text) if text else None


def _apply(conn, cell_delta: dict[str, Counter], period_delta: Counter) -> None:
    rows = []
    for key in sorted(cell_delta):  # one order for every writer: no deadlock
        amounts = cell_delta[key]
        if not any(amounts.values()):
            continue
        group, town, lead, category, source = key.split("|")
        rows.append({"key": key, "work_group_id": _none_or_int(group), "town_id": _none_or_int(town),
                     "lead_unit_id": _none_or_int(lead), "category_id": _none_or_int(category),
                     "source": source or None, **{name: amounts.get(name, 0) for name in KEPT}})
    if rows:
        _upsert(conn, cells, rows, lambda ex: {name: cells.c[name] + ex[name] for name in KEPT})
    rows = []
    for key in sorted(k for k, n in period_delta.items() if n):
        group, start, kind = key.split("|")
        rows.append({"key": key, "work_group_id": _none_or_int(group), "start": date.fromisoformat(start),
                     "kind": kind, "n": period_delta[key]})
    if rows:
        _upsert(conn, periods, rows, lambda ex: {"n": periods.c.n + ex.n})


def _add_into(cell_delta, period_delta, text: str | None, sign: int) -> None:
    cell, amounts, halves = _parse(text)
    if cell is None:
        return
    acc = cell_delta[cell]
    for name, n in amounts.items():
        acc[name] += sign * n
    for key in halves:
        period_delta[key] += sign


def recount(conn, ids) -> None:
    """Count the problems ``ids`` again: take out what they added, add what they add now."""
    ids = sorted(set(ids))
    if not ids:
        return
    old = dict(conn.execute(select(counted.c.problem_id, counted.c.kept).where(counted.c.problem_id.in_(ids))).all())
    new = _contributions(conn, ids)
    cell_delta: dict[str, Counter] = defaultdict(Counter)
    period_delta: Counter = Counter()
    changed, gone = [], []
    for pid in ids:
        if old.get(pid) == new.get(pid):
            continue
        _add_into(cell_delta, period_delta, old.get(pid), -1)
        _add_into(cell_delta, period_delta, new.get(pid), +1)
        if pid in new:
            changed.append({"problem_id": pid, "kept": new[pid]})
        else:
            gone.append(pid)
    _apply(conn, cell_delta, period_delta)
    if changed:
        _upsert(conn, counted, changed, lambda ex: {"kept": ex.kept})
    if gone:
        conn.execute(delete(counted).where(counted.c.problem_id.in_(gone)))


WATCHED = (Reply, Extension, Closure)


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context) -> None:
    ids = touched_problems(session, WATCHED)
    if ids:
        recount(session.connection(), ids)


def _fresh(conn) -> tuple[dict[str, Counter], Counter, dict[int, str]]:
    """Every problem counted from the stored rows, in chunks."""
    cell_total: dict[str, Counter] = defaultdict(Counter)
    period_total: Counter = Counter()
    records: dict[int, str] = {}
    t = Problem.__table__
    last = 0
    while True:
        ids = list(conn.execute(select(t.c.id).where(t.c.id > last).order_by(t.c.id).limit(5000)).scalars())
        if not ids:
            return cell_total, period_total, records
        for pid, text in _contributions(conn, ids).items():
            _add_into(cell_total, period_total, text, +1)
            records[pid] = text
        last = ids[-1]


def rebuild() -> int:
    """Count every problem afresh (after a bulk load); returns the number of cells."""
    conn = db.session.connection()
    cell_total, period_total, records = _fresh(conn)
    for table in (cells, periods, counted):
        conn.execute(delete(table))
    _apply(conn, cell_total, period_total)
    items = [{"problem_id": pid, "kept": text} for pid, text in records.items()]
    for i in range(0, len(items), 5000):
        conn.execute(counted.insert(), items[i:i + 5000])
    return sum(1 for amounts in cell_total.values() if any(amounts.values()))


def needs_first_count() -> bool:
    """Problems are stored but none is counted yet (a database upgraded to the kept sums)."""
    return bool(db.session.scalar(select(and_(exists(select(Problem.id)), ~exists(select(counted.c.problem_id))))))


# ---------------------------------------------------------------- reading them


def _slice(user):
    """The condition on cells and half months of ``user``'s dashboard, or None where the kept
    sums do not follow the slice (a unit's: the problems it leads among those it has a part in)."""
    if user.role in SEE_ALL:
        return lambda _table: true()
    if user.role == Role.group_lead:
        return lambda table: table.c.work_group_id == user.unit_id
    return None


def _overdue(where: list, today: date) -> list:
    """The problems in handling past their deadline, per cell grain of the dashboard: read from
    the open problems' deadlines with their cells alone (``ix_problems_open_deadline_cells``)."""
    grain = list(figures.GRAIN.values())
    q = (select(*[c.label(n) for n, c in figures.GRAIN.items()], func.count().label("n"))
         .where(*where, open_problem(), Problem.deadline < today)
         .group_by(*grain))
    return db.session.execute(q).mappings().all()


def kept_counts(cond, where: list, today: date) -> tuple[dict, list[dict]]:
    """The summed counts and the trend of a slice, read from the kept sums (``cond``: the slice's
    condition on a kept table) and the day's overdue problems: three statements."""
    out: dict[str, dict] = {dim: {} for dim in figures.DIMENSIONS}
    sums = [func.sum(cells.c[name]).label(name) for name in KEPT]
    branches = []
    for dim, field_ in figures.FIELDS.items():  # every breakdown in one statement
        key = cast(cells.c[field_], String) if field_ else cast(null(), String)
        q = select(literal(dim).label("dim"), key.label("key"), *sums).where(cond(cells))
        if field_:
            q = q.group_by(cells.c[field_])
        branches.append(q.having(func.sum(cells.c.total) > 0))
    for r in db.session.execute(union_all(*branches)).mappings():
        dim = r["dim"]
        out[dim][_key_of(dim, r["key"])] = {**{name: int(r[name]) for name in KEPT}, "overdue": 0}
    for r in _overdue(where, today):
        for dim, field_ in figures.FIELDS.items():
            acc = out[dim].get(None if field_ is None else r[field_])
            if acc is not None:
                acc["overdue"] += r["n"]
    for acc in (a for dim in out.values() for a in dim.values()):  # the columns in the dashboard's order
        order = {name: acc[name] for name in figures.COUNTS}
        acc.clear()
        acc.update(order)
    return out, _trend(cond, recent(figures.TREND_PERIODS, today=today))


def _key_of(dim: str, text):
    """A breakdown's key from its text in the union (ids are integers, sources text)."""
    if text is None or dim == "source":
        return text
    return int(text)


def _trend(cond, halves: list[Period]) -> list[dict]:
    amounts: dict[tuple[date, str], int] = defaultdict(int)
    q = (select(periods.c.start, periods.c.kind, func.sum(periods.c.n))
         .where(cond(periods)).group_by(periods.c.start, periods.c.kind))
    for start, kind, n in db.session.execute(q):
        amounts[(_as_date(start), kind)] += int(n)
    out = []
    for p in halves:
        total = sum(n for (start, kind), n in amounts.items() if kind == REGISTERED and start <= p.start)
        solved_total = sum(n for (start, kind), n in amounts.items() if kind == SOLVED_IN and start <= p.start)
        out.append({"period": p, "label": p.short_label, "registered": amounts[(p.start, REGISTERED)],
                    "solved": amounts[(p.start, SOLVED_IN)], "total": total, "solved_total": solved_total,
                    "solve_rate": figures.pct(solved_total, total)})
    return out


def dashboard(user, *, today: date | None = None) -> figures.Figures:
    """``user``'s dashboard: for the district and a work group from the kept sums, for a unit
    counted over its problems (``figures.dashboard`` keeps either per data version)."""
    cond = _slice(user)
    if cond is None or not current_app.config.get("STATS_KEPT_SUMS", True):
        return figures.dashboard(user, today=today)

    def count(where, day):
        if needs_first_count():  # upgraded but not yet counted (``flask setup`` counts)
            return figures.counted(where, day)
        return kept_counts(cond, where, day)

    return figures.dashboard(user, today=today, count=count)


def verify(today: date) -> dict[str, tuple]:
    """Where the kept sums differ from a count of the problems, for the district and each work
    group: "slice/breakdown/key/figure" → (kept, counted). Empty when all agree."""
    groups = db.session.scalars(select(Problem.work_group_id).distinct()).all()
    slices = [("district", lambda _table: true(), [])] + [
        (f"group:{g}", (lambda table, g=g: table.c.work_group_id == g), [Problem.work_group_id == g])
        for g in groups]
    diff = {}
    for name, cond, where in slices:
        kept_sums, kept_trend = kept_counts(cond, where, today)
        fresh_sums, fresh_trend = figures.counted(where, today)
        for dim in figures.DIMENSIONS:
            for key in set(kept_sums[dim]) | set(fresh_sums[dim]):
                a, b = kept_sums[dim].get(key, {}), fresh_sums[dim].get(key, {})
                for figure in figures.COUNTS:
                    if a.get(figure, 0) != b.get(figure, 0):
                        diff[f"{name}/{dim}/{key}/{figure}"] = (a.get(figure, 0), b.get(figure, 0))
        for a, b in zip(kept_trend, fresh_trend, strict=True):
            for figure in ("registered", "solved", "total", "solved_total"):
                if a[figure] != b[figure]:
                    diff[f"{name}/trend/{a['period'].start}/{figure}"] = (a[figure], b[figure])
    return diff
