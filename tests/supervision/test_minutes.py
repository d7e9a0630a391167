"""调度会纪要: the office holds a work group's scheduling meeting on its agenda (numbered
贾汪走访办纪〔年〕N号, the agenda's problems as items, the units leading them and the group
invited), then records attendance (who came, who was absent and why) and decisions through the
meetings' minutes: each decision a dated step for the named unit on the problem's task book, the
invited units told, the 纪要 printed A4. Only the office holds it; bad input keeps the form."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.handling.test_meetings import minutes_data
from tests.pdfcheck import assert_pdf, assert_print_quality
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling.models import Meeting, MeetingKind, StepSource, TaskStep
from webapp.notifications.models import Notification
from webapp.supervision import agendas
from webapp.supervision.models import Agenda, AgendaKind

MEETING = date(2026, 11, 20)
GROUP = "潘安湖街道工作组"
TOWN = "潘安湖街道"


def at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC), tick=False)


@pytest.fixture
def agenda(app):
    """The group's agenda for 20 November with one overdue problem of 潘安湖街道 (task book in force)."""
    with at(date(2026, 9, 1)):
        problem = hf.in_progress()
    problem.deadline = date(2026, 11, 10)
    db.session.commit()
    with at(date(2026, 11, 19)):
        a = agendas.generate(AgendaKind.group, f.unit(GROUP), MEETING, f.user("office"))
        db.session.commit()
    assert [i.problem_id for i in a.items] == [problem.id]
    return a


def test_the_office_holds_the_meeting_and_records_numbered_minutes(agenda, login_as):
    problem = agenda.items[0].problem
    with at(date(2026, 11, 20)):
        office = login_as("office")
        page = office.get(f"/supervision/agendas/{agenda.id}").get_data(as_text=True)
        assert f"/supervision/agendas/{agenda.id}/meeting" in page
        form = office.get(f"/supervision/agendas/{agenda.id}/meeting").get_data(as_text=True)
        assert TOWN in form and GROUP in form  # the units invited
        # Missing place: the form again with the message, the input kept, nothing written.
        resp = office.post(f"/supervision/agendas/{agenda.id}/meeting",
                           {"day": "2026-11-20", "time": "09:00", "place": " ", "host": "王明"})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "请填写会议地点。" in html and 'value="王明"' in html
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
        # Only the office holds it.
        for who in ("grouplead", "leader", "town"):
            assert login_as(who).post(f"/supervision/agendas/{agenda.id}/meeting", {
                "day": "2026-11-20", "time": "09:00", "place": "会议室", "host": "王明"}).status_code == 403
        resp = office.post(f"/supervision/agendas/{agenda.id}/meeting",
                           {"day": "2026-11-20", "time": "09:00", "place": "区活动办会议室", "host": "王明"})
        assert resp.status_code == 302
        meeting = db.session.scalars(select(Meeting)).one()
        assert resp.headers["Location"].endswith(f"/meetings/{meeting.id}/minutes")
        assert meeting.number == "贾汪走访办纪〔2026〕1号" and meeting.kind == MeetingKind.scheduling
        assert meeting.title == "潘安湖街道工作组2026年11月上半月调度会"
        assert sorted(mu.unit.name for mu in meeting.units) == sorted([TOWN, GROUP])
        assert [a.problem_id for a in meeting.agenda] == [problem.id]
        assert db.session.get(Agenda, agenda.id).meeting_id == meeting.id
        held = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "agenda.meeting_held")).one()
        assert held.username == "office"
        # Holding it twice leads to the meeting, not to a second one.
        again = office.post(f"/supervision/agendas/{agenda.id}/meeting",
                            {"day": "2026-11-20", "time": "09:00", "place": "会议室", "host": "王明"})
        assert again.status_code == 302 and again.headers["Location"].endswith(f"/meetings/{meeting.id}")
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1

        # The minutes: the town came, the group was absent with its reason; one decision.
        data = minutes_data(meeting, (problem, TOWN, "12月5日前完成道路修复并报工作组", date(2026, 12, 5)),
                            summary="会议听取潘安湖街道汇报，明确修复时限。", attended={TOWN})
        gi = [i for i, mu in enumerate(meeting.units) if mu.unit.name == GROUP][0]
        data[f"attendance-{gi}-attendees"] = "参加区委全会"
        resp = office.post(f"/meetings/{meeting.id}/minutes", data)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        step = db.session.scalars(select(TaskStep).where(TaskStep.source == StepSource.meeting)).one()
        assert (step.problem_id, step.unit.name, step.due_on) == (problem.id, TOWN, date(2026, 12, 5))
        assert step.title == "12月5日前完成道路修复并报工作组"
        told = db.session.scalars(select(Notification).where(Notification.kind == "minutes")).all()
        assert {n.user.username for n in told} >= {"town", "grouplead"}
        assert all((n.target_type, n.target_id) == ("meeting", meeting.id) for n in told)
        show = office.get(f"/supervision/agendas/{agenda.id}").get_data(as_text=True)
        assert "贾汪走访办纪〔2026〕1号" in show and f"/supervision/agendas/{agenda.id}/meeting" not in show

        # The printed 纪要, A4, read by the group lead (invited) too.
        pdf = login_as("grouplead").client.get(f"/meetings/{meeting.id}.pdf")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert_pdf(pdf.data, ["贾汪走访办纪〔2026〕1号", "调度会", "潘安湖街道工作组2026年11月上半月调度会",
                              "潘安湖街道参会人", "参加区委全会", "12月5日前完成道路修复并报工作组", problem.number])
        assert_print_quality(pdf.data)


def test_a_second_meeting_in_the_year_takes_the_next_number_and_convening_offers_no_scheduling(agenda, login_as):
    with at(date(2026, 11, 20)):
        other = agendas.generate(AgendaKind.office, None, MEETING, f.user("office"))
        db.session.commit()
        office = login_as("office")
        for a in (agenda, other):
            assert office.post(f"/supervision/agendas/{a.id}/meeting", {
                "day": "2026-11-20", "time": "14:30", "place": "会议室", "host": "王明"}).status_code == 302
        assert sorted(db.session.scalars(select(Meeting.number))) == ["贾汪走访办纪〔2026〕1号", "贾汪走访办纪〔2026〕2号"]
        assert 'value="scheduling"' not in office.get("/meetings/new").get_data(as_text=True)
