"""Sign for (签收) and return (退回) through HTTP: PRG, the htmx fragment with its HX-Trigger,
stale versions (409), validation, cooperating parts, and other units (404)."""

from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import actions, numbers, tabs, text
from webapp.cases.models import AssignmentUnit, PartStatus, Problem, ProblemEvent
from webapp.cases.workflow import Status
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

HTMX = {"HX-Request": "true"}


def _fresh(problem) -> Problem:
    db.session.rollback()  # see what the requests committed
    return db.session.get(Problem, problem.id)


def _events(problem, action) -> int:
    return db.session.scalar(select(func.count()).select_from(ProblemEvent).where(
        ProblemEvent.problem_id == problem.id, ProblemEvent.action == action))


def test_sign_for_without_js_redirects_to_the_page(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    resp = b.post(f"/cases/{p.id}/sign-for", {"version": p.version})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/cases/{p.id}"
    page = b.get(resp.headers["Location"])
    # Signed for: the next step is the task book (sign for / return are gone).
    assert "已签收。" in text(page) and actions(page) == ["submit_plan"]
    p = _fresh(p)
    assert p.status == Status.accepted and p.accepted_at is not None
    assert _events(p, "sign_for") == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.event == "problem.sign_for", AuditEvent.username == "town")) == 1
    # The queue moved it from 待签收 to 办理中.
    counts = tabs(b.get("/cases"))
    assert counts["to_sign"] == 0 and counts["handling"] == 1


def test_sign_for_with_htmx_answers_the_fragment_and_triggers_the_counters(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    resp = b.post(f"/cases/{p.id}/sign-for", {"version": p.version}, headers=HTMX)
    assert resp.status_code == 200
    assert resp.headers["HX-Trigger"] == "cases-changed"
    body = text(resp)
    assert "<html" not in body and body.lstrip().startswith('<div id="case-status"')
    assert "已签收。" in body and 'class="badge status-accepted big">已签收' in body
    assert actions(resp) == ["submit_plan"]
    assert "已签收" in body[body.index('class="timeline"'):]  # the timeline shows the new event
    assert _fresh(p).status == Status.accepted
    # The flash was not left for the next full page.
    assert "已签收。" not in text(b.get("/cases"))


def test_stale_version_is_refused_with_409_and_nothing_changes(app, login_as):
    p = f.assigned_to_town(cooperating=["区民政局"])
    town = login_as("town")
    page = town.get(f"/cases/{p.id}")
    drawn = p.version
    assert f'name="version" value="{drawn}"' in text(page)
    # Meanwhile the cooperating department signs for its part: the problem's version moves.
    dept = login_as("dept")
    dept.get(f"/cases/{p.id}")
    assert dept.post(f"/cases/{p.id}/sign-for", {"version": drawn}).status_code == 302
    for headers in ({}, HTMX):
        resp = town.post(f"/cases/{p.id}/sign-for", {"version": drawn}, headers=headers)
        assert resp.status_code == 409
        assert "该问题已被他人处理或修改" in text(resp)
        # The answer shows the current state with the current version, ready to act again.
        assert f'name="version" value="{_fresh(p).version}"' in text(resp)
        assert actions(resp) == ["sign_for", "return"]
    assert _fresh(p).status == Status.assigned and _events(p, "sign_for") == 0
    # A stale return keeps the reason the user typed.
    resp = town.post(f"/cases/{p.id}/return", {"version": drawn, "reason": "属于青山泉镇辖区，请重新交办"})
    assert resp.status_code == 409 and "属于青山泉镇辖区，请重新交办</textarea>" in text(resp)
    assert _fresh(p).status == Status.assigned
    # The return form now carries the version the user has seen, so sending it again works.
    box = text(resp)[text(resp).index('class="return-box"'):]
    assert f'name="version" value="{_fresh(p).version}"' in box[:box.index("</form>")]
    resp = town.post(f"/cases/{p.id}/return", {"version": _fresh(p).version, "reason": "属于青山泉镇辖区，请重新交办"})
    assert resp.status_code == 302 and _fresh(p).status == Status.returned


def test_double_submit_signs_once(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    first = b.post(f"/cases/{p.id}/sign-for", {"version": p.version})
    second = b.post(f"/cases/{p.id}/sign-for", {"version": p.version})
    assert first.status_code == 302 and second.status_code == 409
    assert _fresh(p).status == Status.accepted and _events(p, "sign_for") == 1


def test_return_needs_a_reason_and_keeps_the_input(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    for reason, status, headers in (("", 200, {}), ("太短了", 200, {}), ("   不对   ", 422, HTMX)):
        resp = b.post(f"/cases/{p.id}/return", {"version": p.version, "reason": reason}, headers=headers)
        assert resp.status_code == status, reason
        body = text(resp)
        assert ("请填写退回原因" in body) or ("退回原因请写 5 到 500 个字" in body)
        assert "return-box" in body and 'aria-invalid="true"' in body
        if reason.strip():
            assert f"{reason.strip()}</textarea>" in body
        if headers:
            assert "<html" not in body
    assert _fresh(p).status == Status.assigned and _events(p, "return") == 0


def test_return_sends_it_back_and_the_unit_lands_on_its_queue(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    resp = b.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "属于青山泉镇辖区，请重新交办"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/cases"
    assert "已退回交办单位重新研判" in text(b.get("/cases"))
    p = _fresh(p)
    assert p.status == Status.returned and p.lead_unit_id is None and p.current_assignment_id is None
    part = db.session.scalar(select(AssignmentUnit).where(AssignmentUnit.problem_id == p.id))
    assert part.status == PartStatus.returned and part.returned_reason == "属于青山泉镇辖区，请重新交办"
    # The town no longer sees it; the group lead finds it to triage again, with the reason.
    assert b.get(f"/cases/{p.id}").status_code == 404
    assert numbers(b.get("/cases")) == []
    gl = login_as("grouplead")
    assert p.number in numbers(gl.get("/cases?tab=to_triage"))
    page = text(gl.get(f"/cases/{p.id}"))
    assert "已退回待重新交办" in page and "属于青山泉镇辖区，请重新交办" in page and "张伟" in page


def test_return_with_htmx_redirects_the_browser(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    b.get(f"/cases/{p.id}")
    resp = b.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "不属于本街道辖区"}, headers=HTMX)
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == "/cases" and resp.headers["HX-Trigger"] == "cases-changed"
    assert _fresh(p).status == Status.returned


def test_cooperating_unit_signs_for_its_part(app, login_as):
    p = f.assigned_to_town(cooperating=["区民政局"])
    dept = login_as("dept")
    dept.get(f"/cases/{p.id}")
    assert "签收（配合）" in text(dept.get(f"/cases/{p.id}"))
    resp = dept.post(f"/cases/{p.id}/sign-for", {"version": p.version}, headers=HTMX)
    assert resp.status_code == 200 and "已签收（配合）。" in text(resp) and actions(resp) == []
    p = _fresh(p)
    # Once its part is signed for, it gives nothing back, nor can it return the whole problem.
    assert dept.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "不归我们部门管"}).status_code == 403
    assert p.status == Status.assigned  # the lead unit has not signed yet
    parts = {u.unit.name: u.status for u in p.current_assignment.units}
    assert parts == {"潘安湖街道": PartStatus.pending, "区民政局": PartStatus.accepted}
    # The lead unit still signs for the whole.
    town = login_as("town")
    page = town.get(f"/cases/{p.id}")
    assert actions(page) == ["sign_for", "return"]
    assert town.post(f"/cases/{p.id}/sign-for", {"version": p.version}).status_code == 302
    assert _fresh(p).status == Status.accepted


def test_other_units_get_404_and_the_leader_403(app, login_as):
    p = f.assigned_to_town()
    for username in ("dept", "deptlead", "desk"):
        b = login_as(username)
        assert b.post(f"/cases/{p.id}/sign-for", {"version": p.version}).status_code == 404
        assert b.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "这不是我们的问题"}).status_code == 404
    for username in ("leader", "office", "grouplead", "cadre"):
        b = login_as(username)
        assert b.post(f"/cases/{p.id}/sign-for", {"version": p.version}).status_code == 403
    assert _fresh(p).status == Status.assigned


def test_missing_version_is_a_bad_request(app, login_as):
    p = f.assigned_to_town()
    b = login_as("town")
    assert b.post(f"/cases/{p.id}/sign-for", {}).status_code == 400
    assert b.post(f"/cases/{p.id}/return", {"reason": "不属于本街道辖区"}).status_code == 400
    assert b.post(f"/cases/{p.id}/sign-for", {"version": "abc"}).status_code == 400
    assert _fresh(p).status == Status.assigned


def test_cooperating_unit_gives_its_part_back_with_a_reason(app, login_as):
    p = f.assigned_to_town(cooperating=["区民政局"])
    dept = login_as("dept")
    page = dept.get(f"/cases/{p.id}")
    assert "退回（配合）" in text(page)
    # Without a reason: refused, nothing changes.
    resp = dept.post(f"/cases/{p.id}/return", {"version": p.version, "reason": ""})
    assert resp.status_code == 200 and 'aria-invalid="true"' in text(resp)
    assert _events(p, "return_part") == 0
    resp = dept.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "低保审核不属于本局此项职责"})
    assert resp.status_code == 302
    p = _fresh(p)
    # The problem stays with the lead unit; only the cooperating part is given back.
    assert p.status == Status.assigned and p.lead_unit.name == "潘安湖街道"
    parts = {u.unit.name: (u.status, u.returned_reason) for u in p.current_assignment.units}
    assert parts["区民政局"] == (PartStatus.returned, "低保审核不属于本局此项职责")
    assert parts["潘安湖街道"] == (PartStatus.pending, None)
    assert _events(p, "return_part") == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.event == "problem.return_part", AuditEvent.username == "dept")) == 1
    # Given back twice: stale or refused, never a second event.
    again = dept.post(f"/cases/{p.id}/return", {"version": p.version, "reason": "低保审核不属于本局此项职责"})
    assert again.status_code in (403, 409) and _events(p, "return_part") == 1
    # The lead unit and the assigner read the reason on the problem page.
    for who in ("town", "grouplead"):
        body = text(login_as(who).get(f"/cases/{p.id}"))
        assert "低保审核不属于本局此项职责" in body and "已退回" in body, who
