"""The work queues' counters, kept by the writes that change them, in the same transaction.

Every queue tab shows how many problems wait in it (待签收 3, 已超期 12 …). Counting them on
every page view scans the user's whole scope — the office's is every problem of the campaign.
Instead each problem contributes a few *keys* — (scope, bucket, deadline day) — to the rows of
``problem_counts``: ``group:7|to_triage|`` for a problem waiting for the triage of work group 7,
``unit:12|deadline|2026-10-08`` for one a unit handles against that deadline, and so on. A tab's
count is then the sum of a few rows of its scope: the date-bound tabs (即将到期, 已超期) add the
``deadline`` rows whose day falls in their window, so they stay right as days pass, with no job.

The keys a problem contributes are recorded beside it (``problem_counted``); after every flush
that touched a problem or one of its assignment parts, its keys are computed again from the
stored rows, and the difference — and only it — is added to the counters (rows updated in a
fixed order, so concurrent transactions queue rather than deadlock). Bulk loads that bypass the
ORM (the demo campaign, the benchmark) call ``rebuild``; ``flask counts verify`` compares the
counters with a fresh count.
"""

from collections import Counter, defaultdict
from datetime import date

from sqlalchemy import Date, Index, Integer, String, Text, delete, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..accounts.roles import Role
from ..core.extensions import db
from .models import AssignmentUnit, PartStatus, Problem
from .workflow import HANDLING, OWES_REPLY, SOLVED, TRIAGE, Status

DEADLINE = "deadline"  # the bucket of problems in handling, one row per deadline day


class ProblemCount(db.Model):
    """How many problems of one scope fall in one bucket (on one deadline day)."""

    __tablename__ = "problem_counts"
    __table_args__ = (Index("ix_problem_counts_scope", "scope", "bucket", "day", "n"),)

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    bucket: Mapped[str] = mapped_column(String(20))
    day: Mapped[date | None] = mapped_column(Date)
    n: Mapped[int] = mapped_column(Integer, default=0)


class ProblemCounted(db.Model):
    """The keys a problem is counted under (newline-separated), to take it out again on change."""

    __tablename__ = "problem_counted"

    # No foreign key: the keys must outlive a deleted problem long enough to be subtracted.
    problem_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_list: Mapped[str] = mapped_column(Text, default="")


# ---------------------------------------------------------------- which keys a problem has


def _key(scope: str, bucket: str, day: date | None = None) -> str:
    return f"{scope}|{bucket}|{day.isoformat() if day else ''}"


def keys_of(p, parts) -> list[str]:
    """The counter keys of one problem (``p``: its row; ``parts``: its current (unit_id, status)).

    Mirrors ``queries.tab_conditions`` tab by tab (checked by ``verify`` against fresh counts).
    """
    status = Status(p.status)
    handling = status in HANDLING
    keys = [_key("all", "all")]
    owes_reply = p.reply_due is not None
    if status == Status.listed:
        keys.append(_key("all", "listed"))
    if handling:
        keys.append(_key("all", "handling"))
        if p.deadline is not None:
            keys.append(_key("all", DEADLINE, p.deadline))
    if owes_reply:
        keys.append(_key("all", "owes_reply"))
    if status == Status.pending_verification and p.assigner_unit_id is not None:
        keys.append(_key(f"assigner:{p.assigner_unit_id}", "to_verify"))

    group = f"group:{p.work_group_id}"
    keys.append(_key(group, "all"))
    if status in TRIAGE:
        keys.append(_key(group, "to_triage"))
    if status == Status.listed:
        keys.append(_key(group, "listed"))
    if handling:
        keys.append(_key(group, "handling"))
        if p.deadline is not None:
            keys.append(_key(group, DEADLINE, p.deadline))
    if status == Status.pending_verification and p.assigner_unit_id == p.work_group_id:
        keys.append(_key(group, "to_verify"))

    cadre = f"cadre:{p.registered_by_id}"
    keys.append(_key(cadre, "all"))
    if status in SOLVED or status == Status.closed:
        keys.append(_key(cadre, "done"))
    elif status not in OWES_REPLY:
        keys.append(_key(cadre, "open"))
    if owes_reply:
        keys.append(_key(cadre, "owes_reply"))

    pending_units = {unit for unit, part_status in parts if PartStatus(part_status) == PartStatus.pending}
    for unit in sorted({unit for unit, _s in parts}):
        scope = f"unit:{unit}"
        keys.append(_key(scope, "all"))
        if unit in pending_units:
            keys.append(_key(scope, "to_sign"))
        if status in (Status.plan_review, Status.signoff_review) and p.lead_unit_id == unit:
            keys.append(_key(scope, "to_review"))
        if handling and status != Status.assigned and unit not in pending_units:
            keys.append(_key(scope, "handling"))
        if handling and p.deadline is not None:
            keys.append(_key(scope, DEADLINE, p.deadline))
        if owes_reply and p.lead_unit_id == unit:
            keys.append(_key(scope, "owes_reply"))
    return sorted(keys)


# ---------------------------------------------------------------- keeping them


def _problem_rows(conn, ids):
    t = Problem.__table__
    return conn.execute(select(t.c.id, t.c.status, t.c.work_group_id, t.c.registered_by_id, t.c.assigner_unit_id,
                               t.c.lead_unit_id, t.c.deadline, t.c.reply_due).where(t.c.id.in_(ids))).all()


def _parts(conn, ids) -> dict[int, list]:
    t = AssignmentUnit.__table__
    out: dict[int, list] = defaultdict(list)
    for pid, unit, status in conn.execute(select(t.c.problem_id, t.c.unit_id, t.c.status).where(
            t.c.problem_id.in_(ids), t.c.is_current.is_(True))):
        out[pid].append((unit, status))
    return out


def _split(text: str | None) -> list[str]:
    return [k for k in (text or "").split("\n") if k]


def _upsert(conn, table, rows: list[dict], index: list[str], set_):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    conn.execute(stmt.on_conflict_do_update(index_elements=index, set_=set_(stmt.excluded)), rows)


def _add(conn, delta: Counter) -> None:
    rows = []
    for key in sorted(k for k, n in delta.items() if n):  # one order for every writer: no deadlock
        scope, bucket, day = key.split("|")
        rows.append({"key": key, "scope": scope, "bucket": bucket,
                     "day": date.fromisoformat(day) if day else None, "n": delta[key]})
    if rows:
        t = ProblemCount.__table__
        _upsert(conn, t, rows, ["key"], lambda ex: {"n": t.c.n + ex.n})


def recount(conn, ids) -> None:
    """Count the problems ``ids`` again: take out their recorded keys, add their current ones."""
    ids = sorted(set(ids))
    if not ids:
        return
    counted = ProblemCounted.__table__
    old = dict(conn.execute(select(counted.c.problem_id, counted.c.key_list).where(counted.c.problem_id.in_(ids))).all())
    rows = {r.id: r for r in _problem_rows(conn, ids)}
    parts = _parts(conn, ids)
    delta: Counter = Counter()
    changed, gone = [], []
    for pid in ids:
        new = keys_of(rows[pid], parts.get(pid, [])) if pid in rows else []
        before = _split(old.get(pid))
        if pid in old and before == new:
            continue
        delta.update(new)
        delta.subtract(before)
        if pid in rows:
            changed.append({"problem_id": pid, "key_list": "\n".join(new)})
        elif pid in old:
            gone.append(pid)
    _add(conn, delta)
    if changed:
        _upsert(conn, counted, changed, ["problem_id"], lambda ex: {"key_list": ex.key_list})
    if gone:
        conn.execute(delete(counted).where(counted.c.problem_id.in_(gone)))


def touched_problems(session, related: tuple = ()) -> set[int]:
    """The ids of the problems a flush wrote — added, deleted or with a column changed — and of
    those whose rows of the ``related`` classes (each with a ``problem_id``) it wrote."""
    ids = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Problem):
            # A problem "dirty" only because a timeline entry joined its collection counts the same.
            if obj in session.dirty and not session.is_modified(obj, include_collections=False):
                continue
            ids.add(obj.id)
        elif isinstance(obj, related):
            ids.add(obj.problem_id)
    ids.discard(None)
    return ids


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context) -> None:
    ids = touched_problems(session, (AssignmentUnit,))
    if ids:
        recount(session.connection(), ids)


def _fresh(conn) -> tuple[Counter, dict[int, str]]:
    """Every problem's keys computed from the stored rows, in chunks."""
    t = Problem.__table__
    total: Counter = Counter()
    snapshots: dict[int, str] = {}
    last = 0
    while True:
        ids = list(conn.execute(select(t.c.id).where(t.c.id > last).order_by(t.c.id).limit(5000)).scalars())
        if not ids:
            return total, snapshots
        rows = _problem_rows(conn, ids)
        parts = _parts(conn, ids)
        for r in rows:
            keys = keys_of(r, parts.get(r.id, []))
            total.update(keys)
            snapshots[r.id] = "\n".join(keys)
        last = ids[-1]


def rebuild() -> int:
    """Count every problem afresh (after a bulk load); returns the number of counter rows."""
    conn = db.session.connection()
    total, snapshots = _fresh(conn)
    conn.execute(delete(ProblemCount.__table__))
    conn.execute(delete(ProblemCounted.__table__))
    _add(conn, total)
    items = [{"problem_id": pid, "key_list": keys} for pid, keys in snapshots.items()]
    for i in range(0, len(items), 5000):
        conn.execute(ProblemCounted.__table__.insert(), items[i:i + 5000])
    return sum(1 for n in total.values() if n)


def needs_first_count() -> bool:
    """Problems are stored but none is counted yet (a database upgraded to the counters)."""
    has_problems = db.session.scalar(select(Problem.id).limit(1)) is not None
    return has_problems and db.session.scalar(select(ProblemCounted.problem_id).limit(1)) is None


def verify() -> dict[str, tuple[int, int]]:
    """Counter rows that differ from a fresh count: key → (kept, fresh). Empty when all agree."""
    conn = db.session.connection()
    total, _snapshots = _fresh(conn)
    t = ProblemCount.__table__
    kept = {k: n for k, n in conn.execute(select(t.c.key, t.c.n)).all() if n}
    return {k: (kept.get(k, 0), total.get(k, 0)) for k in sorted(set(kept) | set(total))
            if kept.get(k, 0) != total.get(k, 0)}


# ---------------------------------------------------------------- reading them


def _scopes(user) -> list[str]:
    role = user.role
    if role in (Role.office, Role.leader):
        return ["all", f"assigner:{user.unit_id}"]
    if role == Role.group_lead:
        return [f"group:{user.unit_id}"]
    if role == Role.cadre:
        return [f"cadre:{user.id}"]
    if role in (Role.handler, Role.unit_leader, Role.desk):
        return [f"unit:{user.unit_id}"]
    return []


def tab_counts(user, tabs, today: date, soon: date) -> tuple[dict[str, int], int]:
    """The count of each of ``tabs`` (names of ``queries.tab_conditions``) and of the whole
    scope, from the counter rows of the user's scope: one query, a few rows per deadline day."""
    scopes = _scopes(user)
    if not scopes:
        return dict.fromkeys(tabs, 0), 0
    t = ProblemCount.__table__
    rows = db.session.execute(select(t.c.scope, t.c.bucket, t.c.day, t.c.n).where(
        t.c.scope.in_(scopes), t.c.n != 0)).all()
    main = scopes[0]
    sums: Counter = Counter()
    for scope, bucket, day, n in rows:
        if bucket == DEADLINE:
            if scope == main:
                if day < today:
                    sums["overdue"] += n
                elif day <= soon:
                    sums["due_soon"] += n
        elif bucket == "to_verify" and user.role in (Role.office, Role.leader):
            if scope != main:
                sums["to_verify"] += n
        elif scope == main:
            sums[bucket] += n
    return {name: sums[name] for name in tabs}, sums["all"]
