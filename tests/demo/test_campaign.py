"""The campaign so far (the seed's own figures): 1,250 problems of which 790 are solved on top of
the demo problems, loaded by bulk inserts that keep every rule the operations keep, with the
half-month reports of its past periods issued (one corrected)."""

import re
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, text

from tests.cases.pages import text as page_text
from webapp.accounts.models import User
from webapp.cases import operations as ops
from webapp.cases.models import (
    Assignment,
    AssignmentUnit,
    Attachment,
    Category,
    PartStatus,
    Problem,
    ProblemEvent,
    UnitRole,
)
from webapp.cases.workflow import HANDLING, OWES_REPLY, SOLVED, Kind, Level, Status, Tier
from webapp.core import calendar, clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db
from webapp.core.numbering import NumberSequence
from webapp.core.periods import Period
from webapp.demo import campaign
from webapp.handling.models import BookStatus, Closure, ClosureStatus, Reply, TaskBook
from webapp.org.models import TERRITORIAL, Unit, UnitKind
from webapp.stats import figures, sums
from webapp.stats.reports import HalfMonthReport


def _user(username):
    return db.session.scalar(select(User).where(User.username == username))


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    db.session.expire_all()
    return result


def _tile(page: str, label: str) -> str:
    tiles = page.split('id="summary-h"', 1)[1]
    m = re.search(re.escape(label) + r'</span>\s*<span class="stat-value">(?:<a href="[^"]+">)?([^<]+)', tiles)
    assert m, f"no tile {label}"
    return m.group(1).strip()


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_campaign_reproduces_the_seed(app, login_as):
    assert _cli(app, "demo", "cases").exit_code == 0
    demo_problems = _count(Problem)
    started = time.perf_counter()
    result = _cli(app, "demo", "campaign")
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "campaign loaded: 1250 problems, 790 solved" in result.output
    print(f"campaign load: {seconds:.1f} s")  # noqa: T201 - the load time, for the record
    assert seconds < 60

    # The seed's figures, computed … (and the dashboards' sums kept for the loaded rows agree)
    office = _user("office")
    d = figures.dashboard(office).district
    assert (d["total"], d["solved"], d["solve_rate"]) == (1250, 790, 63.2)
    assert sums.verify(clock.today()) == {}
    assert _count(Problem, Problem.status.in_(SOLVED)) == 790
    assert _count(Problem) - demo_problems == 1105
    # … and shown on the office's dashboard.
    b = login_as("office")
    resp = b.get("/stats")
    assert resp.status_code == 200
    page = page_text(resp)
    assert _tile(page, "问题总数") == "1250"
    assert _tile(page, "已化解") == "790"
    assert _tile(page, "化解率") == "63.2%"

    # Every status, realistically spread; every rate has a denominator.
    statuses = Counter(db.session.scalars(select(Problem.status)))
    assert set(Status) <= set(statuses), set(Status) - set(statuses)
    assert statuses[Status.closed] > statuses[Status.signed_off] > 20
    assert statuses[Status.in_progress] > 100
    assert 50 < d["overdue"] < 250 and d["reworked"] > 0 and d["extended"] > 0 and d["reopened"] > 0
    for rate in ("on_time_rate", "sign_rate", "reply_rate", "satisfaction", "reopen_rate"):
        assert d[rate] is not None and 0 < d[rate] <= 100, rate
    assert d["satisfied"] > d["basically"] > d["unsatisfied"] > 0
    assert d["unreachable"] and d["refused"]

    # Every town/street/zone and every district department has problems (departments lead some),
    # and so has the 12345 desk; every category is used.
    f = figures.dashboard(office)
    territories = {r["key"]: r["total"] for r in f.territories}
    for unit in db.session.scalars(select(Unit).where(Unit.kind.in_(TERRITORIAL), Unit.is_active.is_(True))):
        assert territories.get(unit.id, 0) > 20, unit.name
    lead = {r["key"]: r for r in f.units}
    for unit in db.session.scalars(select(Unit).where(Unit.kind == UnitKind.department, Unit.is_active.is_(True))):
        assert lead.get(unit.id, {}).get("total", 0) >= 5, unit.name
    desk = db.session.scalar(select(Unit).where(Unit.kind == UnitKind.desk))
    assert lead[desk.id]["total"] > 20
    assert len([r for r in f.categories if r["total"]]) >= 14
    cooperating = _count(AssignmentUnit, AssignmentUnit.role == UnitRole.cooperating)
    assert cooperating > 50

    # Registered on working days over the campaign (four to five months), nothing in the future.
    today = clock.today()
    start = campaign.campaign_start(today)
    first = db.session.scalar(select(func.min(Problem.registered_at)))
    assert clock.local(first).date() >= start and (today - clock.local(first).date()).days > 110
    # (The supervision sweep that follows the load writes today's 催办/通报: not back-dated.)
    days = {clock.local(t).date() for t in db.session.scalars(
        select(ProblemEvent.created_at).where(ProblemEvent.action.not_in(("remind", "notice"))))}
    assert max(days) < today and all(calendar.is_workday(x) for x in days)
    assert _count(ProblemEvent, ProblemEvent.action == "remind") > 0  # today's sweep ran
    # The integrity situations planted in the data are what the real detectors find.
    from webapp.integrity.models import Flag, FlagKind

    found = Counter(db.session.scalars(select(Flag.kind)))
    assert all(found[k] >= 1 for k in (FlagKind.no_evidence, FlagKind.bunched, FlagKind.contradicted_reply,
                                       FlagKind.raised_again)), found
    periods = Counter(Period.of(clock.local(t).date()) for t in db.session.scalars(select(Problem.registered_at)))
    assert len(periods) >= 9 and min(periods.values()) > 20

    # Consistent like the operations write it.
    _assert_consistent()

    # Numbers drawn from the sequences: the next real registration does not collide.
    year = today.year
    top = db.session.scalar(select(func.max(Problem.seq)).where(Problem.year == year))
    assert db.session.get(NumberSequence, ("problem", year)).last >= top
    for kind in ("sheet", "desk", "office"):
        n = db.session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.channel == kind, Assignment.number.like(f"%〔{year}〕%")))
        assert db.session.get(NumberSequence, (kind, year)).last >= n

    # The integrity situations the office can find.
    bare = db.session.scalars(select(Closure).where(
        Closure.kind == "signoff", Closure.status == ClosureStatus.verified,
        ~select(Attachment.id).where(Attachment.closure_id == Closure.id).exists())).all()
    assert 3 <= len(bare) <= 8 and all(c.no_evidence_reason for c in bare)
    bunch = Period.of(today).previous().previous()
    last_two = [calendar.add_workdays(bunch.end + timedelta(days=1), -k) for k in (1, 2)]
    dawu = db.session.scalar(select(Unit).where(Unit.name == campaign.BUNCHING_UNIT))
    asked = Counter(clock.local(c.requested_at).date() for c in db.session.scalars(select(Closure).where(
        Closure.unit_id == dawu.id, Closure.kind == "signoff", Closure.requested_at >= bunch.start_utc,
        Closure.requested_at < bunch.end_utc)))
    assert sum(asked[x] for x in last_two) >= 9 > sum(n for x, n in asked.items() if x not in last_two)
    contradicted = db.session.scalars(select(Reply).where(
        Reply.verdict == "unsatisfied", Reply.status_at_reply == "signed_off", Reply.reopened.is_(False))).all()
    assert len(contradicted) >= 2 and all(r.problem.status == Status.closed for r in contradicted)
    again = db.session.execute(text(
        "SELECT count(*) FROM problems a JOIN problems b ON a.resident_phone_index = b.resident_phone_index "
        "AND a.household_name = b.household_name AND a.category_id = b.category_id AND a.id <> b.id "
        "WHERE a.status = 'closed' AND b.registered_at > a.closed_at")).scalar()
    assert again >= 2

    # The half-month reports: every ended period of the campaign, one corrected once.
    reports = db.session.scalars(select(HalfMonthReport).order_by(
        HalfMonthReport.period_start, HalfMonthReport.version)).all()
    ended = []
    p = Period.of(start)
    while p.ended(today):
        ended.append(p)
        p = p.next()
    assert {r.period_start for r in reports if r.is_current} == {p.start for p in ended}
    corrections = [r for r in reports if r.version > 1]
    assert len(corrections) == 1 and corrections[0].correction_reason
    assert not corrections[0].replaces.is_current
    for r in reports:
        day = clock.local(r.issued_at).date()
        # Issued after its period, on a working day, never in the future: on the first working
        # day of a half month (16 October after the holiday) that day may be today.
        assert r.period_end < day <= today and calendar.is_workday(day)
        assert clock.as_utc(r.issued_at) <= clock.now()
        assert r.figures["district"]["total"] <= 1250 and r.figures["district"]["solved"] <= 790
    current = [r for r in reports if r.is_current]
    totals = [r.figures["district"]["total"] for r in current]
    assert totals == sorted(totals) and totals[0] > 0 and totals[-1] <= 1250  # all of it once the last period ends
    assert current[-1].figures["previous"]["id"] == current[-2].id
    history = page_text(b.get("/stats/reports"))
    assert Period(ended[-1].start, ended[-1].end).label in history
    assert b.get(f"/stats/reports/{current[-1].id}").status_code == 200

    # The audit chain verifies: one record for the bulk load, the reports' own.
    assert verify_chain().ok
    assert _count(AuditEvent, AuditEvent.event == campaign.EVENT) == 1
    assert _count(AuditEvent, AuditEvent.event == "stats.report_issue") == len(ended)
    assert _cli(app, "audit", "verify").exit_code == 0

    # A second load is refused; nothing changes.
    again_result = _cli(app, "demo", "campaign")
    assert again_result.exit_code != 0 and "already loaded" in again_result.output
    assert _count(Problem) == 1250

    # Real work goes on after the bulk load: the next registration and assignment draw fresh
    # numbers and ids (sequences advanced, also PostgreSQL's id sequences).
    cadre, lead = _user("cadre"), _user("grouplead")
    village = db.session.scalar(select(Unit).where(Unit.name == "权台村"))
    category = db.session.scalar(select(Category).where(Category.name == "道路交通"))
    new, _ = ops.register_problem(cadre, ops.ProblemInput(
        resident_name="测试居民", resident_phone="13800000000", resident_id_number=None, village=village,
        address="", category=category, title="活动开展后新登记的问题", description="用于检验编号不重复。"))
    ops.assign_sheet(new, lead, lead=village.parent, triage=ops.Triage(Kind.individual, Level.town, Tier.quick))
    db.session.commit()
    assert new.seq == db.session.scalar(select(func.max(Problem.seq)).where(Problem.year == year)) and new.seq > top
    assert new.current_assignment.number.endswith("号")

    # The demo accounts' pages still open with the campaign in the database.
    for username, url in (("town", "/cases"), ("town", "/stats"), ("dept", "/cases"), ("grouplead", "/cases"),
                          ("leader", "/stats"), ("desk", "/cases"), ("dept-fagai", "/cases"),
                          ("deptlead-guihua", "/cases"), ("office", "/cases?tab=overdue")):
        resp = login_as(username).get(url)
        assert resp.status_code == 200, (username, url)
    some = db.session.scalar(select(Problem).where(Problem.status == Status.closed).order_by(Problem.id.desc()))
    assert b.get(f"/cases/{some.id}").status_code == 200


def _assert_consistent():
    # The database's own constraints (foreign keys on SQLite; CHECKs are enforced on insert).
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
    handled = select(Problem).where(Problem.status.in_(HANDLING))
    for p in db.session.scalars(handled):
        a = p.current_assignment
        assert p.lead_unit_id and p.deadline and a is not None and a.is_current, p.number
        lead = next(u for u in a.units if u.role == UnitRole.lead)
        assert lead.unit_id == p.lead_unit_id
        assert (lead.status == PartStatus.pending) == (p.status == Status.assigned), p.number
        if p.accepted_at is not None:
            assert lead.signed_at == p.accepted_at
    # The timeline: the last event says the status; times only move forward.
    mismatch = db.session.execute(text(
        "SELECT count(*) FROM problems p JOIN problem_events e ON e.id = "
        "(SELECT max(id) FROM problem_events WHERE problem_id = p.id) WHERE e.to_status <> p.status")).scalar()
    assert mismatch == 0
    backwards = db.session.execute(text(
        "SELECT count(*) FROM problem_events a JOIN problem_events b ON a.problem_id = b.problem_id "
        "AND a.id < b.id AND a.created_at > b.created_at")).scalar()
    assert backwards == 0
    # Handled problems have an approved task book; solved ones a verified closure and a time.
    for p in db.session.scalars(select(Problem).where(Problem.status.in_(SOLVED))):
        assert p.solved_at is not None
        closure = db.session.scalar(select(Closure).where(Closure.problem_id == p.id,
                                                          Closure.status == ClosureStatus.verified))
        assert closure and closure.verifier_id and closure.verified_at, p.number
        if p.lead_unit_id is not None:
            assert _count(TaskBook, TaskBook.problem_id == p.id, TaskBook.status == BookStatus.approved) == 1
    # A reply is owed (with its date) or given; a closed problem has its reply.
    assert _count(Problem, Problem.status.in_(OWES_REPLY), Problem.reply_due.is_(None),
                  Problem.replied_at.is_(None)) == 0
    assert _count(Problem, Problem.status == Status.closed, Problem.replied_at.is_(None)) == 0
    assert _count(Problem, Problem.status == Status.closed) == db.session.scalar(
        select(func.count(func.distinct(Reply.problem_id))).join(Problem, Problem.id == Reply.problem_id).where(
            Problem.status == Status.closed))
    # Merged problems point at an earlier problem.
    for p in db.session.scalars(select(Problem).where(Problem.status == Status.merged)):
        assert p.merged_into.registered_at < p.registered_at and p.end_reason


def test_campaign_needs_the_demo_problems(app):
    result = _cli(app, "demo", "campaign")
    assert result.exit_code != 0 and "demo" in result.output
    assert _count(Problem) == 0 and not campaign.has_campaign()
