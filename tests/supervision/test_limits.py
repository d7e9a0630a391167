"""Time limits enforced: sign-for reminded on its last day, 超时未签收 told to the unit and its
leader then escalated; handling deadlines, task-book steps, verification and replies reminded
and told when late; a late return needs the office's consent; the sweep twice adds nothing."""

from datetime import timedelta

from sqlalchemy import func, select

from tests.cases import factories as f
from tests.conftest import travel_to
from webapp.accounts.models import User
from webapp.cases import deadlines as case_deadlines
from webapp.cases import operations as ops
from webapp.core.calendar import add_workdays
from webapp.core.errors import Invalid
from webapp.core.extensions import db
from webapp.notifications.models import Notification
from webapp.supervision import limits


def _user(name):
    return db.session.scalar(select(User).where(User.username == name))


def _told(username, kind, problem):
    return db.session.scalar(select(func.count()).where(
        Notification.user_id == _user(username).id, Notification.kind == kind,
        Notification.target_type == "problem", Notification.target_id == problem.id))


def test_sign_for_reminded_then_late_then_escalated_each_once(app, on_date):
    problem = f.assigned_to_town()
    due = problem.sign_for_deadline
    limits.run(due)
    assert _told("town", "sign_for_due", problem) == 1
    assert _told("townlead", "sign_for_due", problem) == 0
    late = add_workdays(due, 1)
    limits.run(late)
    limits.run(late)  # twice in a minute: nothing more
    assert _told("town", "sign_for_overdue", problem) == 1
    assert _told("townlead", "sign_for_overdue", problem) == 1
    assert _told("grouplead", "sign_for_overdue", problem) == 0
    limits.run(add_workdays(due, 5))  # 通报 threshold (5 working days): whoever assigned hears
    assert _told("grouplead", "sign_for_overdue", problem) == 1
    assert _told("dept", "sign_for_overdue", problem) == 0  # never a whole district


def test_handling_deadline_due_soon_then_overdue(app):
    problem = f.assigned_to_town()
    ops.sign_for(problem, _user("town"))
    db.session.commit()
    limits.run(problem.deadline - timedelta(days=0))
    assert _told("town", "deadline_due", problem) == 1
    limits.run(add_workdays(problem.deadline, 1))
    assert _told("town", "deadline_overdue", problem) == 1
    assert _told("townlead", "deadline_overdue", problem) == 1


def test_late_return_needs_the_offices_consent(app, login_as):
    problem = f.assigned_to_town()
    limit = case_deadlines.return_deadline(problem)
    with travel_to(add_workdays(limit, 1)):
        try:
            ops.return_problem(problem, _user("town"), reason="不属于本单位职责范围")
            raise AssertionError("a late return went through")
        except Invalid as exc:
            assert "须经区活动办同意" in str(exc)
        db.session.rollback()
        office = login_as("office")
        page = office.get(f"/cases/{problem.id}/allow-late-return").get_data(as_text=True)
        assert limit.isoformat() in page
        resp = office.post(f"/cases/{problem.id}/allow-late-return",
                           {"version": str(problem.version), "reason": ""})
        assert resp.status_code == 200 and "请说明同意逾期退回的理由" in resp.get_data(as_text=True)
        db.session.refresh(problem)
        resp = office.post(f"/cases/{problem.id}/allow-late-return",
                           {"version": str(problem.version), "reason": "确属交办有误"})
        assert resp.status_code == 302
        assert _told("town", "returned", problem) == 1
        db.session.refresh(problem)
        town = login_as("town")
        resp = town.post(f"/cases/{problem.id}/return", {"version": str(problem.version),
                                                          "reason": "不属于本单位职责范围"})
        assert resp.status_code == 302
        db.session.refresh(problem)
        assert problem.status.value == "returned"
        assert _told("grouplead", "returned", problem) == 1


def test_a_return_in_time_needs_no_consent(app):
    problem = f.assigned_to_town()
    ops.return_problem(problem, _user("town"), reason="不属于本单位职责范围")
    db.session.commit()
    assert problem.status.value == "returned"


def test_the_rules_table_is_on_the_settings_page(app, login_as):
    page = login_as("office").get("/settings/limits").get_data(as_text=True)
    for rule in limits.RULES:
        assert str(rule.label) in page
    assert "核验时限（工作日）" in page


def _told_of(username, kind, problem, words):
    """Notifications of ``kind`` about ``problem`` whose title says ``words``."""
    return db.session.scalar(select(func.count()).where(
        Notification.user_id == _user(username).id, Notification.kind == kind,
        Notification.target_type == "problem", Notification.target_id == problem.id,
        Notification.title.contains(words)))


def test_a_task_book_step_is_reminded_then_late_then_escalated(app):
    from tests.handling import factories as hf

    problem = hf.in_progress()
    from webapp.handling.queries import book_in_force

    step = min(book_in_force(problem).steps, key=lambda s: s.due_on)
    limits.run(step.due_on)  # the first step of its timetable (the next may be reminded the same day)
    assert _told_of("town", "deadline_due", problem, step.title) == 1
    late = add_workdays(step.due_on, 1)
    limits.run(late)
    limits.run(late)
    assert _told_of("town", "deadline_overdue", problem, step.title) == 1
    assert _told_of("townlead", "deadline_overdue", problem, step.title) == 1
    assert _told_of("grouplead", "deadline_overdue", problem, step.title) == 0
    limits.run(add_workdays(step.due_on, 5))  # 通报 threshold: whoever assigned hears
    assert _told_of("grouplead", "deadline_overdue", problem, step.title) == 1


def test_a_pending_extension_is_reminded_to_the_assigner_then_told_late(app):
    from tests.handling import factories as hf
    from webapp.handling import operations as h

    problem = hf.in_progress()
    h.request_extension(problem, _user("town"), new_deadline=add_workdays(problem.deadline, 10),
                        reason="需协调资金", progress="已完成入户核实。")
    db.session.commit()
    old = problem.deadline
    limits.run(old)
    assert _told_of("grouplead", "extension_requested", problem, "延期申请待审批") == 1
    limits.run(add_workdays(old, 1))
    assert _told_of("grouplead", "deadline_overdue", problem, "延期申请逾期未审批") == 1
    assert _told_of("town", "deadline_overdue", problem, "延期申请") == 0


def test_verification_and_the_reply_are_reminded_then_told_late(app):
    from tests.handling import factories as hf
    from webapp.handling.models import ClosureStatus
    from webapp.handling.queries import open_closure
    from webapp.supervision.limits import verification_due

    problem = hf.pending_verification()
    due = verification_due(open_closure(problem, ClosureStatus.verifying).leader_at)
    limits.run(due)
    assert _told_of("grouplead", "verification", problem, "核验时限将到") == 1
    limits.run(add_workdays(due, 1))
    assert _told_of("grouplead", "deadline_overdue", problem, "核验已超期") == 1
    assert _told_of("town", "deadline_overdue", problem, "核验") == 0

    verified = hf.signed_off()
    reply_due = verified.reply_due
    limits.run(reply_due)
    assert _told_of("cadre", "reply_due", verified, "回音时限将到") == 1
    limits.run(reply_due + timedelta(days=1))
    assert _told_of("cadre", "deadline_overdue", verified, "回音已超期") == 1
    assert _told_of("grouplead", "deadline_overdue", verified, "回音已超期") == 1
