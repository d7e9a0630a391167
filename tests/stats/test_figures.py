"""Every figure of DOMAIN §7 on a hand-made set with known answers (tests/stats/data.py), live
and as of a period end, by category and for the district (as a difference against a baseline),
plus the local-date rule, the rates' rounding and the unit slices."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.stats import data
from webapp.cases import operations as ops
from webapp.cases.models import Problem
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core.clock import LOCAL_TZ
from webapp.core.extensions import db
from webapp.core.periods import Period
from webapp.handling.models import Verdict
from webapp.stats import figures as fig


@pytest.fixture
def traveller():
    with data.frozen() as t:
        yield t


def _row(rows, key):
    found = [r for r in rows if r["key"] == key]
    assert len(found) == 1, f"no single row for {key}: {rows}"
    return found[0]


def _counts(row) -> dict:
    return {k: row[k] for k in fig.COUNTS}


def _rates(row) -> dict:
    return {k: row[k] for k in fig.RATES}


def test_live_figures_of_the_known_set(app, traveller):
    base = fig.breakdown("district", [], fig.Live(data.LATER_DAY))[0]
    cat = data.new_category("统计测试甲")
    data.build(traveller, cat.name)

    row = _row(fig.breakdown("category", [], fig.Live(data.LATER_DAY)), cat.id)
    assert _counts(row) == data.LIVE
    assert _rates(row) == data.LIVE_RATES
    assert row["name"] == "统计测试甲"

    district = fig.breakdown("district", [], fig.Live(data.LATER_DAY))[0]
    assert {k: district[k] - base[k] for k in fig.COUNTS} == data.LIVE
    # The five states add up to the total.
    assert sum(row[k] for k in ("solved", "in_progress", "awaiting", "cannot_solve", "other_ended")) == row["total"]


def test_figures_as_of_a_period_end_come_from_the_timeline(app, traveller):
    base = fig.breakdown("district", [], fig.AsOf(data.MARCH_1))[0]
    cat = data.new_category("统计测试乙")
    p = data.build(traveller, cat.name)

    # After the period: B is called back, unsatisfied, and reopened — not yet so on 15 March.
    hf.reply(p["B"], Verdict.unsatisfied, substantive=True)

    row = _row(fig.breakdown("category", [], fig.AsOf(data.MARCH_1)), cat.id)
    assert _counts(row) == data.AS_OF_MARCH_15
    assert _rates(row) == data.AS_OF_RATES
    district = fig.breakdown("district", [], fig.AsOf(data.MARCH_1))[0]
    assert {k: district[k] - base[k] for k in fig.COUNTS} == data.AS_OF_MARCH_15

    # The period before: none of these problems existed yet.
    assert cat.id not in {r["key"] for r in fig.breakdown("category", [], fig.AsOf(data.MARCH_1.previous()))}
    # As of the running period's end, the reconstruction agrees with the live figures.
    assert _counts(_row(fig.breakdown("category", [], fig.AsOf(Period.of(data.LATER_DAY))), cat.id)) == \
        _counts(_row(fig.breakdown("category", [], fig.Live(Period.of(data.LATER_DAY).end)), cat.id))


def test_every_status_falls_in_exactly_one_state(app, traveller):
    """solved + in progress + awaiting + cannot solve + other endings = total, status by status."""
    cat = data.new_category("统计测试己")
    kw = {"category": cat.name}
    grouplead = f.user("grouplead")
    f.register(**kw)  # registered: awaiting
    listed = f.register(**kw)
    ops.add_to_list(listed, grouplead, triage=ops.Triage(Kind.common, Level.district, Tier.quick))
    returned = hf.assigned(**kw)
    ops.return_problem(returned, f.user("town"), reason="不属于本单位。")
    db.session.commit()
    for make in (hf.assigned, hf.accepted, hf.plan_review, hf.in_progress, hf.signoff_review,
                 hf.pending_verification, hf.cannot_solve_review):  # in progress
        make(**kw)
    hf.signed_off(**kw)
    hf.closed(**kw)
    hf.cannot_solve(**kw)
    data.not_accepted(**kw)
    dup = f.register(**kw)
    ops.merge(dup, grouplead, into=listed, reason="重复反映。")
    db.session.commit()
    statuses = set(db.session.scalars(select(Problem.status).where(Problem.category_id == cat.id)))
    assert statuses == set(Status), set(Status) - statuses
    row = _row(fig.breakdown("category", [], fig.Live()), cat.id)
    assert (row["total"], row["awaiting"], row["in_progress"], row["solved"], row["cannot_solve"],
            row["other_ended"]) == (15, 3, 7, 2, 1, 2)


def test_overdue_is_the_queue_overdue(app, traveller):
    """Overdue from the day after the deadline, as the queues count it (deadline < today)."""
    cat = data.new_category("统计测试庚")
    p = hf.in_progress(category=cat.name)

    def overdue(today):
        return _row(fig.breakdown("category", [], fig.Live(today)), cat.id)["overdue"]

    assert (overdue(p.deadline), overdue(p.deadline + timedelta(days=1))) == (0, 1)
    from webapp.cases.queries import QueueFilter, queue

    office = f.user("office")
    args = QueueFilter.from_args({"category": str(cat.id), "overdue": "1"})
    assert queue(office, args, today=p.deadline).total == 0
    assert queue(office, args, today=p.deadline + timedelta(days=1)).total == 1


def test_on_time_uses_the_local_date(app, traveller):
    """Solved at 07:00 local the day after the deadline (23:00 UTC on the deadline): late."""
    cat = data.new_category("统计测试丙")
    late = hf.in_progress(category=cat.name)
    just = hf.in_progress(category=cat.name)
    deadline = late.deadline
    traveller.move_to(datetime(deadline.year, deadline.month, deadline.day, 23, 30, tzinfo=LOCAL_TZ))
    data.solve(just)
    next_day = deadline + timedelta(days=1)
    traveller.move_to(datetime(next_day.year, next_day.month, next_day.day, 7, 0, tzinfo=LOCAL_TZ))
    data.solve(late)
    row = _row(fig.breakdown("category", [], fig.Live()), cat.id)
    assert (row["solved"], row["on_time"], row["on_time_rate"]) == (2, 1, 50.0)
    # The same on PostgreSQL and SQLite: the SQL local date is the Python one.
    got = db.session.scalar(select(fig.local_date(Problem.solved_at)).where(Problem.id == late.id))
    assert str(got) == next_day.isoformat()


def test_sign_for_timeliness_and_its_local_date(app, traveller):
    cat = data.new_category("统计测试丁")
    on_time = hf.assigned(category=cat.name)
    late = hf.assigned(category=cat.name)
    limit = late.sign_for_deadline
    traveller.move_to(datetime(limit.year, limit.month, limit.day, 23, 50, tzinfo=LOCAL_TZ))
    ops.sign_for(on_time, f.user("town"))
    db.session.commit()
    after = limit + timedelta(days=1)
    traveller.move_to(datetime(after.year, after.month, after.day, 0, 10, tzinfo=LOCAL_TZ))
    ops.sign_for(late, f.user("town"))
    db.session.commit()
    row = _row(fig.breakdown("category", [], fig.Live()), cat.id)
    assert (row["signed"], row["signed_on_time"], row["sign_rate"]) == (2, 1, 50.0)


@pytest.mark.parametrize(("n", "d", "expected"), [
    (790, 1250, 63.2), (1, 3, 33.3), (2, 3, 66.7), (1, 8, 12.5), (0, 5, 0.0), (5, 5, 100.0), (3, 0, None),
    (1, 16, 6.3),  # 6.25 rounds half up, not to even
])
def test_percentages(n, d, expected):
    assert fig.pct(n, d) == expected


def test_each_unit_sees_its_own_slice(app, traveller):
    """A unit counts what it leads (not its cooperating parts); a group what it registered."""
    cat = data.new_category("统计测试戊")
    hf.in_progress(category=cat.name)  # 潘安湖街道 leads
    hf.in_progress(dept=True, category=cat.name)  # 区民政局 leads
    hf.assigned(category=cat.name, cooperating=("区民政局",))  # 潘安湖街道 leads, 区民政局 cooperates

    def total(username):
        return _row(fig.breakdown("category", fig.slice_of(f.user(username)), fig.Live()), cat.id)["total"]

    def expected_lead(unit):
        return db.session.scalar(select(func.count()).select_from(Problem).where(
            Problem.lead_unit_id == f.unit(unit).id))

    assert total("office") == total("leader") == 3
    assert total("town") == total("townlead") == 2
    assert total("dept") == total("deptlead") == 1
    assert total("grouplead") == 3  # all registered by the 潘安湖街道 work group's cadre
    for username, unit in (("town", "潘安湖街道"), ("dept", "区民政局")):
        district = fig.breakdown("district", fig.slice_of(f.user(username)), fig.Live())[0]
        assert district["total"] == expected_lead(unit)
    # The desk leads none of them.
    assert not [r for r in fig.breakdown("category", fig.slice_of(f.user("desk")), fig.Live()) if r["key"] == cat.id]
