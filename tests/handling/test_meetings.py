"""Joint meetings (协商会办) through HTTP: convene, who sees a meeting, the minutes and their
decisions as steps of the task book, cancel, the printed 会议纪要, and the list's query count."""

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import counted_queries
from tests.cases.triage_pages import count, flashes, fresh, text
from tests.conftest import DEMO_PASSWORD
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.accounts.models import User
from webapp.accounts.passwords import hash_password
from webapp.accounts.roles import Role
from webapp.cases import operations as ops
from webapp.cases.models import ProblemEvent
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.clock import LOCAL_TZ
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.meetings import cancel_meeting, convene_meeting, record_minutes
from webapp.handling.models import (
    Meeting,
    MeetingDecision,
    MeetingKind,
    MeetingStatus,
    StepSource,
    TaskStep,
)
from webapp.handling.queries import book_in_force


def unit_user(username: str, unit: str, role: Role) -> User:
    """Another unit's account that logs in with the demo password (committed)."""
    u = User(username=username, full_name="钱二", unit=f.unit(unit), role=role,
             password_hash=hash_password(DEMO_PASSWORD), password_changed_at=clock.now(),
             must_change_password=False, is_demo=True)
    db.session.add(u)
    db.session.commit()
    return u


def _tomorrow() -> str:
    return (clock.today() + timedelta(days=1)).isoformat()


def convene_data(problem, *units, **kw) -> dict:
    return {
        "kind": "consultation", "title": "权台村低保协商会", "day": _tomorrow(), "time": "09:30",
        "place": "潘安湖街道三楼会议室", "host": "王明", "token": kw.pop("token", ""),
        "problem_ids": [str(problem.id)], "unit_ids": [str(f.unit(u).id) for u in units], **kw,
    }


def convene(b, problem, *units, **kw):
    return b.post("/meetings/new", convene_data(problem, *units, **kw))


def the_meeting() -> Meeting:
    db.session.rollback()
    return db.session.scalars(select(Meeting).order_by(Meeting.id.desc())).first()


def minutes_data(meeting, *decisions, summary="会议商定由区民政局核实低保条件。", attended=None) -> dict:
    """The minutes form: every invited unit attended unless ``attended`` says otherwise."""
    data = {"version": str(meeting.version), "summary": summary, "save": "1"}
    for i, mu in enumerate(meeting.units):
        data[f"attendance-{i}-unit_id"] = str(mu.unit_id)
        if attended is None or mu.unit.name in attended:
            data[f"attendance-{i}-attended"] = "y"
            data[f"attendance-{i}-attendees"] = f"{mu.unit.name}参会人"
    rows = list(decisions) + [None] * max(0, 4 - len(decisions))
    for i, d in enumerate(rows):
        problem, unit, what, due = d or ("", "", "", "")
        data[f"decisions-{i}-problem"] = str(problem.id) if problem else ""
        data[f"decisions-{i}-unit"] = str(f.unit(unit).id) if unit else ""
        data[f"decisions-{i}-text"] = what
        data[f"decisions-{i}-due_on"] = due.isoformat() if due else ""
    return data


@pytest.fixture
def joint(app):
    """潘安湖街道's problem in progress with 区民政局 cooperating (signed for its part)."""
    p = hf.in_progress(cooperating=("区民政局",))
    ops.sign_for(p, f.user("dept"))
    db.session.commit()
    return p


def test_town_convenes_a_consultation_on_its_problem(app, login_as, joint):
    town = login_as("town")
    page = town.get(f"/meetings/new?problem_id={joint.id}")
    assert page.status_code == 200
    html = text(page)
    # The agenda is preselected, and the problem's lead and cooperating units are invited.
    assert f'value="{joint.id}" checked' in html
    for name in ("潘安湖街道", "区民政局"):
        assert f'value="{f.unit(name).id}" checked' in html
    resp = convene(town, joint, "区民政局", token="tok-1")
    assert resp.status_code == 302
    m = the_meeting()
    assert resp.headers["Location"].endswith(f"/meetings/{m.id}")
    assert m.kind == MeetingKind.consultation and m.status == MeetingStatus.planned
    assert m.number.startswith("贾走访会〔") and m.convened_by_unit.name == "潘安湖街道"
    assert [mu.unit.name for mu in m.units] == ["区民政局"]
    assert [a.problem_id for a in m.agenda] == [joint.id]
    # 09:30 in Jiawang is 01:30 UTC.
    assert clock.local(m.starts_at) == datetime.combine(clock.today() + timedelta(days=1), time(9, 30), LOCAL_TZ)
    assert count(ProblemEvent, ProblemEvent.problem_id == joint.id, ProblemEvent.action == "meeting_convened") == 1
    assert count(AuditEvent, AuditEvent.event == "meeting.convene") == 1
    # A double submit (same client token) convenes nothing more.
    assert convene(town, joint, "区民政局", token="tok-1").status_code == 302
    assert count(Meeting) == 1
    # The problem page lists the meeting in its panel.
    detail = text(town.get(f"/cases/{joint.id}"))
    assert m.number in detail and f'href="/meetings/{m.id}"' in detail


def test_bad_input_keeps_the_input_with_field_messages(app, login_as, joint):
    town = login_as("town")
    resp = convene(town, joint, title="  ", place="", host="李主任", day="2026-13-40", unit_ids=[])
    assert resp.status_code == 200
    html = text(resp)
    for message in ("请填写会议名称。", "请填写会议地点。", "请输入有效的日期。", "请选择参会单位。"):
        assert message in html
    assert 'value="李主任"' in html and 'value="09:30"' in html
    assert f'value="{joint.id}" checked' in html  # the agenda stays chosen
    # A problem the town may not put on an agenda (another town's): refused at the field.
    other = f.assigned_to_town(town="青山泉镇", village="房上村")
    resp = convene(town, joint, "区民政局", problem_ids=[str(joint.id), str(other.id)])
    assert resp.status_code == 200 and "所选问题中有不存在或您无权处理的问题" in text(resp)
    # A cooperating unit does not convene on a problem it does not lead (the workflow refuses).
    dept = login_as("dept")
    resp = convene(dept, joint, "区民政局")
    assert resp.status_code == 200 and f"问题 {joint.number} 现在不能列入会议议题" in text(resp)
    assert count(Meeting) == 0


def test_invited_department_sees_it_other_towns_do_not(app, login_as, joint):
    assert convene(login_as("town"), joint, "区民政局").status_code == 302
    m = the_meeting()
    dept = login_as("dept")
    listing = text(dept.get("/meetings"))
    assert m.title in listing and "即将召开" in listing
    page = dept.get(f"/meetings/{m.id}")
    assert page.status_code == 200
    html = text(page)
    assert m.number in html and "区民政局" in html
    assert f'href="/cases/{joint.id}"' in html  # 区民政局 cooperates: it sees the problem
    assert "记录会议纪要" not in html and "取消会议" not in html  # invited, not the convener
    assert dept.get(f"/meetings/{m.id}/minutes").status_code == 403
    # 青山泉镇 was neither convener nor invited: the meeting does not exist for it.
    unit_user("qsq", "青山泉镇", Role.handler)
    qsq = login_as("qsq")
    assert m.title not in text(qsq.get("/meetings"))
    for url in (f"/meetings/{m.id}", f"/meetings/{m.id}/minutes", f"/meetings/{m.id}.pdf"):
        assert qsq.client.get(url).status_code == 404
    assert qsq.post(f"/meetings/{m.id}/cancel", {"version": str(m.version), "reason": "x"}).status_code == 404
    # The office sees every meeting; the group lead of the problem's group sees it too.
    assert m.title in text(login_as("office").get("/meetings"))
    assert login_as("grouplead").get(f"/meetings/{m.id}").status_code == 200


def test_minutes_turn_decisions_into_steps_the_unit_ticks(app, login_as, joint):
    town = login_as("town")
    assert convene(town, joint, "潘安湖街道", "区民政局").status_code == 302
    m = the_meeting()
    page = town.get(f"/meetings/{m.id}/minutes")
    assert page.status_code == 200 and "列入该问题的任务书" in text(page)
    assert text(page).count('name="decisions-') >= 16  # 4 empty rows of 4 fields, without JavaScript
    due = clock.today() + timedelta(days=3)
    data = minutes_data(m, (joint, "区民政局", "核实家庭收入，符合条件的纳入低保", due), attended={"区民政局"})
    resp = town.post(f"/meetings/{m.id}/minutes", data)
    assert resp.status_code == 302, flashes(resp)
    m = fresh(m)
    assert m.status == MeetingStatus.minuted and m.minuted_by.username == "town"
    attendance = {mu.unit.name: (mu.attended, mu.attendees) for mu in m.units}
    assert attendance == {"潘安湖街道": (False, ""), "区民政局": (True, "区民政局参会人")}
    decision = db.session.scalar(select(MeetingDecision).where(MeetingDecision.meeting_id == m.id))
    step = db.session.scalar(select(TaskStep).where(TaskStep.decision_id == decision.id))
    book = book_in_force(fresh(joint))
    assert step.task_book_id == book.id and step.source == StepSource.meeting
    assert step.unit.name == "区民政局" and step.due_on == due and step.title == "核实家庭收入，符合条件的纳入低保"
    assert count(ProblemEvent, ProblemEvent.problem_id == joint.id, ProblemEvent.action == "meeting_decision") == 1
    # The meeting page shows the minutes; 区民政局 ticks its step.
    shown = text(login_as("dept").get(f"/meetings/{m.id}"))
    assert "核实家庭收入" in shown and due.isoformat() in shown and "出席" in shown
    h.tick_step(fresh(joint), f.user("dept"), step, note="已核实，材料齐全。")
    db.session.commit()
    assert fresh(step).done_by.username == "dept"
    # A second submission of the minutes is refused (409), the input kept.
    again = town.post(f"/meetings/{m.id}/minutes", {**data, "summary": "第二次提交的纪要"})
    assert again.status_code == 409 and "第二次提交的纪要" in text(again)
    assert count(MeetingDecision, MeetingDecision.meeting_id == m.id) == 1
    # Opening the form of a minuted meeting leads back to the meeting.
    assert town.get(f"/meetings/{m.id}/minutes").status_code == 302


def test_decision_for_a_unit_not_on_the_problem_is_a_field_error(app, login_as, joint):
    town = login_as("town")
    assert convene(town, joint, "区民政局").status_code == 302
    m = the_meeting()
    due = clock.today() + timedelta(days=2)
    # The second row names 青山泉镇, which is neither lead nor cooperating unit of the problem.
    data = minutes_data(m, (joint, "区民政局", "核实收入", due), (joint, "青山泉镇", "协助调查", due))
    resp = town.post(f"/meetings/{m.id}/minutes", data)
    assert resp.status_code == 200
    html = text(resp)
    assert "第 2 项决定的责任单位须是该问题的牵头或配合单位" in html
    assert "协助调查" in html and "会议商定由区民政局核实低保条件。" in html  # input kept
    # A half-filled row and no summary: the missing fields are named; nothing saved.
    data = minutes_data(m, (joint, "区民政局", "", None), summary=" ")
    html = text(town.post(f"/meetings/{m.id}/minutes", data))
    assert "请填写事项。" in html and "请填写完成时限。" in html and "请填写会议纪要。" in html
    assert 'value="区民政局参会人"' in html  # attendance kept
    # "再加一项" draws a fifth row and keeps the input, saving nothing.
    data = minutes_data(m, (joint, "区民政局", "核实收入", due))
    del data["save"]
    data["add_row"] = "1"
    html = text(town.post(f"/meetings/{m.id}/minutes", data))
    assert 'name="decisions-4-text"' in html and 'value="核实收入"' in html
    assert fresh(m).status == MeetingStatus.planned and count(MeetingDecision) == 0


def test_cancel_with_reason(app, login_as, joint):
    town = login_as("town")
    assert convene(town, joint, "区民政局").status_code == 302
    m = the_meeting()
    # Without a reason: the page again with the message; the invited unit may not cancel.
    resp = town.post(f"/meetings/{m.id}/cancel", {"version": str(m.version), "reason": " "})
    assert resp.status_code == 200 and "请填写取消原因。" in text(resp)
    assert login_as("dept").post(f"/meetings/{m.id}/cancel", {"version": str(m.version),
                                                              "reason": "有事"}).status_code == 403
    resp = town.post(f"/meetings/{m.id}/cancel", {"version": str(m.version), "reason": "主要参会领导另有公务"})
    assert resp.status_code == 302
    m = fresh(m)
    assert m.status == MeetingStatus.cancelled and m.summary == "主要参会领导另有公务"
    assert count(ProblemEvent, ProblemEvent.problem_id == joint.id, ProblemEvent.action == "meeting_cancelled") == 1
    page = text(town.get(f"/meetings/{m.id}"))
    assert "会议已取消" in page and "主要参会领导另有公务" in page
    # Cancelled twice (a stale page): 409; no minutes for a cancelled meeting, no PDF.
    again = town.post(f"/meetings/{m.id}/cancel", {"version": "1", "reason": "再次取消"})
    assert again.status_code == 409
    assert town.client.get(f"/meetings/{m.id}.pdf").status_code == 404


def test_minutes_print_as_a_pdf(app, login_as, joint):
    town = login_as("town")
    assert convene(town, joint, "潘安湖街道", "区民政局").status_code == 302
    m = the_meeting()
    assert town.client.get(f"/meetings/{m.id}.pdf").status_code == 404  # not minuted yet
    due = clock.today() + timedelta(days=5)
    data = minutes_data(m, (joint, "区民政局", "落实临时救助资金", due), attended={"区民政局"})
    assert town.post(f"/meetings/{m.id}/minutes", data).status_code == 302
    resp = login_as("dept").client.get(f"/meetings/{m.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    report = assert_pdf(resp.data, ["会议纪要", m.number, "落实临时救助资金", "区民政局", "王明", joint.number,
                                    "缺席单位", "潘安湖街道", "记录人"])
    assert joint.resident_phone not in report.text and joint.resident_name not in report.text


def _meetings(n: int, problem) -> None:
    """``n`` meetings of 潘安湖街道 on ``problem``: planned, minuted and cancelled, with units."""
    town = f.user("town")
    units = [f.unit("潘安湖街道"), f.unit("区民政局")]
    for i in range(n):
        m = convene_meeting(town, kind=MeetingKind.joint if i % 2 else MeetingKind.consultation,
                              title=f"会议{i}", starts_at=clock.now() + timedelta(days=i - n // 2),
                              place="会议室", host="王明", units=units, problems=[problem])
        if i % 3 == 1:
            record_minutes(m, town, summary="纪要", attendance={units[1].id: (True, "张三")}, decisions=[])
        elif i % 3 == 2:
            cancel_meeting(m, town, reason="改期")
        db.session.commit()


def _queries(b) -> int:
    db.session.rollback()
    with counted_queries() as n:
        assert b.client.get("/meetings").status_code == 200
    return n[0]


def test_the_list_needs_a_bounded_number_of_queries(app, login_as, joint):
    b = login_as("dept")
    _meetings(3, joint)
    few = _queries(b)
    html = text(b.get("/meetings"))
    assert "会议0" in html and "会议1" in html and "会议2" in html
    _meetings(12, joint)
    assert _queries(b) == few
    assert count(Meeting) == 15
