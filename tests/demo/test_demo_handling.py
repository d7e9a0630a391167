"""The demo's handling and closure: every status and every document of the lifecycle exists, each
demo account finds work of every kind it handles, the dates hold together, and the evidence files
are real files the attachment route serves."""

import hashlib
from collections import Counter

from sqlalchemy import select

from webapp.accounts.models import User
from webapp.cases import uploads
from webapp.cases.access import relations, scope
from webapp.cases.deadlines import reply_deadline
from webapp.cases.models import (
    AssignmentUnit,
    Attachment,
    AttachmentKind,
    PartStatus,
    Problem,
    UnitRole,
)
from webapp.cases.queries import counters
from webapp.cases.workflow import Action, Activity, Status, allowed_actions, may_do
from webapp.core import clock
from webapp.core.audit import verify_chain
from webapp.core.extensions import db
from webapp.demo import cases as demo_cases
from webapp.handling.models import (
    BookStatus,
    Closure,
    ClosureKind,
    ClosureStatus,
    Extension,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Reply,
    RequestStatus,
    StepSource,
    TaskBook,
    TaskStep,
    Verdict,
)
from webapp.handling.queries import book_in_force, books, moot_actions, open_closure


def _user(username):
    return db.session.scalar(select(User).where(User.username == username))


def _all(model, *where):
    return db.session.scalars(select(model).where(*where)).all()


def _can(username, action) -> list[Problem]:
    """The problems in the user's scope on which the workflow lets the user take ``action`` now
    (and the rows make it not moot: a pending extension to decide, a reply owed)."""
    user = _user(username)
    out = []
    for p in db.session.scalars(select(Problem).where(scope(user))):
        if action in allowed_actions(p.status, user.role, relations(user, p)) and action not in moot_actions(p):
            out.append(p)
    return out


def test_every_status_and_document_of_the_lifecycle(app, login_as):
    counts = demo_cases.load_demo_cases()
    db.session.commit()
    today, now = clock.today(), clock.now()

    # Every status has problems.
    assert set(counts) == {str(s) for s in Status}, set(map(str, Status)) - set(counts)
    assert all(n > 0 for n in counts.values())

    # Task books: submitted, approved, rejected, superseded; one problem with two versions.
    books = _all(TaskBook)
    assert {b.status for b in books} == {BookStatus.submitted, BookStatus.approved, BookStatus.rejected,
                                         BookStatus.superseded}
    revised = [b for b in books if b.revision == 2]
    assert any(b.status == BookStatus.approved and b.revision_reason for b in revised)
    for b in revised:
        assert db.session.scalar(select(TaskBook).where(TaskBook.problem_id == b.problem_id, TaskBook.revision == 1))
    # Steps: done, open, and overdue ones in books in force.
    in_force = {b.id for b in books if b.status == BookStatus.approved}
    steps = [s for s in _all(TaskStep) if s.task_book_id in in_force]
    assert any(s.done_at for s in steps) and any(s.done_at is None and s.due_on >= today for s in steps)
    assert any(s.is_overdue(today) for s in steps)

    # Extensions: approved, rejected, one pending.
    # (A request lapses — withdrawn — only when the unit asks for sign-off while it waits: not shown.)
    assert {e.status for e in _all(Extension)} == {RequestStatus.approved, RequestStatus.rejected,
                                                   RequestStatus.pending}

    # Closures of every kind in every state the demo shows.
    closures = Counter((c.kind, c.status) for c in _all(Closure))
    for pair in [(ClosureKind.signoff, ClosureStatus.leader_review),
                 (ClosureKind.signoff, ClosureStatus.leader_rejected),
                 (ClosureKind.signoff, ClosureStatus.verifying),
                 (ClosureKind.signoff, ClosureStatus.verified),
                 (ClosureKind.signoff, ClosureStatus.verification_rejected),
                 (ClosureKind.cannot_solve, ClosureStatus.office_review),
                 (ClosureKind.cannot_solve, ClosureStatus.approved),
                 (ClosureKind.on_spot, ClosureStatus.verifying),
                 (ClosureKind.on_spot, ClosureStatus.verified)]:
        assert closures[pair], pair
    assert any(c.no_evidence_reason for c in _all(Closure, Closure.kind == ClosureKind.signoff))

    # Replies of every verdict; closed problems by satisfaction; the reopened one is back in 办理中.
    replies = _all(Reply)
    assert {r.verdict for r in replies} == set(Verdict)
    closed_verdicts = {r.verdict for r in replies if r.problem.status == Status.closed}
    assert {Verdict.satisfied, Verdict.basically, Verdict.unreachable, Verdict.refused} <= closed_verdicts
    reopened = [r.problem for r in replies if r.reopened]
    assert reopened and all(p.reopen_count == 1 and p.status == Status.in_progress for p in reopened)
    # Ended without a handling unit: with and without the reply.
    for status in (Status.not_accepted, Status.merged, Status.cannot_solve):
        ended = _all(Problem, Problem.status == status)
        assert any(p.replied_at and p.reply_due is None for p in ended), status
        if status != Status.cannot_solve:
            assert any(p.reply_due is not None for p in ended), status
    # Signed off, owing the reply: one of them overdue.
    owed = _all(Problem, Problem.status == Status.signed_off)
    assert owed and all(p.reply_due for p in owed) and any(p.reply_due < today for p in owed)

    # Cooperating parts with feedback: one reported done, one still open.
    parts = _all(AssignmentUnit, AssignmentUnit.role == UnitRole.cooperating, AssignmentUnit.feedback.isnot(None))
    assert {p.status for p in parts} >= {PartStatus.done, PartStatus.accepted}

    # Joint meetings: the story's 协商会 minuted (its decisions are steps), an upcoming 会办会
    # convened by 潘安湖街道 inviting 区民政局, a cancelled one.
    meetings = _all(Meeting)
    minuted = [m for m in meetings if m.status == MeetingStatus.minuted]
    story = db.session.scalar(select(Problem).order_by(Problem.seq).limit(1))
    consult = next(m for m in minuted if m.kind == MeetingKind.consultation)
    assert [a.problem_id for a in consult.agenda] == [story.id] and consult.summary
    assert {d.unit.name for d in consult.decisions} == {"区卫计委", "区民政局"}
    story_steps = {s.decision_id: s for s in book_in_force(story).steps if s.source == StepSource.meeting}
    assert set(story_steps) == {d.id for d in consult.decisions}
    assert all(story_steps[d.id].due_on == d.due_on and story_steps[d.id].unit_id == d.unit_id
               for d in consult.decisions)
    assert any(s.done_at for s in story_steps.values()) and any(not s.done_at for s in story_steps.values())
    assert {u.unit.name: u.attended for u in consult.units}["区教育局"] is False
    upcoming = [m for m in meetings if m.status == MeetingStatus.planned]
    assert any(m.kind == MeetingKind.joint and m.convened_by_unit.name == "潘安湖街道"
               and clock.as_utc(m.starts_at) > now and "区民政局" in {u.unit.name for u in m.units} for m in upcoming)
    assert any(m.status == MeetingStatus.cancelled and m.summary for m in meetings)

    # Evidence: real PNG files under the upload folder, served by the attachment route.
    evidence = _all(Attachment, Attachment.kind == AttachmentKind.evidence)
    assert evidence and all(a.closure_id for a in evidence)
    for a in evidence:
        data = uploads.path_of(a.stored_name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == a.size
        assert hashlib.sha256(data).hexdigest() == a.sha256
    assert len({a.sha256 for a in evidence}) == len(evidence)  # every photo differs
    bridge = next(a for a in evidence if a.problem.title.startswith("生产桥") and a.problem.work_group.name
                  == "潘安湖街道工作组")
    resp = login_as("grouplead").client.get(f"/attachments/{bridge.id}")  # raw: not a page
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.get_data() == uploads.path_of(bridge.stored_name).read_bytes()

    _assert_queues(today)
    _assert_times(now)
    assert verify_chain().ok


def _assert_queues(today):
    """Each demo account finds something to do of each kind it handles (DOMAIN §3)."""
    town = _user("town")
    assert counters(town)["to_sign"] and _can("town", Action.sign_for)
    assert _can("town", Action.submit_plan)  # to write (one of them after a rejected book)
    assert any(b.status == BookStatus.rejected for p in _can("town", Action.submit_plan) for b in books(p))
    tickable = [p for p in db.session.scalars(select(Problem).where(scope(town)))
                if may_do(Activity.tick_step, p.status, town.role, relations(town, p)) and book_in_force(p)
                and any(s.done_at is None for s in book_in_force(p).steps)]
    assert tickable and any(s.is_overdue(today) for p in tickable for s in book_in_force(p).steps)
    assert _can("town", Action.request_signoff)

    assert _can("townlead", Action.approve_plan) and _can("townlead", Action.approve_signoff)

    verify = _can("grouplead", Action.verify)
    assert any(open_closure(p, ClosureStatus.verifying).kind == ClosureKind.signoff for p in verify)
    assert any(open_closure(p, ClosureStatus.verifying).kind == ClosureKind.on_spot for p in verify)
    assert _can("grouplead", Action.decide_extension)

    owed = _can("cadre", Action.reply)
    assert {p.status for p in owed} >= {Status.signed_off, Status.not_accepted, Status.merged}
    assert any(p.reply_due < today for p in owed)

    assert _can("office", Action.approve_cannot_solve)
    assert any(p.lead_unit is not None and p.lead_unit.name == "区民政局" and p.assigner_unit.name == "区活动办"
               for p in _can("office", Action.verify))

    dept = _user("dept")
    reporting = [p for p in db.session.scalars(select(Problem).where(scope(dept)))
                 if may_do(Activity.part_feedback, p.status, dept.role, relations(dept, p))
                 and any(u.unit_id == dept.unit_id and u.status == PartStatus.accepted for u in p.current_assignment.units)]
    assert reporting

    desk = _can("desk", Action.reply)
    assert desk and all(p.lead_unit.name == "区12345平台大走访专席" for p in desk)
    assert any(p.reply_due < today for p in desk)


def _assert_times(now):
    """Every handling act lies in the past, after what it follows."""
    def utc(t):
        return clock.as_utc(t) if t else None

    for b in _all(TaskBook):
        p = b.problem
        assert utc(p.accepted_at) < utc(b.submitted_at) < now
        if b.decided_at:
            assert utc(b.submitted_at) < utc(b.decided_at) < now
    for s in _all(TaskStep, TaskStep.done_at.isnot(None)):
        approved = db.session.scalar(select(TaskBook.decided_at).where(
            TaskBook.problem_id == s.problem_id, TaskBook.revision == 1))
        assert utc(approved) < utc(s.done_at) < now
    for c in _all(Closure):
        assert utc(c.problem.registered_at) < utc(c.requested_at) < now
        if c.completed_on is not None:
            assert c.completed_on <= clock.local(c.requested_at).date()
        if c.kind == ClosureKind.on_spot:  # decided by the group lead at triage
            assert c.leader_at == c.requested_at
        elif c.leader_at:
            assert utc(c.requested_at) < utc(c.leader_at) < now
        if c.verified_at:
            assert utc(c.leader_at or c.requested_at) < utc(c.verified_at) < now
        if c.status == ClosureStatus.verified and not c.problem.reopen_count:
            assert utc(c.problem.solved_at) == utc(c.verified_at)
    for e in _all(Extension):
        assert e.new_deadline > e.old_deadline and utc(e.requested_at) < now
        if e.decided_at:
            assert utc(e.requested_at) < utc(e.decided_at) < now
    for r in _all(Reply):
        assert utc(r.replied_at) < utc(r.created_at) < now
        closure = db.session.scalar(select(Closure).where(
            Closure.problem_id == r.problem_id, Closure.verified_at.isnot(None)).order_by(Closure.verified_at))
        if closure is not None:
            assert utc(closure.verified_at) < utc(r.replied_at)
    for m in _all(Meeting):
        assert utc(m.created_at) < now
        if m.minuted_at:
            assert utc(m.starts_at) < utc(m.minuted_at) < now
    for a in _all(Attachment, Attachment.closure_id.isnot(None)):
        assert utc(a.created_at) < now
    # Replies owed are due two working days after the verification (or the end).
    for p in _all(Problem, Problem.status == Status.signed_off):
        verified = db.session.scalar(select(Closure.verified_at).where(
            Closure.problem_id == p.id, Closure.status == ClosureStatus.verified).order_by(Closure.id.desc()))
        assert p.reply_due == reply_deadline(verified)
