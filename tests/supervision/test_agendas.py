"""调度会议程: hand-made problems for each reason (and ones that must stay off), the exact agenda of
a work group's half-monthly and the office's monthly meeting, frozen after later changes; who may
generate and read; the packet read back (agenda, every sheet and task book, pages, font)."""

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.accounts.models import User
from webapp.accounts.roles import Role
from webapp.cases import operations as ops
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.documents.pdf import render_document
from webapp.handling import operations as h
from webapp.handling.models import Verdict
from webapp.notifications.models import Notification
from webapp.supervision import agendas
from webapp.supervision.agenda_routes import packet_parts
from webapp.supervision.models import Agenda, AgendaKind

MEETING = date(2026, 11, 20)  # a Friday; the group reviews 1–15 November, the office October
FAR = date(2026, 12, 31)
JOINT = ops.Triage(Kind.individual, Level.town, Tier.joint)


def at(day: date):
    """Travel to 10:00 Beijing time on ``day``."""
    return time_machine.travel(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC), tick=False)


def packet(browser, agenda_id: int):
    """Ask for the packet (a background job, run at once by the tests' immediate queue), then
    fetch its file from the job's page; the request itself renders nothing."""
    resp = browser.post(f"/supervision/agendas/{agenda_id}/packet")
    if resp.status_code != 302:
        return resp
    job_page = resp.headers["Location"]
    assert "/jobs/" in job_page
    return browser.client.get(job_page.rstrip("/") + "/download")


def _deadline(p, day):
    p.deadline = day
    db.session.commit()
    return p


def _made(day, factory, **kw):
    with at(day):
        return factory(**kw)


def _then(day, fn, p, **kw):
    with at(day):
        fn(p, **kw)
        db.session.commit()
    return p


@pytest.fixture
def scene(app):
    """Problems of 潘安湖街道工作组 (and one of 青山泉镇工作组), made through the real workflow."""
    s = {}
    # Overdue on the meeting day: 8 and 3 working days (the second is also 难事联办).
    s["late8"] = _deadline(_made(date(2026, 9, 1), hf.in_progress), date(2026, 11, 10))
    s["late3"] = _deadline(_made(date(2026, 9, 1), hf.in_progress, triage=JOINT), date(2026, 11, 17))
    # Sent back in the period: 退回重办, task book rejected, sign-off rejected by the unit leader.
    s["rej_verify"] = _then(date(2026, 11, 5), h.reject_verification,
                            _made(date(2026, 11, 3), hf.pending_verification), user=f.user("grouplead"),
                            reason="现场核实未整改到位。")
    s["rej_plan"] = _then(date(2026, 11, 6), h.reject_plan, _made(date(2026, 11, 6), hf.plan_review),
                          user=f.user("townlead"), reason="措施不具体。")
    s["rej_signoff"] = _then(date(2026, 11, 10), h.reject_signoff, _made(date(2026, 11, 10), hf.signoff_review),
                             user=f.user("townlead"), reason="佐证材料不足。")
    # Sent back before and after the period: not on the group's agenda.
    s["rej_before"] = _then(date(2026, 10, 28), h.reject_verification,
                            _made(date(2026, 10, 26), hf.pending_verification), user=f.user("grouplead"),
                            reason="群众反映仍未解决。")
    s["rej_after"] = _then(date(2026, 11, 16), h.reject_verification,
                           _made(date(2026, 11, 13), hf.pending_verification), user=f.user("grouplead"),
                           reason="群众反映仍未解决。")
    # 不满意 in the period: closed with the verdict, and reopened for a substantive reason.
    s["unsat"] = _made(date(2026, 11, 8), hf.signed_off)
    with at(date(2026, 11, 9)):
        hf.reply(s["unsat"], Verdict.unsatisfied)
    s["reopened"] = _made(date(2026, 11, 11), hf.signed_off)
    with at(date(2026, 11, 12)):
        hf.reply(s["reopened"], Verdict.unsatisfied, substantive=True)
    # Hard: waiting for the office's 暂难解决 decision, 难事联办 in hand, 暂难解决 approved in the period.
    s["cs_review"] = _made(date(2026, 10, 20), hf.cannot_solve_review)
    s["joint"] = _made(date(2026, 11, 2), hf.in_progress, triage=JOINT)
    s["cs_now"] = _made(date(2026, 11, 12), hf.cannot_solve)
    s["cs_before"] = _made(date(2026, 10, 15), hf.cannot_solve)
    # Another group's overdue problem (assigned by the office), a solved one, one on time.
    with at(date(2026, 9, 1)):
        cadre = f.make_user("cadre-agenda", "青山泉镇工作组", Role.cadre)
        other = f.register(username=cadre.username, village="房上村", title="其他工作组的超期问题")
        ops.assign_sheet(other, f.user("office"), lead=f.unit("青山泉镇"), triage=f.QUICK)
        db.session.commit()
    s["other"] = _deadline(other, date(2026, 11, 12))
    s["solved"] = _made(date(2026, 11, 4), hf.closed)
    s["normal"] = _made(date(2026, 11, 4), hf.in_progress)
    for name in ("rej_verify", "rej_plan", "rej_signoff", "rej_before", "rej_after", "reopened", "cs_review",
                 "joint", "normal"):
        _deadline(s[name], FAR)  # on time: only the reason under test puts them on an agenda
    return s


def _generate(kind, unit_name=None, *, on=MEETING, day=date(2026, 11, 19), note=None):
    with at(day):
        agenda = agendas.generate(kind, f.unit(unit_name) if unit_name else None, on, f.user("office"), note)
        db.session.commit()
    return agenda


def _listing(agenda, s):
    names = {p.id: n for n, p in s.items()}
    return [(names[i.problem_id], i.reasons) for i in agenda.items]


def test_group_agenda_lists_exactly_the_groups_problems_of_each_reason(scene):
    agenda = _generate(AgendaKind.group, "潘安湖街道工作组")
    assert agenda.title == "潘安湖街道工作组2026年11月上半月调度会议程"
    assert (agenda.period_start, agenda.period_end) == (date(2026, 11, 1), date(2026, 11, 15))
    assert [i.seq for i in agenda.items] == list(range(1, 11))
    assert _listing(agenda, scene) == [
        ("late8", ["overdue"]),
        ("late3", ["overdue", "hard"]),
        ("rej_verify", ["rejected"]),
        ("rej_plan", ["rejected"]),
        ("rej_signoff", ["rejected"]),
        ("unsat", ["unsatisfied"]),
        ("reopened", ["unsatisfied"]),
        ("cs_review", ["hard"]),
        ("joint", ["hard"]),
        ("cs_now", ["hard"]),
    ]
    first = agenda.items[0].detail
    assert "牵头单位：潘安湖街道" in first and "截止：2026年11月10日" in first and "超期 8 个工作日" in first
    assert "超期 3 个工作日" in agenda.items[1].detail
    assert "最近：2026年11月5日 退回重办（现场核实未整改到位。）" in agenda.items[2].detail
    assert "状态：已办结" in agenda.items[5].detail
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "agenda.generate")).one()
    detail = json.loads(audit.detail)
    assert (audit.object_type, audit.object_id) == ("agenda", str(agenda.id))
    assert detail["items"] == 10 and detail["meeting_on"] == "2026-11-20" and detail["reasons"] == {
        "overdue": 2, "rejected": 3, "unsatisfied": 2, "hard": 4}


def test_office_agenda_covers_every_group_and_the_previous_month(scene):
    agenda = _generate(AgendaKind.office)
    assert agenda.title == "区活动办2026年10月调度会议程"
    assert (agenda.period_start, agenda.period_end, agenda.scope_unit_id) == (date(2026, 10, 1), date(2026, 10, 31),
                                                                             None)
    assert _listing(agenda, scene) == [
        ("late8", ["overdue"]),
        ("other", ["overdue"]),  # 6 working days
        ("late3", ["overdue", "hard"]),
        ("rej_before", ["rejected"]),
        ("cs_review", ["hard"]),
        ("joint", ["hard"]),
        ("cs_before", ["hard"]),
    ]
    assert "牵头单位：青山泉镇" in agenda.items[1].detail and "超期 6 个工作日" in agenda.items[1].detail


def test_the_agenda_is_frozen_when_generated(scene):
    agenda = _generate(AgendaKind.group, "潘安湖街道工作组")
    before = [(i.problem_id, i.seq, list(i.reasons), i.detail) for i in agenda.items]
    # Later: the most overdue problem gets a new deadline and is signed off; another is rejected.
    late8 = scene["late8"]
    _deadline(late8, date(2026, 11, 30))
    with at(date(2026, 11, 23)):
        handler = f.user("town")
        h.request_signoff(late8, handler, result="已解决。", completed_on=date(2026, 11, 23), evidence_count=0,
                          no_evidence_reason="现场整改。", step_reasons=hf.open_step_reasons(late8))
        h.approve_signoff(late8, f.user("townlead"))
        h.verify(late8, f.user("grouplead"), note="已核实。")
        db.session.commit()
    db.session.expire_all()
    kept = db.session.get(Agenda, agenda.id)
    assert [(i.problem_id, i.seq, list(i.reasons), i.detail) for i in kept.items] == before
    # Generated again now, the same meeting's agenda no longer lists it.
    again = _generate(AgendaKind.group, "潘安湖街道工作组", day=date(2026, 11, 24))
    assert late8.id not in [i.problem_id for i in again.items]
    assert len(again.items) == len(before) - 1


def test_an_agenda_with_nothing_on_it_says_none(scene, login_as):
    agenda = _generate(AgendaKind.group, "江庄镇工作组")
    assert agenda.items == [] and agenda.title == "江庄镇工作组2026年11月上半月调度会议程"
    with at(date(2026, 11, 19)):
        office = login_as("office")
        page = office.get(f"/supervision/agendas/{agenda.id}").get_data(as_text=True)
        assert page.count(">无<") == 4
        resp = packet(office, agenda.id)
    report = assert_pdf(resp.data, ["江庄镇工作组2026年11月上半月调度会议程", "共0个问题", "一、超期未办结（0个）", "无。"])
    assert report.pages == 1


def test_default_periods():
    group, office = AgendaKind.group, AgendaKind.office
    assert agendas.default_period(group, date(2026, 12, 1)) == (date(2026, 11, 16), date(2026, 11, 30))
    assert agendas.default_period(group, date(2026, 11, 16)) == (date(2026, 11, 1), date(2026, 11, 15))
    assert agendas.default_period(group, date(2026, 11, 15)) == (date(2026, 10, 16), date(2026, 10, 31))
    assert agendas.default_period(office, date(2027, 1, 5)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert agendas.default_period(office, date(2026, 3, 31)) == (date(2026, 2, 1), date(2026, 2, 28))


def test_office_previews_then_generates_on_the_web(scene, login_as):
    with at(date(2026, 11, 19)):
        office = login_as("office")
        group = f.unit("潘安湖街道工作组")
        page = office.get(f"/supervision/agendas/new?kind=group&work_group={group.id}&meeting_on=2026-11-20")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "潘安湖街道工作组2026年11月上半月调度会议程" in text
        assert scene["late8"].number in text and scene["other"].number not in text
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 0  # a preview writes nothing

        # Group kind without a work group: the form again with the message, nothing written.
        resp = office.post("/supervision/agendas", {"kind": "group", "work_group": "", "meeting_on": "2026-11-20"})
        assert resp.status_code == 200 and "请选择工作组。" in resp.get_data(as_text=True)
        resp = office.post("/supervision/agendas", {"kind": "group", "work_group": str(group.id),
                                                    "meeting_on": "2027-12-20"})
        assert resp.status_code == 200 and "会议日期须在今天前后一年之内。" in resp.get_data(as_text=True)
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 0

        resp = office.post("/supervision/agendas", {"kind": "group", "work_group": str(group.id),
                                                    "meeting_on": "2026-11-20", "note": "请各牵头单位负责人参会。"})
        assert resp.status_code == 302
        agenda = db.session.scalars(select(Agenda)).one()
        assert resp.headers["Location"].endswith(f"/supervision/agendas/{agenda.id}")
        assert agenda.note == "请各牵头单位负责人参会。" and len(agenda.items) == 10

        # The same meeting again: refused unless asked for on purpose.
        data = {"kind": "group", "work_group": str(group.id), "meeting_on": "2026-11-20"}
        resp = office.post("/supervision/agendas", data)
        assert resp.status_code == 200 and "该次会议已于" in resp.get_data(as_text=True)
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 1
        assert office.post("/supervision/agendas", {**data, "again": "y"}).status_code == 302
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 2

        # The office's monthly meeting needs no work group.
        assert office.post("/supervision/agendas", {"kind": "office", "meeting_on": "2026-11-20"}).status_code == 302
        page = office.get(f"/supervision/agendas/{agenda.id}").get_data(as_text=True)
        assert scene["rej_plan"].number in page and "退回任务书（措施不具体。）" in page  # its frozen detail
        assert "退回重办" in page and "群众不满意" in page


def test_who_reads_which_agenda(scene, login_as):
    own = _generate(AgendaKind.group, "潘安湖街道工作组")
    other = _generate(AgendaKind.group, "青山泉镇工作组")
    district = _generate(AgendaKind.office)
    with at(date(2026, 11, 19)):
        lead = login_as("grouplead")
        assert lead.get(f"/supervision/agendas/{own.id}").status_code == 200
        assert packet(lead, own.id).status_code == 200
        for a in (other, district):
            assert lead.get(f"/supervision/agendas/{a.id}").status_code == 404
            assert lead.post(f"/supervision/agendas/{a.id}/packet").status_code == 404
        listing = lead.get("/supervision/agendas").get_data(as_text=True)
        assert own.title in listing and other.title not in listing and district.title not in listing

        leader = login_as("leader")
        for a in (own, other, district):
            assert leader.get(f"/supervision/agendas/{a.id}").status_code == 200
        assert leader.get("/supervision/agendas/new").status_code == 403
        assert leader.post("/supervision/agendas", {"kind": "office", "meeting_on": "2026-11-20"}).status_code == 403
        for username in ("town", "cadre", "dept", "sysadmin"):
            assert login_as(username).get(f"/supervision/agendas/{own.id}").status_code == 403
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 3


def test_a_group_lead_generates_its_own_groups_agenda_only(scene, login_as):
    with at(date(2026, 11, 19)):
        lead = login_as("grouplead")
        own, other = f.unit("潘安湖街道工作组"), f.unit("青山泉镇工作组")
        page = lead.get("/supervision/agendas/new").get_data(as_text=True)
        assert f'<option selected value="{own.id}">' in page and f'value="{other.id}"' not in page
        assert 'value="office"' not in page  # the office's monthly meeting is not offered
        preview = lead.get(f"/supervision/agendas/new?kind=group&work_group={own.id}&meeting_on=2026-11-20")
        text = preview.get_data(as_text=True)
        assert preview.status_code == 200 and "潘安湖街道工作组2026年11月上半月调度会议程" in text
        assert scene["late8"].number in text and scene["other"].number not in text
        # Another group's meeting or the office's: refused, nothing written.
        assert lead.get(f"/supervision/agendas/new?kind=group&work_group={other.id}&meeting_on=2026-11-20"
                        ).status_code == 403
        assert lead.get("/supervision/agendas/new?kind=office&meeting_on=2026-11-20").status_code == 403
        for data in ({"kind": "group", "work_group": str(other.id), "meeting_on": "2026-11-20"},
                     {"kind": "office", "meeting_on": "2026-11-20"}):
            assert lead.post("/supervision/agendas", data).status_code == 403
        assert db.session.scalar(select(func.count()).select_from(Agenda)) == 0
        with pytest.raises(agendas.AgendaInvalid):
            agendas.generate(AgendaKind.group, other, MEETING, f.user("grouplead"))
        db.session.rollback()
        # A bad date: the form again with the message.
        resp = lead.post("/supervision/agendas", {"kind": "group", "work_group": str(own.id),
                                                  "meeting_on": "2027-12-20"})
        assert resp.status_code == 200 and "会议日期须在今天前后一年之内。" in resp.get_data(as_text=True)
        # Its own group's: generated by the lead (audited), the same agenda as the office's.
        resp = lead.post("/supervision/agendas", {"kind": "group", "work_group": str(own.id),
                                                  "meeting_on": "2026-11-20", "note": "各村书记参会。"})
        assert resp.status_code == 302
        agenda = db.session.scalars(select(Agenda)).one()
        assert agenda.created_by.username == "grouplead" and agenda.scope_unit_id == own.id
        assert len(agenda.items) == 10 and agenda.note == "各村书记参会。"
        assert db.session.scalars(select(AuditEvent.username).where(AuditEvent.event == "agenda.generate")
                                  ).all() == ["grouplead"]
        # Listed and printed like the office's, for the lead and for the office.
        assert agenda.title in lead.get("/supervision/agendas").get_data(as_text=True)
        assert agenda.title in login_as("office").get("/supervision/agendas").get_data(as_text=True)
        printed = packet(lead, agenda.id)
        assert printed.status_code == 200
        assert_pdf(printed.data, ["潘安湖街道工作组2026年11月上半月调度会议程", scene["late8"].number])
        assert "生成议程" in lead.get("/supervision/agendas").get_data(as_text=True)
        assert login_as("leader").get("/supervision/agendas/new").status_code == 403


def test_the_packet_is_the_agenda_then_every_sheet_and_task_book(scene, login_as):
    agenda = _generate(AgendaKind.group, "潘安湖街道工作组")
    with at(date(2026, 11, 19)):
        resp = packet(login_as("grouplead"), agenda.id)
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        assert "attachment" in resp.headers["Content-Disposition"]
        parts = packet_parts(db.session.get(Agenda, agenda.id))
        expected_pages = sum(render_document(name, **ctx).pages for name, ctx in parts)
    problems = [db.session.get(type(scene["late8"]), i.problem_id) for i in agenda.items]
    sheets = [p.current_assignment.number for p in problems]
    report = assert_pdf(resp.data, [agenda.title, "一、超期未办结（2个）", "二、退回重办（3个）", "问题交办单",
                                    "任务书", "核实情况，协调资金，限期解决。", *sheets])
    assert report.pages == expected_pages
    # One sheet per problem; a task book for every problem with one in force (not the rejected plan).
    names = [name for name, _ctx in parts]
    assert names[0] == "agenda" and names.count("assignment_sheet") == 10
    with_book = [p for p in problems if p.status not in (Status.accepted,)]
    assert names.count("task_book") == len(with_book) == 9
    assert "13812341234" not in "".join(report.text.split())  # residents' phones masked on paper


def test_render_documents_joins_pages_and_keeps_the_strict_rule(app, caplog):
    from tests.documents.test_pdf import NOTICE
    from webapp.documents.pdf import PdfRenderError, render_documents

    one = render_document("sample", **NOTICE)
    long = render_document("sample", **NOTICE, extra_paragraphs=["坚持属地管理、分级负责。" * 40] * 8)
    assert long.pages > 1
    joined = render_documents([("sample", NOTICE), ("sample", {**NOTICE, "extra_paragraphs": ["坚持属地管理、分级负责。" * 40] * 8})])
    assert joined.pages == one.pages + long.pages == assert_pdf(joined.data, ["各镇（街道）、功能区"]).pages
    # A missing glyph in any part: refused under PDF_STRICT (the PDF kept), logged otherwise.
    parts = [("sample", NOTICE), ("sample", {**NOTICE, "extra_paragraphs": ["生僻字\ue000"]})]
    with pytest.raises(PdfRenderError) as exc:
        render_documents(parts)
    assert any(".notdef" in w for w in exc.value.warnings) and exc.value.data.startswith(b"%PDF-")
    app.config["PDF_STRICT"] = False
    assert render_documents(parts).warnings
    assert any(".notdef" in r.getMessage() for r in caplog.records if r.name == app.logger.name)
    with pytest.raises(ValueError):
        render_documents([("../sample", NOTICE)])


def test_a_long_agenda_attaches_the_documents_of_its_first_problems(scene, login_as, monkeypatch):
    from webapp.supervision import agenda_routes

    monkeypatch.setattr(agenda_routes, "PACKET_PROBLEMS", 2)
    agenda = _generate(AgendaKind.group, "潘安湖街道工作组")
    with at(date(2026, 11, 19)):
        resp = packet(login_as("office"), agenda.id)
    first_two = [scene["late8"].current_assignment.number, scene["late3"].current_assignment.number]
    report = assert_pdf(resp.data, [*first_two, "其后附序号前2个问题现行的问题交办单", scene["cs_now"].number])
    text = "".join(report.text.split())
    assert scene["cs_now"].current_assignment.number not in text  # listed, its sheet not attached
    assert text.count("问题交办单") == 2 + 1  # two sheets, and the agenda's note


def test_group_leads_propose_and_the_office_agenda_takes_the_proposals(scene, login_as):
    normal, other = scene["normal"], scene["other"]
    with at(date(2026, 11, 18)):
        lead = login_as("grouplead")
        page = lead.get("/supervision/agendas/proposals").get_data(as_text=True)
        assert f'<option value="{normal.id}">' in page  # its group's open problems
        assert f'<option value="{other.id}">' not in page and f'value="{scene["solved"].id}"' not in page
        # No reason: the form again, the choice kept, a Chinese message.
        resp = lead.post("/supervision/agendas/proposals", {"problem_id": normal.id, "reason": "  "})
        assert resp.status_code == 422
        body = resp.get_data(as_text=True)
        assert "请填写提请理由。" in body and f'<option selected value="{normal.id}">' in body
        # Another group's problem is refused; its own, with the reason, is proposed (audited).
        resp = lead.post("/supervision/agendas/proposals", {"problem_id": other.id, "reason": "需要协调。"})
        assert resp.status_code == 422 and "只能提请本工作组的问题。" in resp.get_data(as_text=True)
        resp = lead.post("/supervision/agendas/proposals",
                         {"problem_id": normal.id, "reason": "涉及区住建局和供电公司，需活动办协调。"})
        assert resp.status_code == 302
        resp = lead.post("/supervision/agendas/proposals", {"problem_id": normal.id, "reason": "再提一次。"})
        assert resp.status_code == 422 and "已经提请，尚未列入议程" in resp.get_data(as_text=True)
        audit = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "agenda.propose")).one()
        assert audit.username == "grouplead" and json.loads(audit.detail)["problem"] == normal.number
        # The office is told (its inbox links to the problem); the group lead is not.
        told = db.session.scalars(select(Notification).where(Notification.kind == "proposal")).all()
        assert {db.session.get(User, n.user_id).username for n in told} == {"office"}
        assert told[0].title == f"工作组提请调度会：{normal.number}" and "需活动办协调" in told[0].body
        assert (told[0].target_type, told[0].target_id) == ("problem", normal.id)
        # The office and the leader read every proposal; nobody else may propose.
        assert normal.number in login_as("office").get("/supervision/agendas/proposals").get_data(as_text=True)
        assert login_as("office").post("/supervision/agendas/proposals",
                                       {"problem_id": normal.id, "reason": "x"}).status_code == 403
        # The group's own meeting does not take it: proposals go to the office's meeting.
        group = _generate(AgendaKind.group, "潘安湖街道工作组", day=date(2026, 11, 18))
        assert normal.id not in [i.problem_id for i in group.items]

    office = _generate(AgendaKind.office, day=date(2026, 11, 18))
    [item] = [i for i in office.items if i.problem_id == normal.id]
    assert item.reasons == ["proposed"] and item.seq == len(office.items)  # after the chosen ones
    assert "潘安湖街道工作组提请：涉及区住建局和供电公司，需活动办协调。" in item.detail
    assert json.loads(db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.event == "agenda.generate").order_by(AuditEvent.id.desc())).first())["reasons"]["proposed"] == 1
    with at(date(2026, 11, 18)):
        page = login_as("office").get(f"/supervision/agendas/{office.id}").get_data(as_text=True)
        assert "工作组提请" in page and normal.number in page
        listing = login_as("grouplead").get("/supervision/agendas/proposals").get_data(as_text=True)
        assert office.title in listing and "待列入" not in listing
    # Taken: the next office agenda starts from new proposals only.
    again = _generate(AgendaKind.office, day=date(2026, 11, 19))
    assert normal.id not in [i.problem_id for i in again.items]


def test_a_meeting_kind_that_does_not_exist_is_a_form_error_for_a_group_lead(scene, login_as):
    lead = login_as("grouplead")
    resp = lead.get("/supervision/agendas/new?kind=0676-06-30&meeting_on=2026-11-20")
    assert resp.status_code == 200  # the form again, with what was typed, not a server error
    assert 'value="2026-11-20"' in resp.get_data(as_text=True)
