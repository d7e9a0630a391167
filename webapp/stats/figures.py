"""The figures of DOMAIN §7, computed by SQL aggregates from the data — never kept by hand.

Every breakdown (the district, each town/street/zone, each lead unit, category and source) is
ONE grouped query with conditional counts (``COUNT(*) FILTER (WHERE …)``), so a page runs the
same number of statements whatever the number of problems.

What is counted (per problem unless told otherwise):

- ``total``: every problem in the scope, whatever its status (as of a period end: registered
  before it). ``solved``: signed off (已销号待回音) or closed (已办结). ``in_progress``: held by a
  unit (assigned … 暂难解决待审批) or waiting for verification (待核销). ``awaiting``: not yet
  assigned (待研判, 已退回, 已列入统筹清单). ``cannot_solve``: 暂难解决 (approved). ``other_ended``:
  not accepted or merged. The five add up to ``total``.
- ``overdue``: held by a unit with its deadline before today — the queues' "超期" (as of a period
  end: before the period's last day, as the queue showed it that day).
- ``on_time``: solved on a local date (Asia/Shanghai) not after the deadline; a problem solved
  on the spot has no deadline and counts as on time.
- ``signed`` / ``signed_on_time``: the lead unit signed for the current assignment
  (``Problem.accepted_at``, the lead part's ``signed_at``), on a local date not after the
  sign-for deadline.
- ``owed``: the problem reached a status that owes the resident a reply (signed off, closed, not
  accepted, merged, cannot solve now); ``replied``: that reply was given (``Problem.replied_at``,
  written with the ``Reply`` row; a closed problem has always been replied to).
- ``satisfied`` … ``refused``: callbacks (``Reply`` rows) by verdict; every callback counts,
  including an unsatisfied one that reopened the problem.
- ``reopened``: problems reopened at least once after an unsatisfied reply (``reopen_count > 0``).
- ``extended``: problems with an approved extension (延期); ``reworked``: problems whose sign-off
  the assigner sent back at least once (退回重办) — both counted against the lead unit.

Rates (percent, one decimal; None when the denominator is 0): solve = solved/total; on time =
on_time/solved; sign-for = signed_on_time/signed; reply = replied/owed; satisfaction =
(satisfied+basically)/(satisfied+basically+unsatisfied) (无法联系 and 拒评 are shown apart);
reopen = reopened/solved.

Two sources of the same figures: :class:`Live` (the problems as they are now: the dashboard) and
:class:`AsOf` (as they stood at the end of a half-month period: the half-month report), which
reconstructs each problem's status from its timeline — see its docstring.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import Date, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from ..cases.access import UNIT_ROLES, scope
from ..cases.models import SOURCE_LABELS, Category, Problem, ProblemEvent
from ..cases.workflow import HANDLING, OWES_REPLY, SOLVED, TRIAGE, Action, Status
from ..core import clock
from ..core.extensions import db
from ..core.periods import Period, recent
from ..handling.models import Closure, ClosureStatus, Extension, Reply, RequestStatus, Verdict
from ..org.models import Unit, UnitKind
from . import versions

# ---------------------------------------------------------------- SQL: the local date of an instant

_OFFSET_HOURS = int(clock.LOCAL_TZ.utcoffset(datetime(2000, 1, 1)).total_seconds() // 3600)


class local_date(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """The Asia/Shanghai calendar date of a stored UTC instant (comparable with a ``Date`` column)."""

    type = Date()
    name = "local_date"
    inherit_cache = True


@compiles(local_date)
def _local_date_pg(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE '{clock.LOCAL_TZ.key}') AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element, compiler, **kw):
    # China keeps no daylight saving time: a fixed offset is exact.
    return f"date({compiler.process(element.clauses, **kw)}, '+{_OFFSET_HOURS} hours')"


# ---------------------------------------------------------------- what is counted

IN_PROGRESS = HANDLING | {Status.pending_verification}
AWAITING = TRIAGE | {Status.listed}
OTHER_ENDED = frozenset({Status.not_accepted, Status.merged})
OWED = OWES_REPLY | {Status.closed}
VERDICTS = tuple(v.value for v in Verdict)
COUNTS = ("total", "solved", "in_progress", "awaiting", "overdue", "cannot_solve", "other_ended", "on_time",
          "signed", "signed_on_time", "owed", "replied", "reopened", "extended", "reworked", *VERDICTS)
# rate name → (numerator counts, denominator counts)
RATES = {
    "solve_rate": (("solved",), ("total",)),
    "on_time_rate": (("on_time",), ("solved",)),
    "sign_rate": (("signed_on_time",), ("signed",)),
    "reply_rate": (("replied",), ("owed",)),
    "satisfaction": (("satisfied", "basically"), ("satisfied", "basically", "unsatisfied")),
    "reopen_rate": (("reopened",), ("solved",)),
}


def pct(numerator: int, denominator: int) -> float | None:
    """A percentage with one decimal, rounded half up (63.2); None without a denominator."""
    if not denominator:
        return None
    value = (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(value)


def add_rates(row: dict) -> dict:
    for name, (num, den) in RATES.items():
        row[name] = pct(sum(row[k] for k in num), sum(row[k] for k in den))
    return row


# ---------------------------------------------------------------- the two sources


class Live:
    """The problems as they are now."""

    def __init__(self, today: date | None = None):
        self.today = today or clock.today()
        self.status = Problem.status
        self.solved_at = Problem.solved_at
        self.signed_at = Problem.accepted_at
        self.replied = Problem.replied_at.isnot(None)
        self.reopened = Problem.reopen_count > 0
        self.where = []
        self.replies_where = []

    def join(self, q):
        return q


class AsOf:
    """The problems as they stood at the end of ``period`` (the half-month report).

    Reconstructed from the timeline (``problem_events``, written with every transition):
    only problems registered before the period end count; a problem's status is the
    ``to_status`` of its last event before the end; it was solved at its last event into
    ``signed_off`` before the end; it had been replied to if it was closed, or, for the other
    endings, if a reply event follows the event that ended it; it had been reopened if a
    ``reply_reopen`` event precedes the end; the lead unit had signed for it if ``accepted_at``
    precedes the end; callbacks count if recorded before the end.

    Kept current, not reconstructed: the deadline, the sign-for deadline, the lead unit, the
    category and the territory. An extension approved, a reassignment or a category corrected
    after the period end therefore shows in a report issued later (the office issues the report
    right after the period, so this rarely differs; a correction re-issued later takes it in).
    """

    def __init__(self, period: Period):
        self.period = period
        self.end = period.end_utc  # exclusive
        self.today = period.end
        ev = ProblemEvent
        moved = ev.from_status != ev.to_status
        self.agg = (
            select(
                ev.problem_id.label("problem_id"),
                func.max(ev.id).label("last_id"),
                func.max(case((and_(ev.to_status == Status.signed_off, moved), ev.created_at))).label("solved_at"),
                func.max(case((and_(ev.to_status.in_(OWES_REPLY), moved), ev.id))).label("ended_id"),
                func.max(case((ev.action.in_((Action.reply.value, Action.reply_reopen.value)), ev.id))).label(
                    "reply_id"),
                func.max(case((ev.action == Action.reply_reopen.value, ev.id))).label("reopen_id"),
            )
            .where(ev.created_at < self.end)
            .group_by(ev.problem_id)
            .subquery("asof")
        )
        self.last = aliased(ProblemEvent, name="asof_last")
        self.status = self.last.to_status
        self.solved_at = self.agg.c.solved_at
        self.signed_at = case((Problem.accepted_at < self.end, Problem.accepted_at))
        self.replied = or_(self.status == Status.closed,
                           and_(self.status.in_(OWES_REPLY - {Status.signed_off}),
                                self.agg.c.reply_id > self.agg.c.ended_id))
        self.reopened = self.agg.c.reopen_id.isnot(None)
        self.where = [Problem.registered_at < self.end]
        self.replies_where = [Reply.created_at < self.end]

    def join(self, q):
        return (q.join(self.agg, self.agg.c.problem_id == Problem.id)
                .join(self.last, self.last.id == self.agg.c.last_id))


def _extended(src, problems=None):
    """Problems whose deadline was moved by an approved extension (延期, counted per problem):
    one row per problem, for an outer join (a hash join on PostgreSQL, not a probe per row);
    of the problems with the ids ``problems`` only, when given."""
    q = select(Extension.problem_id.label("problem_id")).where(Extension.status == RequestStatus.approved)
    if problems is not None:
        q = q.where(Extension.problem_id.in_(problems))
    end = getattr(src, "end", None)
    if end is not None:
        q = q.where(Extension.decided_at < end)
    return q.group_by(Extension.problem_id).subquery("extended")


def _reworked(src, problems=None):
    """Problems whose sign-off the assigner sent back at least once (退回重办: against the unit);
    of the problems with the ids ``problems`` only, when given."""
    q = select(Closure.problem_id.label("problem_id")).where(
        Closure.status == ClosureStatus.verification_rejected)
    if problems is not None:
        q = q.where(Closure.problem_id.in_(problems))
    end = getattr(src, "end", None)
    if end is not None:
        q = q.where(Closure.verified_at < end)
    return q.group_by(Closure.problem_id).subquery("reworked")


def _callbacks(src, where):
    """Callbacks per problem by verdict (at most one row per problem, for an outer join), of the
    problems of the slice only."""
    counts = [func.count().filter(Reply.verdict == Verdict(v)).label(v) for v in VERDICTS]
    q = select(Reply.problem_id.label("problem_id"), *counts).where(*src.replies_where)
    if where:
        q = q.where(Reply.problem_id.in_(select(Problem.id).where(*where)))
    return q.group_by(Reply.problem_id).subquery("callbacks")


def _columns(src, callbacks, extended, reworked) -> list:
    s = src.status
    solved = s.in_(SOLVED)
    owed = s.in_(OWED)
    signed = src.signed_at.isnot(None)

    def n(cond, name):
        return func.count().filter(cond).label(name)

    return [
        func.count().label("total"),
        n(solved, "solved"),
        n(s.in_(IN_PROGRESS), "in_progress"),
        n(s.in_(AWAITING), "awaiting"),
        n(and_(s.in_(HANDLING), Problem.deadline < src.today), "overdue"),
        n(s == Status.cannot_solve, "cannot_solve"),
        n(s.in_(OTHER_ENDED), "other_ended"),
        n(and_(solved, or_(Problem.deadline.is_(None), local_date(src.solved_at) <= Problem.deadline)), "on_time"),
        n(signed, "signed"),
        n(and_(signed, or_(Problem.sign_for_deadline.is_(None),
                           local_date(src.signed_at) <= Problem.sign_for_deadline)), "signed_on_time"),
        n(owed, "owed"),
        n(and_(owed, src.replied), "replied"),
        n(src.reopened, "reopened"),
        n(extended.c.problem_id.isnot(None), "extended"),
        n(reworked.c.problem_id.isnot(None), "reworked"),
        *[func.coalesce(func.sum(callbacks.c[v]), 0).label(v) for v in VERDICTS],
    ]


# ---------------------------------------------------------------- breakdowns

DIMENSIONS = ("district", "territory", "unit", "category", "source")


def slice_of(user) -> list:
    """The WHERE clauses of ``user``'s slice: the one visibility scope, and for a unit only the
    problems it leads (a cooperating unit's part is not its own figure)."""
    conds = [scope(user)]
    if user.role in UNIT_ROLES:
        conds.append(Problem.lead_unit_id == user.unit_id)
    return conds


# The finest grain every breakdown is summed from: one pass over the problems for all five.
GRAIN = {"town_id": Problem.town_id, "lead_unit_id": Problem.lead_unit_id,
         "category_id": Problem.category_id, "source": Problem.source}


def grouped(where: list, src) -> list[dict]:
    """One grouped query: the counts per (territory, lead unit, category, source)."""
    callbacks, extended, reworked = _callbacks(src, where), _extended(src), _reworked(src)
    q = select(*[c.label(n) for n, c in GRAIN.items()], *_columns(src, callbacks, extended, reworked))
    q = (src.join(q.select_from(Problem))
         .outerjoin(callbacks, callbacks.c.problem_id == Problem.id)
         .outerjoin(extended, extended.c.problem_id == Problem.id)
         .outerjoin(reworked, reworked.c.problem_id == Problem.id)
         .where(*where, *src.where)
         .group_by(*GRAIN.values()))
    return [{**{n: r[n] for n in GRAIN}, **{k: int(r[k] or 0) for k in COUNTS}}
            for r in db.session.execute(q).mappings()]


FIELDS = {"district": None, "territory": "town_id", "unit": "lead_unit_id", "category": "category_id",
          "source": "source"}


def summed(rows: list[dict]) -> dict[str, dict]:
    """Each breakdown's counts per key, summed from ``grouped``'s rows in one pass. The result is
    what a dashboard keeps for its data version: later views only name and order its few rows."""
    out: dict[str, dict] = {dim: {} for dim in DIMENSIONS}
    for r in rows:
        for dim, field_ in FIELDS.items():
            key = None if field_ is None else r[field_]
            acc = out[dim].get(key)
            if acc is None:
                acc = out[dim][key] = dict.fromkeys(COUNTS, 0)
            for k in COUNTS:
                acc[k] += r[k]
    return out


def _units_named(ids) -> dict:
    """The territories and lead units with these ids: id → (id, name, kind), one statement."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(select(Unit.id, Unit.name, Unit.kind).where(Unit.id.in_(ids)))}


def breakdown(dim: str, where: list, src, rows: list[dict] | None = None, units: dict | None = None,
              sums: dict | None = None) -> list[dict]:
    """The rows of one breakdown (``key``, ``name``, ``kind`` and the counts with rates), from
    ``summed`` (given, or summed from ``grouped``'s rows, run here unless given)."""
    if dim not in DIMENSIONS:
        raise ValueError(dim)
    if sums is None:
        sums = summed(grouped(where, src) if rows is None else rows)
    mine = sums[dim]
    if dim == "district":
        return [add_rates(dict(mine.get(None) or dict.fromkeys(COUNTS, 0)))]
    out = []
    if dim in ("territory", "unit"):
        units = _units_named(mine) if units is None else units
        for key in sorted(mine, key=lambda k: (k is None, k or 0)):  # no lead unit yet: last
            u = units.get(key)
            out.append({**mine[key], "key": key, "name": u.name if u else None,
                        "kind": u.kind.value if u else None})
    elif dim == "category":
        ids = list(mine)
        cats = {c.id: c for c in db.session.execute(
            select(Category.id, Category.name, Category.sort_order).where(Category.id.in_(ids))).all()} if ids else {}
        for key in sorted(mine, key=lambda k: (cats[k].sort_order, k)):
            out.append({**mine[key], "key": key, "name": cats[key].name, "kind": None})
    else:
        for key in sorted(mine):
            out.append({**mine[key], "key": key, "name": SOURCE_LABELS.get(key, key), "kind": None})
    return [add_rates(r) for r in out]


def _json_names(rows: list[dict]) -> list[dict]:
    for r in rows:
        if r.get("name") is not None:
            r["name"] = str(r["name"])
    return rows


@dataclass
class Figures:
    district: dict
    territories: list[dict]
    units: list[dict]
    categories: list[dict]
    sources: list[dict]
    trend: list[dict] = field(default_factory=list)

    @property
    def departments(self) -> list[dict]:
        return [r for r in self.units if r["kind"] == UnitKind.department.value]

    @property
    def overdue_units(self) -> list[dict]:
        """Lead units with overdue problems, most overdue first."""
        rows = [r for r in self.units if r["key"] is not None and r["overdue"]]
        return sorted(rows, key=lambda r: (-r["overdue"], r["key"]))


def compute(where: list, src, rows: list[dict] | None = None, sums: dict | None = None) -> Figures:
    """Every breakdown of the problems matching ``where``: one pass over the problems (``grouped``,
    unless its rows or their ``summed`` counts are given) and the names of the units and
    categories (two statements)."""
    if sums is None:
        sums = summed(grouped(where, src) if rows is None else rows)
    units = _units_named({*sums["territory"], *sums["unit"]})
    return Figures(
        district=breakdown("district", where, src, sums=sums)[0],
        territories=_json_names(breakdown("territory", where, src, units=units, sums=sums)),
        units=_json_names(breakdown("unit", where, src, units=units, sums=sums)),
        categories=_json_names(breakdown("category", where, src, sums=sums)),
        sources=_json_names(breakdown("source", where, src, sums=sums)),
    )


def trend(where: list, periods: list[Period]) -> list[dict]:
    """Per half-month period, in one query: problems registered and solved within it, and the
    cumulative solve rate at its end (problems solved now, with ``solved_at`` before the end,
    over problems registered before the end; a problem since reopened no longer counts)."""
    cols = []
    solved = Problem.status.in_(SOLVED)
    for i, p in enumerate(periods):
        start, end = p.start_utc, p.end_utc
        cols += [
            func.count().filter(and_(Problem.registered_at >= start, Problem.registered_at < end)).label(f"n{i}"),
            func.count().filter(and_(solved, Problem.solved_at >= start, Problem.solved_at < end)).label(f"s{i}"),
            func.count().filter(Problem.registered_at < end).label(f"cn{i}"),
            func.count().filter(and_(solved, Problem.solved_at < end)).label(f"cs{i}"),
        ]
    r = db.session.execute(select(*cols).select_from(Problem).where(*where)).mappings().one()
    return [{"period": p, "label": p.short_label, "registered": r[f"n{i}"], "solved": r[f"s{i}"],
             "total": r[f"cn{i}"], "solved_total": r[f"cs{i}"], "solve_rate": pct(r[f"cs{i}"], r[f"cn{i}"])}
            for i, p in enumerate(periods)]


TREND_PERIODS = 6

# The counts of a dashboard (a group's, the office's, the leader's), kept per process for the
# data version they were computed from (``stats.versions``: raised by every transaction that
# changes a problem, a callback, an extension or a sign-off), so the figures are never older than
# the data; a page opened again without a change in between reads one row instead of passing over
# every problem. Names are read fresh each time.
# ``STATS_CACHE_SIZE`` dashboards at most (0: always compute), per application (its database).
_CACHE_LOCK = threading.Lock()


def _cache() -> "OrderedDict[tuple, tuple[list[dict], list[dict]]]":
    return current_app.extensions.setdefault("huiyin_dashboard_counts", OrderedDict())


def counted(where: list, today: date) -> tuple[dict, list[dict]]:
    """A slice's summed counts and its trend, counted over its problems."""
    return summed(grouped(where, Live(today))), trend(where, recent(TREND_PERIODS, today=today))


def dashboard(user, *, today: date | None = None, count=counted) -> Figures:
    """The dashboard of ``user``'s slice: the breakdowns and the trend (the data version, then
    the summed counts and the trend unless this version's are at hand, and the names).
    ``count(where, today)`` gives the counts (``counted`` here; ``stats.sums`` reads them kept)."""
    today = today or clock.today()
    where = slice_of(user)
    src = Live(today)
    size = current_app.config.get("STATS_CACHE_SIZE", 64)
    key = (user.id, user.role, user.unit_id, today, versions.current()) if size else None
    cache = _cache()
    with _CACHE_LOCK:
        hit = cache.get(key) if size else None
        if hit is not None:
            cache.move_to_end(key)
    if hit is None:
        hit = count(where, today)
        if size:
            with _CACHE_LOCK:
                cache[key] = hit
                while len(cache) > size:
                    cache.popitem(last=False)
    sums, trend_rows = hit
    figures = compute(where, src, sums=sums)  # copies what it returns: the kept sums stay as they are
    figures.trend = [dict(r) for r in trend_rows]
    return figures
