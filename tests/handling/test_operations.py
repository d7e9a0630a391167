"""The rules of each handling operation (handling.operations), driven directly, without screens.

Task books (validation, approval, revision, refusal), extensions, sign-off, verification, the
reply to the resident and its verdicts, ``moot_actions``. Every problem is brought to its
status through the real operations (``tests.handling.factories``); the clock is frozen.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.handling import factories as hf
from webapp.cases import deadlines as case_deadlines
from webapp.cases import operations as ops
from webapp.cases.models import ProblemEvent
from webapp.cases.workflow import Action, NotAllowed, Status, Tier
from webapp.core import calendar, clock
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.clock import LOCAL_TZ
from webapp.core.deadlines import latest_extension_request
from webapp.core.errors import Conflict, FieldsInvalid, Invalid
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import (
    BookStatus,
    Closure,
    ClosureKind,
    ClosureStatus,
    Extension,
    Reply,
    ReplyMethod,
    RequestStatus,
    TaskBook,
    Verdict,
)
from webapp.handling.operations import resolve_on_spot
from webapp.handling.queries import (
    book_in_force,
    book_under_review,
    moot_actions,
    open_closure,
    open_parts,
    pending_extension,
)


@pytest.fixture(autouse=True)
def frozen():
    """Monday 2 March 2026, 10:00 in Jiawang (no holiday within the quick-tier limit)."""
    with time_machine.travel(MON, tick=False) as traveller:
        yield traveller


def at_local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def events(p, action=None) -> list[ProblemEvent]:
    q = select(ProblemEvent).where(ProblemEvent.problem_id == p.id).order_by(ProblemEvent.id)
    if action:
        q = q.where(ProblemEvent.action == action)
    return db.session.scalars(q).all()


def audits(p, action) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.event == f"problem.{action}", AuditEvent.object_id == str(p.id)))


def book_rows(p) -> list[TaskBook]:
    return db.session.scalars(select(TaskBook).where(TaskBook.problem_id == p.id).order_by(TaskBook.revision)).all()


# ---------------------------------------------------------------- task book


def _book_args(p, **over):
    today = clock.today()
    args = dict(handler=f.user("town"), responsible_leader="王主任", responsible_department="社会事业局",
                measures="核实情况，协调资金，限期解决。", deadline=p.deadline,
                steps=[h.StepInput("入户核实", calendar.add_workdays(today, 1)),
                       h.StepInput("落实整改", calendar.add_workdays(today, 3))])
    args.update({k: (v(p) if callable(v) else v) for k, v in over.items()})
    return args


BAD_BOOKS = {
    "handler of another unit": ("handler_id", dict(handler=lambda p: f.user("dept"))),
    "handler not a handler": ("handler_id", dict(handler=lambda p: f.user("grouplead"))),
    "no handler": ("handler_id", dict(handler=None)),
    "no leader": ("responsible_leader", dict(responsible_leader="  ")),
    "no department": ("responsible_department", dict(responsible_department="")),
    "no measures": ("measures", dict(measures=" ")),
    "no deadline": ("deadline", dict(deadline=None)),
    "deadline past the ceiling": ("deadline", dict(deadline=lambda p: p.deadline + timedelta(days=1))),
    "deadline before today": ("deadline", dict(deadline=date(2026, 3, 1))),
    "no steps": ("steps", dict(steps=[])),
    "too many steps": ("steps", dict(steps=lambda p: [h.StepInput(f"步骤{i}", p.deadline) for i in range(21)])),
    "blank step": ("steps", dict(steps=lambda p: [h.StepInput("  ", p.deadline)])),
    "step without date": ("steps", dict(steps=lambda p: [h.StepInput("核实", None)])),
    "step before today": ("steps", dict(steps=[h.StepInput("核实", date(2026, 2, 27))])),
    "step after the deadline": ("steps", dict(steps=lambda p: [h.StepInput("核实", p.deadline + timedelta(days=1))])),
}


@pytest.mark.parametrize("case", list(BAD_BOOKS))
def test_an_invalid_task_book_is_refused_at_its_field(app, case):
    field, over = BAD_BOOKS[case]
    p = hf.accepted()
    with pytest.raises(FieldsInvalid) as exc:
        h.submit_plan(p, f.user("town"), **_book_args(p, **over))
    assert field in exc.value.errors, exc.value.errors
    db.session.rollback()
    assert p.status == Status.accepted and book_rows(p) == [] and events(p, "submit_plan") == []


def test_the_unit_leader_may_be_the_handler_and_approval_sets_deadline_and_handler(app):
    p = hf.accepted()
    ceiling = p.deadline
    shorter = calendar.add_workdays(clock.today(), 5)
    book = h.submit_plan(p, f.user("town"), **_book_args(p, handler=f.user("townlead"), deadline=shorter))
    db.session.commit()
    assert p.status == Status.plan_review and book.status == BookStatus.submitted and book.revision == 1
    assert p.deadline == ceiling and p.handler_id is None  # nothing moves before approval
    with pytest.raises(NotAllowed):  # the handler cannot approve his own book
        h.approve_plan(p, f.user("town"))
    db.session.rollback()
    h.approve_plan(p, f.user("townlead"), note="同意")
    db.session.commit()
    assert p.status == Status.in_progress and book.status == BookStatus.approved
    assert p.deadline == shorter and p.handler_id == f.user("townlead").id
    assert book_in_force(p) == book and book_under_review(p) is None
    ev = events(p, "approve_plan")[-1]
    assert not ev.is_public and (ev.from_status, ev.to_status) == (Status.plan_review, Status.in_progress)
    assert audits(p, "approve_plan") == 1 and verify_chain().ok


def test_a_revision_keeps_the_done_steps_and_supersedes_the_book_on_approval(app):
    p = hf.in_progress()
    first = book_in_force(p)
    done, open_ = sorted(first.steps, key=lambda s: s.seq)
    h.tick_step(p, f.user("town"), done, note="已入户核实")
    db.session.commit()
    with pytest.raises(FieldsInvalid) as exc:  # a revision says why
        h.submit_plan(p, f.user("town"), **_book_args(p))
    assert "revision_reason" in exc.value.errors
    db.session.rollback()
    frozen_deadline = p.deadline
    steps = [h.StepInput("改写已完成的步骤", done.due_on, from_step_id=done.id),  # ignored: done stays done
             h.StepInput(open_.title, open_.due_on, from_step_id=open_.id),
             h.StepInput("新增：回访群众", p.deadline)]
    rev = h.submit_plan(p, f.user("town"), **_book_args(p, steps=steps), revision_reason="会办后增加回访步骤")
    db.session.commit()
    assert rev.revision == 2 and p.status == Status.plan_review
    # The approved book stays in force while the revision waits.
    assert book_in_force(p) == first and book_under_review(p) == rev
    got = [(s.seq, s.title, s.done_at is not None) for s in sorted(rev.steps, key=lambda s: s.seq)]
    assert got == [(1, done.title, True), (2, open_.title, False), (3, "新增：回访群众", False)]
    assert rev.steps[0].done_note == "已入户核实"
    h.approve_plan(p, f.user("townlead"))
    db.session.commit()
    assert [b.status for b in book_rows(p)] == [BookStatus.superseded, BookStatus.approved]
    assert book_in_force(p) == rev and p.status == Status.in_progress and p.deadline == frozen_deadline
    assert [e.action for e in events(p)][-3:] == ["tick_step", "revise_plan", "approve_plan"]


@pytest.mark.parametrize("revision", [False, True], ids=["first book", "revision"])
def test_rejecting_a_book(app, revision):
    p = hf.in_progress() if revision else hf.plan_review()
    if revision:
        hf.submit_book(p, reason="调整时间表")
    before = p.deadline
    with pytest.raises(Invalid):
        h.reject_plan(p, f.user("townlead"), reason="  ")
    db.session.rollback()
    with pytest.raises(NotAllowed):
        h.reject_plan(p, f.user("town"), reason="不行")
    db.session.rollback()
    rejected = h.reject_plan(p, f.user("townlead"), reason="措施不具体")
    db.session.commit()
    assert rejected.status == BookStatus.rejected and rejected.decision_note == "措施不具体"
    # A refused first book goes back to be written again; a refused revision leaves the
    # approved book in force and the problem in handling (the alternative target).
    assert p.status == (Status.in_progress if revision else Status.accepted)
    assert (book_in_force(p) is not None) is revision and book_under_review(p) is None
    assert p.deadline == before
    ev = events(p, "reject_plan")[-1]
    assert ev.to_status == p.status and ev.note == "措施不具体"
    # The writer may try again.
    hf.submit_book(p, reason="按要求修改" if revision else None)
    assert p.status == Status.plan_review


# ---------------------------------------------------------------- extensions


def _request(p, new_deadline=None, **kw):
    return h.request_extension(p, f.user("town"), new_deadline=new_deadline or p.deadline + timedelta(days=10),
                               reason=kw.get("reason", "需协调资金"), progress=kw.get("progress", "已完成核实"))


def test_an_extension_may_be_requested_only_up_to_the_latest_day(app, frozen):
    p = hf.in_progress()
    deadline = p.deadline
    latest = latest_extension_request(deadline)
    assert latest == calendar.add_workdays(deadline, -1) < deadline
    frozen.move_to(at_local(latest.year, latest.month, latest.day, 23, 0))
    for kw, field in ((dict(new_deadline=deadline), "new_deadline"), (dict(progress=" "), "progress")):
        with pytest.raises(FieldsInvalid) as exc:
            _request(p, **kw)
        assert field in exc.value.errors
        db.session.rollback()
    with pytest.raises(Invalid):
        _request(p, reason="")
    db.session.rollback()
    ext = _request(p)
    db.session.commit()
    assert ext.status == RequestStatus.pending and ext.old_deadline == deadline
    with pytest.raises(Conflict):  # one request at a time
        _request(p)
    db.session.rollback()
    # A day later is too late for the next one.
    h.decide_extension(p, f.user("grouplead"), approve=False, note="时限内可以完成")
    db.session.commit()
    nxt = calendar.add_workdays(latest, 1)
    frozen.move_to(at_local(nxt.year, nxt.month, nxt.day, 9, 0))
    with pytest.raises(FieldsInvalid) as exc:
        _request(p)
    assert "new_deadline" in exc.value.errors and latest.isoformat() in str(exc.value.errors["new_deadline"])
    db.session.rollback()
    assert p.deadline == deadline


@pytest.mark.parametrize("decider", ["grouplead", "office"])
def test_deciding_an_extension(app, decider):
    p = hf.in_progress()
    old = p.deadline
    ext = _request(p)
    db.session.commit()
    with pytest.raises(NotAllowed):  # the unit does not decide its own request
        h.decide_extension(p, f.user("townlead"), approve=True)
    db.session.rollback()
    with pytest.raises(Invalid):  # a refusal says why
        h.decide_extension(p, f.user(decider), approve=False, note="")
    db.session.rollback()
    h.decide_extension(p, f.user(decider), approve=True)
    db.session.commit()
    assert ext.status == RequestStatus.approved and ext.decided_by_id == f.user(decider).id
    assert p.deadline == ext.new_deadline > old and p.status == Status.in_progress
    ev = events(p, "approve_extension")[-1]
    assert not ev.is_public and ev.from_status == ev.to_status == Status.in_progress
    with pytest.raises(Conflict):  # nothing waits any more
        h.decide_extension(p, f.user(decider), approve=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Extension).where(Extension.problem_id == p.id)) == 1


# ---------------------------------------------------------------- sign-off


def _signoff(p, **kw):
    args = dict(result="已维修完毕", completed_on=clock.today(), evidence_count=0, no_evidence_reason=None,
                open_parts_reason=None, step_reasons=hf.open_step_reasons(p))
    args.update(kw)
    return h.request_signoff(p, f.user("town"), **args)


@pytest.mark.parametrize(("kw", "field"), [
    (dict(), "evidence"),
    (dict(no_evidence_reason="  "), "evidence"),
    (dict(evidence_count=1, result=" "), "result"),
    (dict(evidence_count=1, completed_on=None), "completed_on"),
    (dict(evidence_count=1, completed_on=date(2026, 3, 3)), "completed_on"),
])
def test_signoff_needs_result_date_and_evidence_or_a_reason(app, kw, field):
    p = hf.in_progress()
    with pytest.raises(FieldsInvalid) as exc:
        _signoff(p, **kw)
    assert field in exc.value.errors
    db.session.rollback()
    assert p.status == Status.in_progress and open_closure(p, *ClosureStatus) is None


@pytest.mark.parametrize(("kw", "kept"), [
    (dict(evidence_count=2, no_evidence_reason="不会保存"), None),
    (dict(no_evidence_reason="现场整改，无法拍照"), "现场整改，无法拍照"),
])
def test_signoff_with_evidence_or_a_reason(app, kw, kept):
    p = hf.in_progress()
    closure = _signoff(p, **kw)
    db.session.commit()
    assert p.status == Status.signoff_review and closure.status == ClosureStatus.leader_review
    assert closure.kind == ClosureKind.signoff and closure.no_evidence_reason == kept
    assert closure.open_parts_reason is None


def test_open_cooperating_parts_need_a_reason_until_they_report_done(app):
    p = hf.in_progress(cooperating=("区民政局",))
    assert [part.unit.name for part in open_parts(p)] == ["区民政局"]
    with pytest.raises(FieldsInvalid) as exc:
        _signoff(p, evidence_count=1)
    assert "区民政局" in str(exc.value.errors["open_parts_reason"])
    db.session.rollback()
    closure = _signoff(p, evidence_count=1, open_parts_reason="民政局已电话确认")
    db.session.commit()
    assert closure.open_parts_reason == "民政局已电话确认"
    # Sent back by the leader; meanwhile the department signs for its part and reports done.
    h.reject_signoff(p, f.user("townlead"), reason="等配合单位反馈")
    ops.sign_for(p, f.user("dept"))
    h.part_feedback(p, f.user("dept"), text="低保材料已审核", done=True)
    db.session.commit()
    assert p.status == Status.in_progress and open_parts(p) == []
    closure = _signoff(p, evidence_count=1, open_parts_reason="多余的说明")
    db.session.commit()
    assert closure.open_parts_reason is None


def test_signoff_approval_and_refusal_by_the_unit_leader(app):
    p = hf.signoff_review()
    with pytest.raises(NotAllowed):
        h.approve_signoff(p, f.user("town"))
    db.session.rollback()
    with pytest.raises(Invalid):
        h.reject_signoff(p, f.user("townlead"), reason="")
    db.session.rollback()
    c = h.approve_signoff(p, f.user("townlead"), note="同意")
    db.session.commit()
    assert p.status == Status.pending_verification and c.status == ClosureStatus.verifying
    assert c.leader_id == f.user("townlead").id and c.leader_note == "同意"


# ---------------------------------------------------------------- verification (核销)


def _on_spot():
    p = f.register()
    closure = resolve_on_spot(p, f.user("grouplead"), triage=f.QUICK, result="当场协调物业修复")
    db.session.commit()
    return p, closure


@pytest.mark.parametrize("kind", ["signoff", "on_spot"])
def test_rejecting_a_verification(app, kind):
    if kind == "on_spot":
        p, closure = _on_spot()
    else:
        p = hf.pending_verification()
        closure = open_closure(p, ClosureStatus.verifying)
    assert p.status == Status.pending_verification
    for who in ("town", "townlead", "cadre"):
        with pytest.raises(NotAllowed):
            h.reject_verification(p, f.user(who), reason="没有解决")
        db.session.rollback()
    with pytest.raises(Invalid):
        h.reject_verification(p, f.user("grouplead"), reason=" ")
    db.session.rollback()
    h.reject_verification(p, f.user("grouplead"), reason="现场查看仍未解决")
    db.session.commit()
    assert closure.status == ClosureStatus.verification_rejected and closure.verifier_note == "现场查看仍未解决"
    # Back to the unit; an on-the-spot solution without a unit goes back to triage.
    assert p.status == (Status.registered if kind == "on_spot" else Status.in_progress)
    assert p.solved_at is None and p.reply_due is None
    assert audits(p, "reject_verification") == 1


def test_verify_signs_off_and_the_reply_is_due_after_the_holiday(app, frozen):
    # Tuesday 29 September 2026; National Day runs 1–7 October.
    frozen.move_to(at_local(2026, 9, 29, 10, 0))
    p = hf.pending_verification()
    frozen.move_to(at_local(2026, 9, 30, 16, 0))
    with pytest.raises(NotAllowed):
        h.verify(p, f.user("townlead"))
    db.session.rollback()
    closure = h.verify(p, f.user("grouplead"), note="经核实已解决")
    db.session.commit()
    assert p.status == Status.signed_off and closure.status == ClosureStatus.verified
    assert closure.verifier_id == f.user("grouplead").id and closure.verifier_unit_id == f.user("grouplead").unit_id
    assert clock.as_utc(p.solved_at) == clock.now() == datetime(2026, 9, 30, 8, 0, tzinfo=UTC)
    # Two working days after 30 September: 8 and 9 October (not 2 October).
    assert p.reply_due == date(2026, 10, 9) and p.replied_at is None
    ev = events(p, "verify")[-1]
    assert not ev.is_public and (ev.from_status, ev.to_status) == (Status.pending_verification, Status.signed_off)
    assert audits(p, "verify") == 1 and verify_chain().ok


def test_an_on_spot_solution_is_verified_like_a_signoff(app):
    p, closure = _on_spot()
    assert closure.kind == ClosureKind.on_spot and closure.status == ClosureStatus.verifying
    h.verify(p, f.user("office"))
    db.session.commit()
    assert p.status == Status.signed_off and p.reply_due == calendar.add_workdays(clock.today(), 2)


# ---------------------------------------------------------------- the reply (回音)


def _reply(p, verdict, substantive=False, words="问题没有解决", user="cadre", **kw):
    kw.setdefault("replied_at", clock.now() - timedelta(minutes=5))
    kw.setdefault("content", "已告知办理结果")
    return h.reply(p, f.user(user), method=ReplyMethod.phone, verdict=verdict, resident_words=words,
                   substantive=substantive, **kw)


@pytest.mark.parametrize(("verdict", "substantive", "reopens"), [
    (Verdict.satisfied, False, False),
    (Verdict.satisfied, True, False),
    (Verdict.basically, False, False),
    (Verdict.unreachable, False, False),
    (Verdict.refused, False, False),
    (Verdict.unsatisfied, False, False),
    (Verdict.unsatisfied, True, True),
])
def test_reply_verdicts_on_a_signed_off_problem(app, frozen, verdict, substantive, reopens):
    p = hf.signed_off()
    old_deadline = p.deadline
    frozen.move_to(at_local(2026, 3, 4, 15, 0))
    record = _reply(p, verdict, substantive)
    db.session.commit()
    now = clock.now()
    assert record.reopened is reopens and record.status_at_reply == "signed_off"
    assert clock.as_utc(p.replied_at) == now and p.reply_due is None
    if reopens:
        assert p.status == Status.in_progress and p.reopen_count == 1 and p.solved_at is None
        assert p.deadline == case_deadlines.handling_deadline(now, Tier.quick) != old_deadline
        assert p.closed_at is None and events(p, "reply_reopen")[-1].to_status == Status.in_progress
        assert audits(p, "reply_reopen") == 1
        # Handling starts again: a new sign-off request may be made.
        _signoff(p, evidence_count=1)
        assert p.status == Status.signoff_review
    else:
        assert p.status == Status.closed and p.reopen_count == 0 and clock.as_utc(p.closed_at) == now
        assert p.solved_at is not None and p.deadline == old_deadline
        assert events(p, "reply")[-1].to_status == Status.closed and audits(p, "reply") == 1
        with pytest.raises(NotAllowed):  # nothing more to reply
            _reply(p, Verdict.satisfied)
    db.session.rollback()


def test_a_reopened_on_spot_solution_goes_back_to_triage(app):
    """Regression: it has no unit to go back to (it used to land in 办理中 without a unit or a
    deadline, which the database refuses)."""
    p, _closure = _on_spot()
    h.verify(p, f.user("grouplead"))
    db.session.commit()
    record = _reply(p, Verdict.unsatisfied, substantive=True)
    db.session.commit()
    assert record.reopened and p.status == Status.registered and p.reopen_count == 1
    assert p.lead_unit_id is None and p.deadline is None and p.solved_at is None and p.reply_due is None
    assert events(p, "reply_reopen")[-1].to_status == Status.registered
    # Triaged again like any new problem.
    ops.assign_sheet(p, f.user("grouplead"), lead=f.unit("潘安湖街道"), triage=f.QUICK)
    db.session.commit()
    assert p.status == Status.assigned and p.deadline is not None


@pytest.mark.parametrize(("kw", "exc", "field"), [
    (dict(verdict=Verdict.unsatisfied, substantive=True, words=" "), Invalid, None),  # reopening needs the words
    (dict(verdict=Verdict.unsatisfied, words=""), FieldsInvalid, "resident_words"),
    (dict(verdict=Verdict.satisfied, content=" "), FieldsInvalid, "content"),
    (dict(verdict=Verdict.satisfied, replied_at=None), FieldsInvalid, "replied_at"),
    (dict(verdict=Verdict.satisfied, replied_at=MON + timedelta(hours=1)), FieldsInvalid, "replied_at"),
    (dict(verdict=Verdict.satisfied, user="town"), NotAllowed, None),
    (dict(verdict=Verdict.satisfied, user="grouplead"), NotAllowed, None),
])
def test_a_bad_reply_is_refused(app, kw, exc, field):
    p = hf.signed_off()
    with pytest.raises(exc) as info:
        _reply(p, **kw)
    if field:
        assert field in info.value.errors
    db.session.rollback()
    assert p.status == Status.signed_off and p.reply_due is not None
    assert db.session.scalar(select(func.count()).select_from(Reply).where(Reply.problem_id == p.id)) == 0


def _not_accepted():
    p = f.register()
    ops.not_accept(p, f.user("grouplead"), reason="属于司法程序")
    db.session.commit()
    return p


def _merged():
    into, p = f.register(), f.register()
    ops.merge(p, f.user("grouplead"), into=into, reason="与已登记问题重复")
    db.session.commit()
    return p


ENDED_BUILDERS = {Status.not_accepted: _not_accepted, Status.merged: _merged, Status.cannot_solve: hf.cannot_solve}


@pytest.mark.parametrize("status", list(ENDED_BUILDERS))
@pytest.mark.parametrize(("verdict", "substantive"), [(Verdict.satisfied, False), (Verdict.unsatisfied, True)])
def test_a_reply_on_an_ended_problem_keeps_its_status(app, status, verdict, substantive):
    p = ENDED_BUILDERS[status]()
    assert p.status == status and p.reply_due == calendar.add_workdays(clock.today(), 2)
    assert Action.reply not in moot_actions(p)
    _reply(p, verdict, substantive)
    db.session.commit()
    assert p.status == status and p.reply_due is None and p.replied_at is not None
    assert p.reopen_count == 0 and p.closed_at is None
    ev = events(p, "reply")[-1]
    assert ev.from_status == ev.to_status == status and ev.is_public
    assert Action.reply in moot_actions(p)
    with pytest.raises(Conflict):  # the reply is no longer owed
        _reply(p, Verdict.satisfied)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Reply).where(Reply.problem_id == p.id)) == 1


def test_the_same_reply_token_records_once(app):
    p = hf.signed_off()
    first = _reply(p, Verdict.satisfied, token="tok-reply-1")
    db.session.commit()
    again = _reply(p, Verdict.satisfied, token="tok-reply-1")
    assert again.id == first.id and p.status == Status.closed and len(events(p, "reply")) == 1


# ---------------------------------------------------------------- moot actions


def test_moot_actions(app):
    p = hf.in_progress()
    assert moot_actions(p) == {Action.reply_reopen, Action.decide_extension}
    _request(p)
    db.session.commit()
    assert moot_actions(p) == {Action.reply_reopen, Action.request_extension}
    q = hf.signed_off()
    assert moot_actions(q) == {Action.reply_reopen}
    hf.reply(q)
    assert q.status == Status.closed and moot_actions(q) == {Action.reply_reopen}
    closures = db.session.scalars(select(Closure).where(Closure.problem_id == q.id)).all()
    assert [c.status for c in closures] == [ClosureStatus.verified]


def test_a_waiting_extension_lapses_when_the_unit_asks_for_sign_off(app):
    """Approving it after a reopen would otherwise set an old, earlier date."""
    from webapp.handling.models import Extension, RequestStatus

    p = hf.in_progress()
    town = f.user("town")
    ext = h.request_extension(p, town, new_deadline=calendar.add_workdays(p.deadline, 5),
                              reason="需协调资金", progress="已入户核实")
    db.session.commit()
    h.request_signoff(p, town, result="已解决", completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="现场整改", step_reasons=hf.open_step_reasons(p))
    db.session.commit()
    assert db.session.get(Extension, ext.id).status == RequestStatus.withdrawn
    assert pending_extension(p) is None
    # Back in progress (the leader sends the sign-off back): nothing old waits for a decision.
    h.reject_signoff(p, f.user("townlead"), reason="证据不足")
    db.session.commit()
    assert Action.decide_extension in moot_actions(p)


def test_a_cooperating_part_cannot_be_signed_for_once_the_problem_has_ended(app):
    p = hf.closed(cooperating=("区民政局",))
    with pytest.raises(Conflict):
        ops.sign_for(p, f.user("dept"))
    db.session.rollback()
