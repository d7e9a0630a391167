"""The queues' kept counters: equal to a fresh count for every role on any day, read without
touching the problems table, checked and rebuilt by ``flask counts verify`` / ``rebuild``."""

from datetime import timedelta

import sqlalchemy as sa
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import FRI
from tests.cases.test_queue import _dataset
from tests.conftest import EDGE_DATES
from webapp.accounts.models import User
from webapp.cases import counts, queries
from webapp.cases.counts import ProblemCount
from webapp.cases.models import Problem
from webapp.core.extensions import db

USERS = ["office", "leader", "cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk"]


def _people():
    return db.session.scalars(select(User).where(User.username.in_(USERS))).all()


def test_kept_counters_equal_a_fresh_count_for_every_role_and_day(app):
    _dataset()
    days = [*EDGE_DATES, FRI.date(), FRI.date() + timedelta(days=3), FRI.date() - timedelta(days=4)]
    people = _people()
    assert len(people) == len(USERS)
    for day in days:
        for user in people:
            kept = queries.counters(user, today=day)
            assert kept == queries.fresh_counters(user, today=day), (user.username, day)
    # Not all zeros: the data set fills the tabs.
    office = next(u for u in people if u.username == "office")
    with time_machine.travel(FRI, tick=False):
        tabs = queries.counters(office)
    assert tabs["handling"] == 9 and tabs["overdue"] == 2 and tabs["listed"] == 1
    assert counts.verify() == {}


def test_counters_are_read_without_touching_the_problems(app, login_as):
    _dataset()
    statements = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with time_machine.travel(FRI, tick=False):
            b = login_as("office")
            statements.clear()
            assert b.get("/cases/counters").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert any("problem_counts" in s for s in statements)
    assert not any(" problems" in s for s in statements), statements


def test_a_rolled_back_change_leaves_the_counters_as_they_were(app):
    p = f.assigned_to_town()
    db.session.commit()
    before = {k: n for k, n in db.session.execute(select(ProblemCount.key, ProblemCount.n)).all() if n}
    db.session.delete(p.current_assignment.units[0])
    db.session.flush()
    db.session.rollback()
    after = {k: n for k, n in db.session.execute(select(ProblemCount.key, ProblemCount.n)).all() if n}
    assert after == before and counts.verify() == {}


def test_cli_verify_finds_a_wrong_counter_and_rebuild_mends_it(app, runner_factory):
    _dataset()
    runner = runner_factory()
    ok = runner.invoke(args=["counts", "verify"])
    assert ok.exit_code == 0 and "agree" in ok.output
    key = db.session.scalar(select(ProblemCount.key).where(ProblemCount.bucket == "to_sign").limit(1))
    db.session.execute(sa.update(ProblemCount).where(ProblemCount.key == key).values(n=ProblemCount.n + 5))
    # A problem written past the ORM (as bulk loads do) is not counted either.
    db.session.execute(sa.update(Problem).where(Problem.id == db.session.scalar(select(sa.func.min(Problem.id))))
                       .values(reply_due=FRI.date()))
    db.session.commit()
    bad = runner.invoke(args=["counts", "verify"])
    assert bad.exit_code == 1 and key in bad.output and "owes_reply" in bad.output
    rebuilt = runner.invoke(args=["counts", "rebuild"])
    assert rebuilt.exit_code == 0 and "rebuilt" in rebuilt.output
    assert runner.invoke(args=["counts", "verify"]).exit_code == 0
    office = db.session.scalar(select(User).where(User.username == "office"))
    assert queries.counters(office, today=FRI.date()) == queries.fresh_counters(office, today=FRI.date())
