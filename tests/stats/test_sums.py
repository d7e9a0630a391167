"""The dashboards' sums kept by the writes (``stats.sums``): the district's and a work group's
dashboards read them instead of passing over the problems, and they always equal a count."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.stats import data
from webapp.core import clock
from webapp.core.extensions import db
from webapp.stats import figures, sums

SLICES = ("office", "leader", "grouplead")


@pytest.fixture
def traveller():
    with data.frozen() as t:
        yield t


@contextmanager
def statements():
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


def counted_afresh(user) -> figures.Figures:
    """The dashboard as a count over the problems gives it (nothing kept, nothing reused)."""
    where, today = figures.slice_of(user), clock.today()
    counts, trend = figures.counted(where, today)
    out = figures.compute(where, figures.Live(today), sums=counts)
    out.trend = trend
    return out


def assert_same(kept: figures.Figures, fresh: figures.Figures) -> None:
    for name in ("district", "territories", "units", "categories", "sources", "trend"):
        assert getattr(kept, name) == getattr(fresh, name), name


def test_the_district_and_a_group_read_kept_sums_equal_to_a_count(app, traveller):
    cat = data.new_category("累计测试甲")
    data.build(traveller, cat.name)  # every figure non-zero: callbacks, 延期, 退回重办, reopened …
    f.assigned_to_town(town="青山泉镇", village="房上村")
    today = clock.today()
    assert sums.verify(today) == {}
    for username in SLICES:
        user = f.user(username)
        with statements() as seen:
            kept = sums.dashboard(user)
        # No pass over every problem: the grouped count joins the callbacks; the kept read does not.
        assert not [s for s in seen if "callbacks" in s], username
        assert_same(kept, counted_afresh(user))
    office = sums.dashboard(f.user("office"))
    row = next(r for r in office.categories if r["key"] == cat.id)
    assert {k: row[k] for k in data.LIVE} == data.LIVE
    assert office.trend[-1]["total"] == 15 and office.trend[-1]["solved_total"] == data.LIVE["solved"]


def test_overdue_follows_the_day_without_a_write(app, traveller):
    p = hf.in_progress()
    office = f.user("office")
    assert sums.dashboard(office).district["overdue"] == 0
    traveller.move_to(data.LATER)
    assert p.deadline < clock.today()
    kept = sums.dashboard(office)
    assert kept.district["overdue"] == 1 and kept.units[0]["overdue"] == 1
    assert_same(kept, counted_afresh(office))


def test_a_moved_or_recategorised_problem_leaves_its_old_cell(app, traveller):
    p = hf.signed_off()
    hf.reply(p)
    cat = data.new_category("累计测试乙")
    old_category = p.category_id
    p.category_id = cat.id
    db.session.commit()
    office = f.user("office")
    by_category = {r["key"]: r["total"] for r in sums.dashboard(office).categories}
    assert by_category == {cat.id: 1} and old_category not in by_category
    assert sums.verify(clock.today()) == {}


def test_rows_written_past_the_orm_are_counted_by_rebuild_and_found_by_verify(app, traveller):
    hf.closed()
    hf.in_progress(dept=True)
    today = clock.today()
    assert sums.verify(today) == {}
    # A bulk write past the ORM (as the demo campaign's loader does) is not seen until rebuilt …
    db.session.execute(sa.delete(sums.counted))
    db.session.execute(sa.update(sums.cells).values(total=sums.cells.c.total + 5))
    db.session.commit()
    diff = sums.verify(today)
    assert diff and all(kept != fresh for kept, fresh in diff.values())
    # … and `flask counts verify` says so, and `flask counts rebuild` counts afresh.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["counts", "verify"])
    assert result.exit_code == 1 and "dashboard sums differ" in result.output
    result = runner.invoke(args=["counts", "rebuild"])
    assert result.exit_code == 0 and "dashboard sums:" in result.output
    assert sums.verify(today) == {}
    assert runner.invoke(args=["counts", "verify"]).exit_code == 0


def test_a_database_not_yet_counted_is_counted_over_the_problems(app, traveller):
    hf.signed_off()
    for table in (sums.counted, sums.cells, sums.periods):
        db.session.execute(sa.delete(table))
    db.session.commit()
    assert sums.needs_first_count()
    office = f.user("office")
    assert sums.dashboard(office).district["total"] == 1  # counted over the problems, not zero
    sums.rebuild()
    db.session.commit()
    assert not sums.needs_first_count()
    assert db.session.scalar(select(sa.func.sum(sums.cells.c.total))) == 1


def test_the_days_overdue_are_read_from_the_open_deadlines_index(app, traveller):
    """已超期 is the one figure counted from the problems: the statuses are written into the
    statement, so the partial index of open deadlines with their cells can serve it alone."""
    hf.in_progress()
    traveller.move_to(data.LATER)
    overdue = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "count(*) AS n" in statement:
            overdue.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert sums.dashboard(f.user("office")).district["overdue"] == 1
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
    [(sql, params)] = overdue
    assert "'in_progress'" in sql  # literal statuses, as the partial index states them
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            assert "COVERING INDEX ix_problems_open_deadline_cells" in plan, plan
        else:  # a test's few rows would be read whole: ask whether a partial index of the open
            # problems' deadlines serves it (the planner picks between the two by their sizes)
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
            conn.rollback()
            assert "ix_problems_open_deadline" in plan and "Seq Scan" not in plan, plan
