"""Coverage counters: covered / total per round and place, kept by the writes that change them.

Counting coverage on every page view walks the whole register in the reader's scope — a million
households for the district. Instead three small tables are kept in the writers' transaction:

* ``coverage_placed`` — where each *open* household or enterprise is counted: its town, village,
  work group and cadre (a closed entry has no row);
* ``coverage_covered`` — each (round, entry) with at least one visit dated inside the round;
* ``coverage_counts`` — per round, register (``h``/``e``), grouping (district, town, village, group,
  cadre) and place, how many open entries there are (round 0) and how many are covered.

A write that changes coverage calls ``recount`` with the entries it touched (the operations of
``visits.operations`` do; imports and bulk loads too): the entries' old placement and covered
rounds are read from the first two tables, their new ones from the register and the visits, and
only the difference is added to the counters (rows in one fixed order, so concurrent writers queue
instead of deadlocking). A new or changed round is counted by ``rebuild_round`` in a few grouped
statements; ``rebuild`` counts everything afresh; ``verify`` compares the counters with a fresh
count (``flask coverage verify|rebuild``).
"""

from collections import Counter, defaultdict

from sqlalchemy import (
    Index,
    Integer,
    String,
    and_,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from ..core.extensions import db
from .models import Enterprise, Household, Visit, VisitRound

TOTAL = 0  # the round id of the "open entries" rows
BYS = ("district", "town", "village", "group", "cadre")
KIND = {Household: "h", Enterprise: "e"}
MODELS = {"h": Household, "e": Enterprise}
CHUNK = 2000


class CoverageCount(db.Model):
    """Open entries (round 0) or covered ones (a round) of one register in one place."""

    __tablename__ = "coverage_counts"
    __table_args__ = (Index("ix_coverage_counts_read", "kind", "by", "round_id", "key_id", "n"),)

    round_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    by: Mapped[str] = mapped_column(String(8), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(Integer, default=0)


class CoveragePlaced(db.Model):
    """Where an open entry was last counted (no foreign keys: it is a record of the counting)."""

    __tablename__ = "coverage_placed"

    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    town_id: Mapped[int] = mapped_column(Integer)
    village_id: Mapped[int] = mapped_column(Integer)  # 0 for an enterprise
    group_id: Mapped[int] = mapped_column(Integer)
    cadre_id: Mapped[int] = mapped_column(Integer)


class CoverageCovered(db.Model):
    """An entry visited inside a round (the lists' 已走访/未走访 read this, never the visits)."""

    __tablename__ = "coverage_covered"
    __table_args__ = (Index("ix_coverage_covered_entry", "kind", "entry_id"),)

    round_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


def _places(kind: str, town, village, group, cadre) -> list[tuple[str, int]]:
    out = [("district", 0), ("town", town)]
    if kind == "h":
        out.append(("village", village))
    return out + [("group", group), ("cadre", cadre)]


# ---------------------------------------------------------------- keeping them


def _upsert_add(conn, delta: Counter) -> None:
    rows = [{"round_id": r, "kind": k, "by": b, "key_id": key, "n": n}
            for (r, k, b, key), n in sorted(delta.items()) if n]  # one order for every writer
    if not rows:
        return
    t = CoverageCount.__table__
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t)
    conn.execute(stmt.on_conflict_do_update(index_elements=["round_id", "kind", "by", "key_id"],
                                            set_={"n": t.c.n + stmt.excluded.n}), rows)


def _placement(conn, model, ids) -> dict[int, tuple]:
    t = model.__table__
    village = t.c.village_id if model is Household else literal(0)
    return {r[0]: tuple(r[1:]) for r in conn.execute(
        select(t.c.id, t.c.town_id, village, t.c.work_group_id, t.c.cadre_id)
        .where(t.c.id.in_(ids), t.c.is_closed.is_(False)))}


def _visited_rounds(conn, model, ids) -> dict[int, set[int]]:
    v, r = Visit.__table__, VisitRound.__table__
    column = v.c.household_id if model is Household else v.c.enterprise_id
    out: dict[int, set[int]] = defaultdict(set)
    for entry_id, round_id in conn.execute(
            select(column, r.c.id).distinct().select_from(v)
            .join(r, and_(v.c.visited_on >= r.c.starts_on, v.c.visited_on <= r.c.ends_on))
            .where(column.in_(ids))):
        out[entry_id].add(round_id)
    return out


def recount(model, ids) -> None:
    """Count the entries ``ids`` of ``model`` again (after any write that may move, open, close or
    visit them): take out what they were counted as, add what they are now."""
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return
    conn = db.session.connection()
    kind = KIND[model]
    placed, covered = CoveragePlaced.__table__, CoverageCovered.__table__
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        old_place = {r[0]: tuple(r[1:]) for r in conn.execute(
            select(placed.c.entry_id, placed.c.town_id, placed.c.village_id, placed.c.group_id, placed.c.cadre_id)
            .where(placed.c.kind == kind, placed.c.entry_id.in_(chunk)))}
        old_rounds: dict[int, set[int]] = defaultdict(set)
        for entry_id, round_id in conn.execute(select(covered.c.entry_id, covered.c.round_id).where(
                covered.c.kind == kind, covered.c.entry_id.in_(chunk))):
            old_rounds[entry_id].add(round_id)
        new_place = _placement(conn, model, chunk)
        new_rounds = _visited_rounds(conn, model, chunk)
        delta: Counter = Counter()
        moved, visited = [], []
        for entry_id in chunk:
            before, after = old_place.get(entry_id), new_place.get(entry_id)
            r_before, r_after = old_rounds.get(entry_id, set()), new_rounds.get(entry_id, set())
            if before == after and r_before == r_after:
                continue
            for place, rounds_, sign in ((before, r_before, -1), (after, r_after, 1)):
                if place is None:
                    continue
                for by, key in _places(kind, *place):
                    delta[(TOTAL, kind, by, key)] += sign
                    for round_id in rounds_:
                        delta[(round_id, kind, by, key)] += sign
            if before != after:
                moved.append(entry_id)
            if r_before != r_after:
                visited.append(entry_id)
        _upsert_add(conn, delta)
        if moved:
            conn.execute(delete(placed).where(placed.c.kind == kind, placed.c.entry_id.in_(moved)))
            rows = [{"kind": kind, "entry_id": i, "town_id": p[0], "village_id": p[1], "group_id": p[2],
                     "cadre_id": p[3]} for i in moved if (p := new_place.get(i)) is not None]
            if rows:
                conn.execute(placed.insert(), rows)
        if visited:
            conn.execute(delete(covered).where(covered.c.kind == kind, covered.c.entry_id.in_(visited)))
            rows = [{"round_id": r, "kind": kind, "entry_id": i} for i in visited for r in new_rounds.get(i, ())]
            if rows:
                conn.execute(covered.insert(), rows)


def count_new(model, after_id: int) -> None:
    """Count the entries of ``model`` with an id above ``after_id`` that were never counted — the
    bulk path of an import's new rows: a few grouped statements instead of a recount by id."""
    conn = db.session.connection()
    kind = KIND[model]
    t, placed, covered = model.__table__, CoveragePlaced.__table__, CoverageCovered.__table__
    v, r = Visit.__table__, VisitRound.__table__
    column = v.c.household_id if model is Household else v.c.enterprise_id
    village = t.c.village_id if model is Household else literal(0)
    uncounted = ~select(placed.c.entry_id).where(placed.c.kind == kind, placed.c.entry_id == t.c.id).exists()
    conn.execute(placed.insert().from_select(
        ["kind", "entry_id", "town_id", "village_id", "group_id", "cadre_id"],
        select(literal(kind), t.c.id, t.c.town_id, village, t.c.work_group_id, t.c.cadre_id)
        .where(t.c.id > after_id, t.c.is_closed.is_(False), uncounted)))
    # Historical visits may already name the new entries (they are imported either way round).
    conn.execute(covered.insert().from_select(
        ["round_id", "kind", "entry_id"],
        select(r.c.id, literal(kind), column).distinct().select_from(v)
        .join(r, and_(v.c.visited_on >= r.c.starts_on, v.c.visited_on <= r.c.ends_on))
        .where(column > after_id, ~select(covered.c.entry_id).where(
            covered.c.round_id == r.c.id, covered.c.kind == kind, covered.c.entry_id == column).exists())))
    delta: Counter = Counter()
    columns = {"district": literal(0), "town": placed.c.town_id, "village": placed.c.village_id,
               "group": placed.c.group_id, "cadre": placed.c.cadre_id}
    for by, key in columns.items():
        if by == "village" and kind == "e":
            continue
        new = and_(placed.c.kind == kind, placed.c.entry_id > after_id)
        group = [] if by == "district" else [key]
        for k, n in conn.execute(select(key, func.count()).where(new).group_by(*group)):
            delta[(TOTAL, kind, by, k)] += n
        for round_id, k, n in conn.execute(
                select(covered.c.round_id, key, func.count()).select_from(placed)
                .join(covered, and_(covered.c.kind == kind, covered.c.entry_id == placed.c.entry_id))
                .where(new).group_by(covered.c.round_id, *group)):
            delta[(round_id, kind, by, k)] += n
    _upsert_add(conn, delta)


def _count_grouped(conn, kind: str, round_id: int) -> None:
    """Insert the counter rows of one round (or of the open entries, round 0) from the two record
    tables, one grouped statement per grouping."""
    placed, covered, counts_t = CoveragePlaced.__table__, CoverageCovered.__table__, CoverageCount.__table__
    columns = {"district": literal(0), "town": placed.c.town_id, "village": placed.c.village_id,
               "group": placed.c.group_id, "cadre": placed.c.cadre_id}
    for by in BYS:
        if by == "village" and kind == "e":
            continue
        key = columns[by]
        src = select(literal(round_id), literal(kind), literal(by), key, func.count()).select_from(placed)
        if round_id != TOTAL:
            src = src.join(covered, and_(covered.c.kind == placed.c.kind, covered.c.entry_id == placed.c.entry_id,
                                         covered.c.round_id == round_id))
        src = src.where(placed.c.kind == kind)
        if by != "district":
            src = src.group_by(key)
        conn.execute(counts_t.insert().from_select(["round_id", "kind", "by", "key_id", "n"], src))


def rebuild_round(round_id: int) -> None:
    """Count one round afresh (a new round, or one whose dates changed): its covered entries from
    the visits, its counters from them; the register's totals are untouched."""
    conn = db.session.connection()
    covered, counts_t = CoverageCovered.__table__, CoverageCount.__table__
    v, r = Visit.__table__, VisitRound.__table__
    conn.execute(delete(covered).where(covered.c.round_id == round_id))
    conn.execute(delete(counts_t).where(counts_t.c.round_id == round_id))
    for kind, column in (("h", v.c.household_id), ("e", v.c.enterprise_id)):
        src = (select(literal(round_id), literal(kind), column).distinct().select_from(v)
               .join(r, and_(r.c.id == round_id, v.c.visited_on >= r.c.starts_on, v.c.visited_on <= r.c.ends_on))
               .where(column.isnot(None)))
        conn.execute(covered.insert().from_select(["round_id", "kind", "entry_id"], src))
        _count_grouped(conn, kind, round_id)


def rebuild() -> int:
    """Count the whole register afresh (after a bulk load or a restore); returns the counter rows."""
    conn = db.session.connection()
    placed, covered, counts_t = CoveragePlaced.__table__, CoverageCovered.__table__, CoverageCount.__table__
    for t in (counts_t, covered, placed):
        conn.execute(delete(t))
    for kind, model in MODELS.items():
        t = model.__table__
        village = t.c.village_id if model is Household else literal(0)
        conn.execute(placed.insert().from_select(
            ["kind", "entry_id", "town_id", "village_id", "group_id", "cadre_id"],
            select(literal(kind), t.c.id, t.c.town_id, village, t.c.work_group_id, t.c.cadre_id)
            .where(t.c.is_closed.is_(False))))
        _count_grouped(conn, kind, TOTAL)
    for round_id in conn.execute(select(VisitRound.__table__.c.id)).scalars().all():
        rebuild_round(round_id)
    return conn.execute(select(func.count()).select_from(counts_t)).scalar_one()


def needs_first_count() -> bool:
    """Households are stored but none is counted yet (a database upgraded to the counters)."""
    return (db.session.scalar(select(Household.id).where(Household.is_closed.is_(False)).limit(1)) is not None
            and db.session.scalar(select(CoveragePlaced.entry_id).limit(1)) is None)


def fresh() -> Counter:
    """The counters computed from the register and the visits alone (what ``verify`` compares)."""
    conn = db.session.connection()
    out: Counter = Counter()
    v = Visit.__table__
    rounds_ = conn.execute(select(VisitRound.id, VisitRound.starts_on, VisitRound.ends_on)).all()
    for kind, model in MODELS.items():
        t = model.__table__
        column = v.c.household_id if model is Household else v.c.enterprise_id
        groups = {"district": literal(0), "town": t.c.town_id, "group": t.c.work_group_id, "cadre": t.c.cadre_id}
        if model is Household:
            groups["village"] = t.c.village_id
        for by, key in groups.items():
            for round_id, starts, ends in [(TOTAL, None, None), *rounds_]:
                stmt = select(key, func.count()).select_from(t).where(t.c.is_closed.is_(False))
                if round_id != TOTAL:
                    stmt = stmt.where(select(column).where(column == t.c.id, v.c.visited_on >= starts,
                                                           v.c.visited_on <= ends).exists())
                if by != "district":
                    stmt = stmt.group_by(key)
                for k, n in conn.execute(stmt):
                    if n:
                        out[(round_id, kind, by, k)] = n
    return out


def verify() -> dict[tuple, tuple[int, int]]:
    """Counter rows that differ from a fresh count: key → (kept, fresh). Empty when all agree."""
    t = CoverageCount.__table__
    kept = {(r, k, b, key): n for r, k, b, key, n in db.session.execute(
        select(t.c.round_id, t.c.kind, t.c.by, t.c.key_id, t.c.n)) if n}
    now = fresh()
    return {key: (kept.get(key, 0), now.get(key, 0)) for key in sorted(set(kept) | set(now))
            if kept.get(key, 0) != now.get(key, 0)}


# ---------------------------------------------------------------- reading them


def read(model, round_id: int, by: str, keys=None) -> dict[int, tuple[int, int]]:
    """(total, covered) per place of ``by`` in one statement; ``keys`` (a list or a subquery of
    place ids) limits the places."""
    t = CoverageCount.__table__
    stmt = select(t.c.key_id, t.c.round_id, t.c.n).where(
        t.c.kind == KIND[model], t.c.by == by, t.c.round_id.in_((TOTAL, round_id)), t.c.n != 0)
    if keys is not None:
        stmt = stmt.where(t.c.key_id.in_(keys))
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for key, r, n in db.session.execute(stmt):
        out[key][0 if r == TOTAL else 1] += n
    return {k: (v[0], v[1]) for k, v in out.items() if v[0]}
