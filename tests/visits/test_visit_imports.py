"""Import of historical visits with their problems from the 走访台账 template (a background job,
run at once in tests): visits recorded as their cadre, problems registered (numbered, on the
timeline, waiting for triage), errors as a sheet, nothing written unless asked, the same file
twice "unchanged"."""

import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import travel_to
from tests.visits import factories as vf
from tests.visits.test_imports import count, last_job, upload, xlsx
from webapp.cases import counts
from webapp.cases.models import Problem, ProblemEvent
from webapp.cases.workflow import Status
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.core.jobs import Job, JobStatus, read_result
from webapp.visits.imports import VISIT_COLUMNS
from webapp.visits.models import Visit, VisitMode

DAY = dt.date(2026, 5, 6)


@pytest.fixture()
def june():
    """Today is 1 June 2026: the ledger's visits of May lie in the past, 2 June in the future."""
    with travel_to(dt.date(2026, 6, 1)):
        yield


def row(day=DAY, town="潘安湖街道", village="权台村", number="H-1", code="", name="", cadre="cadre", mode="入户",
        met="户主本人", situation="身体尚可", reason="", title="", description="", category="", resident="",
        phone="", status="", closed_on=None, result=""):
    return [day, town, village, number, code, name, cadre, mode, met, situation, "", "下月回访", reason, title,
            description, category, resident, phone, status, closed_on, result]


def test_template_has_the_columns_and_an_example_of_each_kind(app, login_as):
    resp = login_as("office").client.get("/visits/import/visits/template.xlsx")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).worksheets[0]
    assert tuple(c.value for c in ws[1]) == VISIT_COLUMNS
    assert isinstance(ws["A2"].value, dt.datetime) and ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["N2"].value and ws["E3"].value  # one visit with a problem, one to an enterprise


def test_import_visits_and_problems_then_the_same_file_is_unchanged(app, login_as, june):
    with app.app_context():
        h = vf.household("H-1", head="张大爷", address="三组 12 号")
        e = vf.enterprise("权台机械厂", serial=77)
        db.session.commit()
        hid, eid, code = h.id, e.id, e.credit_code
    rows = [
        # One visit with two problems (same day, household, cadre), the second row's visit fields ignored.
        row(title="门前道路积水", description="雨后积水，出行不便", category="道路交通", phone="13912345678"),
        row(situation="（第二行）", title="低保待遇咨询", description="想了解低保申请条件", category="民生保障",
            resident="张小明", status="已办结", closed_on=dt.date(2026, 5, 20), result="已讲解政策，户主表示满意"),
        row(day="2026/05/08", village="", number="", code=code, mode="", met="厂长"),
        row(day=dt.datetime(2026, 5, 9), number="", mode="集中座谈", reason="村民议事会"),
    ]
    b = login_as("office")
    resp = upload(b, xlsx(rows, VISIT_COLUMNS), kind="visits")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/jobs/")
    job = last_job(app)
    assert job.status == JobStatus.done, job.result
    assert (job.result["visits_created"], job.result["problems_created"], job.result["errors"]) == (3, 2, 0)
    assert "新增走访 3 次、问题 2 个" in b.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        hv = db.session.scalar(select(Visit).where(Visit.household_id == hid))
        assert hv.visited_on == DAY and hv.created_by.username == "cadre" and hv.situation == "身体尚可"
        assert hv.mode == VisitMode.home and hv.follow_up == "下月回访" and hv.work_group.name == "潘安湖街道工作组"
        problems = sorted(hv.problems, key=lambda p: p.title)
        assert [p.title for p in problems] == ["低保待遇咨询", "门前道路积水"]
        assert all(p.number for p in problems)
        # 待研判 (the default) waits for triage; 已办结 ended with the ledger's result, told publicly.
        assert [p.status for p in problems] == [Status.closed, Status.registered]
        closed = problems[0]
        assert closed.end_reason == "已讲解政策，户主表示满意" and closed.reply_due is None
        assert closed.closed_at.astimezone(clock.LOCAL_TZ).date() == dt.date(2026, 5, 20)
        [ended] = [e for e in closed.events if e.action == "ledger_close"]
        assert ended.is_public and ended.note == "已讲解政策，户主表示满意" and ended.user.username == "office"
        assert (ended.from_status, ended.to_status) == (Status.registered, Status.closed)
        closed_id = closed.id
        assert [p.resident_name for p in problems] == ["张小明", "张大爷"]  # the head when none is given
        assert problems[1].resident_phone == "13912345678" and problems[1].address == "三组 12 号"
        # Registered through the operation: the timeline's first entry, audited.
        assert db.session.scalar(select(func.count()).select_from(ProblemEvent)
                                 .where(ProblemEvent.action == "register")) == 2
        ev = db.session.scalar(select(Visit).where(Visit.enterprise_id == eid))
        assert ev.mode == VisitMode.enterprise and ev.met == "厂长" and ev.visited_on == dt.date(2026, 5, 8)
        meeting = db.session.scalar(select(Visit).where(Visit.unregistered_reason == "村民议事会"))
        assert meeting.household_id is None and meeting.mode == VisitMode.meeting
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.event == "visit.import")) == 1
        # The queues' counters were kept by the operations' writes: one problem waits for triage.
        assert counts.verify() == {}
        waiting = db.session.scalar(select(func.sum(counts.ProblemCount.n))
                                    .where(counts.ProblemCount.key.like("group:%|to_triage|%")))
        assert waiting == 1
    detail = b.get(f"/cases/{closed_id}").get_data(as_text=True)
    assert "按原走访台账办结（导入）" in detail and "已讲解政策，户主表示满意" in detail
    upload(b, xlsx(rows, VISIT_COLUMNS), kind="visits")
    job = last_job(app)
    assert (job.result["visits_created"], job.result["visits_unchanged"]) == (0, 3)
    assert (job.result["problems_created"], job.result["problems_unchanged"]) == (0, 2)
    assert count(app, Visit) == 3 and count(app, Problem) == 2


def test_errors_write_nothing_and_come_back_as_a_sheet(app, login_as, june):
    with app.app_context():
        vf.household("H-1")
        db.session.commit()
    rows = [
        row(),  # 2: fine
        row(day="2026-13-40"),  # 3
        row(day=dt.date(2026, 6, 2)),  # 4: after today
        row(number="NOPE"),  # 5
        row(code="91320305MA0000001Y", number="", village=""),  # 6: bad check character
        row(cadre="office"),  # 7
        row(title="有标题", description="", category="不存在"),  # 8
        row(number="", reason=""),  # 9: a village visit needs a reason
        row(title="重复", description="同一个", category="民生保障"),  # 10
        row(title="重复", description="同一个", category="民生保障"),  # 11
        row(mode="上门"),  # 12
        row(title="已办", description="无结果", category="民生保障", status="已办结"),  # 13: no result
        row(title="早办", description="办结早于走访", category="民生保障", status="已办结", result="已办",
            closed_on=dt.date(2026, 5, 1)),  # 14
        row(title="别的状态", description="办理中", category="民生保障", status="办理中"),  # 15
    ]
    b = login_as("office")
    upload(b, xlsx(rows, VISIT_COLUMNS), kind="visits")
    job = last_job(app)
    assert job.status == JobStatus.done and job.result["errors"] == 12 and "未导入任何数据" in job.result["summary"]
    assert count(app, Visit) == 0 and count(app, Problem) == 0
    with app.app_context():
        wb = load_workbook(io.BytesIO(read_result(db.session.get(Job, job.id))), read_only=True)
        sheet = list(wb.worksheets[0].iter_rows(values_only=True))
        wb.close()
    assert sheet[0][:3] == ("行号", "错误原因", "走访日期")
    reasons = {r[0]: r[1] for r in sheet[1:]}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15}
    assert "无法识别" in reasons[3] and "不可能" in reasons[4] and "NOPE" in reasons[5]
    assert "校验位" in reasons[6] and "不是走访队员" in reasons[7]
    assert "问题描述必填" in reasons[8] and "问题类别不存在" in reasons[8]
    assert "未关联原因" in reasons[9] and "与第 10 行是同一个问题" in reasons[11] and "走访方式" in reasons[12]
    assert "须填写办理结果和回音" in reasons[13] and "早于走访日期" in reasons[14] and "待研判 或 已办结" in reasons[15]
    upload(b, xlsx(rows, VISIT_COLUMNS), kind="visits", valid_only=True)
    job = last_job(app)
    # Rows 2 and 10 are the same visit (date, household, cadre): one visit, one problem.
    assert (job.result["visits_created"], job.result["problems_created"]) == (1, 1)
    assert count(app, Visit) == 1 and count(app, Problem) == 1


def test_refused_files_and_only_the_office(app, login_as):
    b = login_as("office")
    resp = upload(b, b"date,household\n", kind="visits", name="a.csv")
    assert resp.status_code == 200 and "文件类型不对" in resp.get_data(as_text=True)
    upload(b, xlsx([["2026-05-06", "潘安湖街道"]], ("走访日期", "镇（街道）")), kind="visits")
    job = last_job(app)
    assert job.status == JobStatus.failed and "缺少列：走访干部账号" in job.error
    assert login_as("cadre").get("/visits/import/visits").status_code == 403


def test_a_ledger_problem_keeps_its_dates_in_the_pages_and_the_half_month_figures(app, login_as, june):
    """Imported on 1 June, a problem of a visit on 6 May is registered on 6 May (the first half of
    May in the statistics, not the first of June) and one closed on 20 May is solved then."""
    from webapp.core.periods import Period
    from webapp.stats import figures as fig

    with app.app_context():
        vf.household("H-1", head="张大爷")
        db.session.commit()
    rows = [row(title="门前道路积水", description="雨后积水", category="道路交通"),
            row(title="低保待遇咨询", description="想了解低保", category="民生保障", status="已办结",
                closed_on=dt.date(2026, 5, 20), result="已讲解政策")]
    b = login_as("office")
    upload(b, xlsx(rows, VISIT_COLUMNS), kind="visits")
    assert last_job(app).status == JobStatus.done
    with app.app_context():
        problems = {p.title: p for p in db.session.scalars(select(Problem))}
        open_, closed = problems["门前道路积水"], problems["低保待遇咨询"]
        assert clock.local(open_.registered_at).date() == DAY == clock.local(closed.registered_at).date()
        assert clock.local(closed.closed_at).date() == dt.date(2026, 5, 20)
        # The timeline's dates are the ledger's; the audit's time is the import's, saying so.
        [reg] = [e for e in open_.events if e.action == "register"]
        assert clock.local(reg.created_at).date() == DAY and "按原走访台账导入" in reg.note
        [ended] = [e for e in closed.events if e.action == "ledger_close"]
        assert clock.local(ended.created_at).date() == dt.date(2026, 5, 20)
        audits = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "problem.register")).all()
        details = [json.loads(a.detail) for a in audits]
        assert {d["visited_on"] for d in details} == {DAY.isoformat()} and all(d["imported"] for d in details)
        assert all( clock.local(a.created_at).date() == dt.date(2026, 6, 1) for a in audits)
        open_id = open_.id
        may1, may2, june1 = Period.of(DAY), Period.of(dt.date(2026, 5, 20)), Period.of(dt.date(2026, 6, 1))
        by = {t["period"]: t for t in fig.trend([], [may1, may2, june1])}
        assert (by[may1]["registered"], by[may2]["registered"], by[june1]["registered"]) == (2, 0, 0)
        # As of the end of the first half of May both were open; by the end of the second, one was ended.
        assert fig.breakdown("district", [], fig.AsOf(may1))[0]["total"] == 2
        assert fig.breakdown("district", [], fig.AsOf(may1))[0]["other_ended"] + \
            fig.breakdown("district", [], fig.AsOf(may1))[0]["solved"] == 0
    page = b.get(f"/cases/{open_id}").get_data(as_text=True)
    assert "2026-05-06" in page and "2026-06-01" not in page.split("登记", 1)[1].split("</dd>", 1)[0]
