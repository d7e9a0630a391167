"""Intake and assignment operations: the workflow enforced, audited, numbered, idempotent."""

import pytest
from sqlalchemy import func, select

from tests.cases import factories as f
from webapp.cases import operations as ops
from webapp.cases.access import relations, scope
from webapp.cases.models import Assignment, PartStatus, Problem, ProblemEvent
from webapp.cases.workflow import NotAllowed, Status
from webapp.core.audit import AuditEvent, verify_chain
from webapp.core.errors import Conflict, Invalid
from webapp.core.extensions import db


def test_registration_numbers_per_year_and_audits(app):
    a, b = f.register(), f.register()
    assert a.number.startswith("贾走访〔") and a.number.endswith("号")
    assert b.seq == a.seq + 1 and a.receipt_no != b.receipt_no and len(a.receipt_no) == 10
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.event == "problem.register")) == 2
    assert a.town.name == "潘安湖街道" and a.status == Status.registered


def test_same_client_token_registers_once(app):
    data = ops.ProblemInput("张三", "13900001111", None, f.unit("权台村"), "", f.category(), "标题", "描述")
    p1, created1 = ops.register_problem(f.user("cadre"), data, client_token="tok-1")
    p2, created2 = ops.register_problem(f.user("cadre"), data, client_token="tok-1")
    db.session.commit()
    assert created1 and not created2 and p1.id == p2.id


def test_assign_sign_for_and_cooperating_part(app):
    p = f.assigned_to_town(cooperating=["区民政局"])
    assert p.status == Status.assigned and p.deadline and p.sign_for_deadline
    sheet = db.session.scalar(select(Assignment).where(Assignment.problem_id == p.id))
    assert sheet.number.startswith("贾走访交〔")
    # The cooperating department signs for its own part: status does not move.
    ops.sign_for(p, f.user("dept"))
    db.session.commit()
    assert p.status == Status.assigned
    ops.sign_for(p, f.user("town"), version=p.version)
    db.session.commit()
    assert p.status == Status.accepted
    assert {u.role.value: u.status for u in sheet.units} == {"lead": PartStatus.accepted, "cooperating": PartStatus.accepted}
    actions = [e.action for e in db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == p.id))]
    assert actions == ["register", "assign_sheet", "sign_for_part", "sign_for"]
    assert verify_chain().ok


def test_stale_version_is_refused(app):
    p = f.assigned_to_town()
    old = p.version
    ops.sign_for(p, f.user("town"), version=old)
    db.session.commit()
    with pytest.raises((Conflict, NotAllowed)):
        ops.return_problem(p, f.user("town"), reason="不归我们管", version=old)
    db.session.rollback()
    assert p.status == Status.accepted


def test_return_goes_back_to_the_assigner_for_re_triage(app):
    p = f.assigned_to_town()
    with pytest.raises(Invalid):
        ops.return_problem(p, f.user("town"), reason="  ")
    db.session.rollback()
    ops.return_problem(p, f.user("town"), reason="属于青山泉镇辖区")
    db.session.commit()
    assert p.status == Status.returned and p.lead_unit_id is None
    # The town no longer sees it; the group lead re-triages it to the right town.
    town = f.user("town")
    assert db.session.scalar(select(Problem).where(Problem.id == p.id, scope(town))) is None
    ops.assign_sheet(p, f.user("grouplead"), lead=f.unit("青山泉镇"), triage=f.QUICK)
    db.session.commit()
    assert p.status == Status.assigned and p.lead_unit.name == "青山泉镇"


def test_wrong_actor_is_refused(app):
    p = f.register()
    with pytest.raises(NotAllowed):
        ops.assign_sheet(p, f.user("town"), lead=f.unit("潘安湖街道"), triage=f.QUICK)
    with pytest.raises(NotAllowed):
        ops.assign_sheet(p, f.user("leader"), lead=f.unit("潘安湖街道"), triage=f.QUICK)
    db.session.rollback()
    p2 = f.assigned_to_town()
    with pytest.raises(NotAllowed):  # another unit cannot sign for it
        ops.sign_for(p2, f.user("dept"))


def test_coordinated_list_to_departments_and_return(app):
    p = f.assigned_to_department(cooperating=["区卫计委"])
    assert p.status == Status.assigned and p.lead_unit.name == "区民政局"
    assert p.coordinated_list.number.startswith("贾走访清〔")
    ops.return_problem(p, f.user("dept"), reason="应由区人社局牵头")
    db.session.commit()
    assert p.status == Status.returned
    ops.assign_departments(p, f.user("office"), lead=f.unit("区人社局"))
    db.session.commit()
    assert p.status == Status.assigned and f.unit("区人社局").id == p.lead_unit_id


def test_scope_per_role(app):
    mine = f.register("cadre")
    town_p = f.assigned_to_town()
    dept_p = f.assigned_to_department()

    def seen(username):
        return set(db.session.scalars(select(Problem.id).where(scope(f.user(username)))))

    assert seen("cadre") == {mine.id, town_p.id, dept_p.id}  # all registered by cadre
    assert seen("town") == {town_p.id}
    assert seen("dept") == {dept_p.id}
    assert seen("desk") == set()
    assert seen("office") >= {mine.id, town_p.id, dept_p.id}
    for admin in ("sysadmin", "secadmin", "auditor"):
        assert seen(admin) == set()
    assert relations(f.user("grouplead"), town_p) >= {"group", "assigner"}
