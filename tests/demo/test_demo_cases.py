"""The demo problems: made through the real operations, every status reached so far, real work in
every demo account's queue, an intact audit chain, and the same counts on every load."""

import shutil
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.conftest import PG_URL, _admin_engine, _pg_url, _test_config
from webapp import create_app
from webapp.accounts.models import User
from webapp.cases import deadlines as case_deadlines
from webapp.cases.access import scope
from webapp.cases.models import (
    Assignment,
    AssignmentUnit,
    Attachment,
    CoordinatedList,
    ListStatus,
    PartStatus,
    Problem,
    ProblemEvent,
)
from webapp.cases.queries import counters
from webapp.cases.workflow import HANDLING, Status
from webapp.core import clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.extensions import db
from webapp.demo import cases as demo_cases
from webapp.demo.org import DEMO_ACCOUNTS
from webapp.handling.models import (
    BookStatus,
    Closure,
    Extension,
    Meeting,
    Reply,
    RequestStatus,
    TaskBook,
    TaskStep,
)
from webapp.visits.models import Visit

REACHED = set(Status)  # every status of the lifecycle (handling and closure: tests/demo/test_demo_handling.py)
ADMINS = {"sysadmin", "secadmin", "auditor"}


def _user(username):
    return db.session.scalar(select(User).where(User.username == username))


def _load_through_cli(app):
    result = app.test_cli_runner().invoke(args=["demo", "cases"])
    assert result.exit_code == 0, result.output
    assert "demo problems loaded" in result.output
    db.session.expire_all()


def _snapshot() -> dict:
    """Counts that a deterministic load reproduces exactly."""
    def count(model):
        return db.session.scalar(select(func.count()).select_from(model))

    return {
        "statuses": {str(s): n for s, n in db.session.execute(
            select(Problem.status, func.count()).group_by(Problem.status))},
        "lead_units": sorted(Counter(db.session.scalars(select(Problem.lead_unit_id))).items(),
                             key=lambda kv: (kv[0] is None, kv[0] or 0)),
        "categories": sorted(Counter(db.session.scalars(select(Problem.category_id))).items()),
        "villages": sorted(Counter(db.session.scalars(select(Problem.village_id))).items()),
        "titles": sorted(db.session.scalars(select(Problem.title))),
        "lists": sorted(Counter(str(s) for s in db.session.scalars(select(CoordinatedList.status))).items()),
        "parts": sorted(Counter((str(r), str(s)) for r, s in db.session.execute(
            select(AssignmentUnit.role, AssignmentUnit.status))).items()),
        "events": count(ProblemEvent), "visits": count(Visit), "assignments": count(Assignment),
        "users": count(User),
        # Handling and closure.
        "books": sorted(Counter((b.revision, str(b.status)) for b in db.session.scalars(select(TaskBook))).items()),
        "steps": sorted(Counter((s.done_at is not None, str(s.source)) for s in db.session.scalars(
            select(TaskStep))).items()),
        "closures": sorted(Counter((str(c.kind), str(c.status)) for c in db.session.scalars(select(Closure))).items()),
        "extensions": sorted(Counter(str(e.status) for e in db.session.scalars(select(Extension))).items()),
        "replies": sorted(Counter(str(r.verdict) for r in db.session.scalars(select(Reply))).items()),
        "meetings": sorted(Counter((str(m.kind), str(m.status)) for m in db.session.scalars(select(Meeting))).items()),
        "evidence": count(Attachment),
    }


def test_demo_cases_fill_every_queue(app):
    _load_through_cli(app)

    statuses = set(db.session.scalars(select(Problem.status).distinct()))
    assert REACHED <= statuses, f"missing statuses: {REACHED - statuses}"
    total = db.session.scalar(select(func.count()).select_from(Problem))
    assert total == len(demo_cases.plan()) and 120 <= total <= 170

    # Every casework demo account sees problems in its scope; the three admins see none.
    for username, *_ in DEMO_ACCOUNTS:
        user = _user(username)
        seen = db.session.scalar(select(func.count()).select_from(Problem).where(scope(user)))
        assert (seen == 0) if username in ADMINS else (seen > 0), (username, seen)
    # … and every extra demo account made for the other work groups and units sees work too.
    for username, _name, _unit, _role in demo_cases.extra_accounts():
        user = _user(username)
        assert user.is_demo and not user.must_change_password
        assert db.session.scalar(select(func.count()).select_from(Problem).where(scope(user))) > 0, username

    cadre = _user("cadre")
    own = set(db.session.scalars(select(Problem.status).where(scope(cadre))))
    assert len(own) >= 6, own
    lead = counters(_user("grouplead"))
    assert lead["to_triage"] and lead["listed"] and lead["to_verify"]
    assert db.session.scalar(select(CoordinatedList).where(
        CoordinatedList.work_group_id == _user("grouplead").unit_id,
        CoordinatedList.status == ListStatus.draft)).problems
    town = counters(_user("town"))
    assert town["to_sign"] and town["handling"] and town["overdue"] and town["due_soon"]
    desk = counters(_user("desk"))
    assert desk["to_sign"] and desk["handling"]
    office = counters(_user("office"))
    assert office["listed"] and office["overdue"] and office["handling"]
    assert db.session.scalar(select(func.count()).select_from(CoordinatedList).where(
        CoordinatedList.status == ListStatus.submitted))

    # 区民政局 (dept): a cooperating part and a lead assignment, both waiting to be signed for.
    dept = _user("dept")
    pending = db.session.execute(select(AssignmentUnit.role).where(
        AssignmentUnit.unit_id == dept.unit_id, AssignmentUnit.is_current.is_(True),
        AssignmentUnit.status == PartStatus.pending)).scalars().all()
    assert {"lead", "cooperating"} <= {str(r) for r in pending}
    assert counters(dept)["handling"]  # and a signed cooperating part in hand

    # The article's story is the first problem.
    story = db.session.scalar(select(Problem).order_by(Problem.seq).limit(1))
    assert "白血病" in story.title and story.village.name == "权台村" and story.kind == "common"
    assert story.lead_unit.name == "区卫计委" and story.status == Status.in_progress
    assert story.coordinated_list.work_group.name == "潘安湖街道工作组"
    assert story.coordinated_list.status in (ListStatus.submitted, ListStatus.assigned)
    parts = {p.unit.name: (p.role, p.status) for p in story.current_assignment.units}
    # 区民政局 signed for its part and reported twice, not yet done (its queue: a part to report on).
    assert parts == {"区卫计委": ("lead", PartStatus.accepted), "区民政局": ("cooperating", PartStatus.accepted)}
    assert "助学贷款" in next(p for p in story.current_assignment.units if p.role == "cooperating").feedback

    assert verify_chain().ok
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.event == "demo.cases_loaded")) == 1

    # A second load is refused (it would double the problems).
    again = app.test_cli_runner().invoke(args=["demo", "cases"])
    assert again.exit_code != 0 and "already holds problems" in again.output


def test_demo_dates_are_back_dated_consistently(app):
    _load_through_cli(app)
    now = clock.now()
    problems = db.session.scalars(select(Problem)).all()
    assert len({clock.local(p.registered_at).date() for p in problems}) >= 15  # spread over weeks
    for p in problems:
        times = [p.registered_at, p.assigned_at, p.accepted_at]
        times = [clock.as_utc(t) for t in times if t is not None]
        assert times == sorted(times) and times[-1] < now, p.number
        events = [clock.as_utc(e.created_at) for e in p.events]
        assert events == sorted(events), f"timeline of {p.number} out of order"
        if p.status in HANDLING:
            a = p.current_assignment
            assert a.deadline == case_deadlines.handling_deadline(a.assigned_at, p.tier, _workdays(p, a))
            assert clock.as_utc(a.assigned_at) == clock.as_utc(p.assigned_at)
            assert p.sign_for_deadline == case_deadlines.sign_for_deadline(a.assigned_at)
            assert p.deadline == _deadline_in_force(p, a), p.number
    # Numbers follow the registration dates.
    ordered = [p.seq for p in sorted(problems, key=lambda p: (clock.as_utc(p.registered_at), p.seq))]
    assert ordered == sorted(ordered)


def _deadline_in_force(problem, assignment):
    """The deadline the last deadline-setting act gave, in the order of time: the assignment, an
    approved task book, an approved extension, a reopening reply (a fresh handling deadline)."""
    acts = [(assignment.assigned_at, assignment.deadline)]
    acts += [(b.decided_at, b.deadline) for b in db.session.scalars(select(TaskBook).where(
        TaskBook.problem_id == problem.id, TaskBook.status.in_((BookStatus.approved, BookStatus.superseded))))]
    acts += [(e.decided_at, e.new_deadline) for e in db.session.scalars(select(Extension).where(
        Extension.problem_id == problem.id, Extension.status == RequestStatus.approved))]
    acts += [(r.created_at, case_deadlines.handling_deadline(r.created_at, problem.tier))
             for r in db.session.scalars(select(Reply).where(Reply.problem_id == problem.id, Reply.reopened))]
    return max(acts, key=lambda act: clock.as_utc(act[0]))[1]


def _workdays(problem, assignment):
    """The 难事联办 limit the demo chose at triage for this kind of problem (other tiers: fixed)."""
    if problem.tier != "joint":
        return None
    kinds = demo_cases.TOWN + demo_cases.DESK + demo_cases.DISTRICT + [demo_cases.STORY]
    return next(t.workdays for t in kinds if t.title == problem.title)


@pytest.fixture
def second_app(template_db, tmp_path):
    """Another app on a fresh clone of the template database (for comparing two loads)."""
    if PG_URL:
        name = f"huiyin_t_demo_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        url = _pg_url(name)
    else:
        path = tmp_path / "second.sqlite3"
        shutil.copyfile(template_db, path)
        url = f"sqlite:///{path}"
    app = create_app(_test_config(tmp_path, url))
    yield app
    with app.app_context():
        db.engine.dispose()
    if PG_URL:
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_loading_is_deterministic(app, second_app):
    demo_cases.load_demo_cases(seed=2017)
    db.session.commit()
    first = _snapshot()
    with second_app.app_context():
        demo_cases.load_demo_cases(seed=2017)
        db.session.commit()
        second = _snapshot()
        db.session.remove()
        db.engine.dispose()
    assert first == second
    assert sum(first["statuses"].values()) == len(demo_cases.plan(2017))


def test_setup_loads_organisation_and_cases_into_an_empty_database(tmp_path):
    if PG_URL:
        name = f"huiyin_t_setup_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = create_app(_test_config(tmp_path, url))
    try:
        result = app.test_cli_runner().invoke(args=["setup", "--no-campaign"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Problem)) == len(demo_cases.plan())
            assert verify_chain().ok
            db.session.remove()
        # A second setup keeps the data.
        result = app.test_cli_runner().invoke(args=["setup", "--no-campaign"])
        assert result.exit_code == 0 and "existing data kept" in result.output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if PG_URL:
            with _admin_engine().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
