"""Coordinated lists through HTTP: compile, remove, submit; the office assigns departments."""

from datetime import date

import pytest
import time_machine

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import count, flashes, form_values, fresh, text, triage_fields
from webapp.cases import operations as ops
from webapp.cases.models import Assignment, Channel, CoordinatedList, ListStatus
from webapp.cases.workflow import Status
from webapp.core.extensions import db

QUICK_DUE = date(2026, 3, 23)  # 15 working days after Monday 2 March 2026


@pytest.fixture
def monday():
    with time_machine.travel(MON, tick=False):
        yield


@pytest.fixture
def gl(login_as, monday):
    return login_as("grouplead")


@pytest.fixture
def office(login_as, monday):
    return login_as("office")


def add_to_list(b, problem):
    page = text(b.get(f"/cases/{problem.id}/triage"))
    data = {**form_values(page, f"/cases/{problem.id}/assign"),
            **triage_fields(kind="common", level="district")}
    return b.post(f"/cases/{problem.id}/list", data=data)


def the_list() -> CoordinatedList:
    db.session.rollback()
    return db.session.scalar(db.select(CoordinatedList).order_by(CoordinatedList.id.desc()))


def departments(b, problem, lead="区民政局", cooperating=("区卫计委",), origin="list", **kw):
    page = text(b.get(f"/lists/{problem.coordinated_list_id}" if origin == "list" else f"/cases/{problem.id}/triage"))
    hidden = form_values(page, f"/cases/{problem.id}/departments")
    data = {**hidden, "dept_lead": str(f.unit(lead).id) if lead else "",
            "dept_cooperating": [str(f.unit(c).id) for c in cooperating], **kw}
    return b.post(f"/cases/{problem.id}/departments", data=data)


def test_group_compiles_and_submits_and_office_assigns_departments(app, gl, office, login_as):
    p1, p2, p3 = f.register(title="村里自来水压力不足"), f.register(title="道路破损"), f.register(title="路灯不亮")
    for p in (p1, p2, p3):
        assert add_to_list(gl, p).status_code == 302
    cl = the_list()
    assert cl.status == ListStatus.draft and cl.number is None and len(cl.problems) == 3
    assert {fresh(p).status for p in (p1, p2, p3)} == {Status.listed}
    # The office does not see a draft.
    assert office.get(f"/lists/{cl.id}").status_code == 404
    assert cl.title not in text(office.get("/lists"))
    # The group lead takes one item off again.
    page = text(gl.get(f"/lists/{cl.id}"))
    assert p1.title in page and p3.title in page
    url = f"/cases/{p3.id}/remove-from-list"
    resp = gl.post(url, data=form_values(page, url))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/lists/{cl.id}")
    assert fresh(p3).status == Status.registered and p3.coordinated_list_id is None
    # Submit: numbered, sent to the office.
    page = text(gl.get(f"/lists/{cl.id}"))
    resp = gl.post(f"/lists/{cl.id}/submit", data=form_values(page, f"/lists/{cl.id}/submit"))
    assert resp.status_code == 302
    cl = fresh(cl)
    assert cl.status == ListStatus.submitted and cl.number == "贾走访清〔2026〕0001号"
    assert any("贾走访清〔2026〕0001号" in m for m in flashes(gl.get(f"/lists/{cl.id}")))
    # Nothing can be taken off a submitted list.
    assert "/remove-from-list" not in text(gl.get(f"/lists/{cl.id}"))
    # The office's inbox shows it; it assigns item 1 to 区民政局 with 区卫计委 cooperating.
    assert cl.number in text(office.get("/lists"))
    page = text(office.get(f"/lists/{cl.id}"))
    assert 'value="2026-03-23"' in page  # the default deadline: quick, 15 working days from today
    resp = departments(office, p1)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/lists/{cl.id}")
    p1 = fresh(p1)
    assert p1.status == Status.assigned and p1.deadline == QUICK_DUE
    a = p1.current_assignment
    assert a.channel == Channel.office and a.number == "贾走访统交〔2026〕0001号"
    assert [(u.unit.name, u.role.value) for u in a.units] == [("区民政局", "lead"), ("区卫计委", "cooperating")]
    assert fresh(cl).status == ListStatus.submitted  # one item still waits
    assert login_as("dept").get(f"/cases/{p1.id}").status_code == 200
    # The second item with a later deadline of the office's choosing: the list is now assigned.
    resp = departments(office, p2, lead="区住建局", cooperating=(), deadline="2026-04-30")
    assert resp.status_code == 302
    assert fresh(p2).deadline == date(2026, 4, 30)
    assert fresh(cl).status == ListStatus.assigned


def test_office_deadline_not_before_today_and_departments_only(app, gl, office):
    p = f.register()
    add_to_list(gl, p)
    cl = the_list()
    ops.submit_list(cl, f.user("grouplead"))
    db.session.commit()
    resp = departments(office, p, deadline="2026-03-01")
    assert resp.status_code == 200 and "办理时限不能早于今天。" in text(resp)
    resp = departments(office, p, lead="潘安湖街道")
    assert resp.status_code == 200 and "只能交办给在用的区级部门：潘安湖街道 不是。" in text(resp)
    resp = departments(office, p, lead="")
    assert resp.status_code == 200 and "请选择牵头的区级部门。" in text(resp)
    assert fresh(p).status == Status.listed and count(Assignment) == 0


def test_submitting_twice_or_stale(app, gl, office):
    p = f.register()
    add_to_list(gl, p)
    cl = the_list()
    data = form_values(text(gl.get(f"/lists/{cl.id}")), f"/lists/{cl.id}/submit")
    assert gl.post(f"/lists/{cl.id}/submit", data=data).status_code == 302
    again = gl.post(f"/lists/{cl.id}/submit", data=data)  # the same click twice
    assert again.status_code == 302
    assert any("未重复上报" in m for m in flashes(gl.get(again.headers["Location"])))
    assert fresh(cl).number == "贾走访清〔2026〕0001号"


def test_stale_list_submit_is_409(app, gl):
    p = f.register()
    add_to_list(gl, p)
    cl = the_list()
    data = form_values(text(gl.get(f"/lists/{cl.id}")), f"/lists/{cl.id}/submit")
    cl = fresh(cl)
    cl.title = "改过标题的清单"  # the list changed since the page was drawn
    db.session.commit()
    resp = gl.post(f"/lists/{cl.id}/submit", data=data)
    assert resp.status_code == 409 and str(ops.STALE) in text(resp)
    assert fresh(cl).status == ListStatus.draft


def test_returned_district_problem_is_assigned_again_by_the_office(app, office, login_as):
    p = f.assigned_to_department()
    ops.return_problem(p, f.user("dept"), reason="该事项由区卫计委主管，请改交。")
    db.session.commit()
    assert fresh(p).status == Status.returned
    page = text(office.get("/lists"))
    assert p.number in page and "待重新交办" in page
    triage = text(office.get(f"/cases/{p.id}/triage"))
    assert "该事项由区卫计委主管，请改交。" in triage and 'id="act-departments"' in triage
    resp = departments(office, p, lead="区卫计委", cooperating=("区民政局",), origin="triage")
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.assigned and p.lead_unit.name == "区卫计委"
    assert [a.unit.name for a in p.current_assignment.units] == ["区卫计委", "区民政局"]


def test_who_sees_which_list(app, gl, office, login_as):
    p = f.register()
    add_to_list(gl, p)
    cl = the_list()
    leader = login_as("leader")
    assert leader.get(f"/lists/{cl.id}").status_code == 404  # a draft is the group's own
    cl = the_list()
    ops.submit_list(cl, f.user("grouplead"))
    db.session.commit()
    assert leader.get(f"/lists/{cl.id}").status_code == 200
    # The leader reads, and changes nothing.
    data = {"version": str(p.version), "dept_lead": str(f.unit("区民政局").id), "deadline": "2026-03-20"}
    assert leader.post(f"/cases/{p.id}/departments", data=data).status_code == 403
    for username in ("town", "dept", "cadre", "desk"):
        assert login_as(username).get(f"/lists/{cl.id}").status_code == 403
    # The group lead cannot assign departments (the office's part).
    assert gl.post(f"/cases/{p.id}/departments", data=data).status_code == 403
    assert fresh(p).status == Status.listed
