"""督办单 through HTTP: issued by whoever assigned the problem or by the office, refused for
everyone else and for problems no longer being handled; answered once by the addressed unit;
hidden from other units; stale forms answered 409 with the input kept; the timeline, the audit
log, the printed 督办单 and the list's bounded number of SQL statements."""

import json
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
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
from webapp.cases.models import ProblemEvent
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.supervision import notices
from webapp.supervision.models import NoticeStatus, SupervisionNotice

# Monday 2 March 2026 (no holiday in the fortnight): problems are made then, their deadline set
# to Tuesday 10 March, and the notices issued on Friday 13 March (3 working days overdue).
MADE, DEADLINE, TODAY = date(2026, 3, 2), date(2026, 3, 10), date(2026, 3, 13)


def at(day: date):
    """Travel to 10:00 Beijing time on ``day``."""
    return time_machine.travel(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC), tick=False)


@pytest.fixture
def today():
    with at(TODAY):
        yield TODAY


def overdue(make=hf.in_progress, **kw):
    """A problem made on MADE with its deadline DEADLINE (committed)."""
    with at(MADE):
        p = make(**kw)
    p.deadline = DEADLINE
    db.session.commit()
    return p


def unit_user(username: str, unit: str, role: Role) -> User:
    """Another unit's account that logs in with the demo password (committed)."""
    u = User(username=username, full_name="钱二", unit=f.unit(unit), role=role,
             password_hash=hash_password(DEMO_PASSWORD), password_changed_at=clock.now(),
             must_change_password=False, is_demo=True)
    db.session.add(u)
    db.session.commit()
    return u


def new_url(p) -> str:
    return f"/supervision/notices/new?problem_id={p.id}"


def issue_data(b, p, **kw) -> dict:
    """The new-notice form as the page draws it (prefilled), with ``kw`` changed."""
    page = text(b.get(new_url(p)))
    data = {"version": _input(page, "version"), "token": _input(page, "token")}
    data["reply_by"] = _date(page, "reply_by")
    data["lateness"] = _textarea(page, "lateness")
    data["requirement"] = _textarea(page, "requirement")
    data.update(kw)
    return data


def _textarea(page: str, name: str) -> str:
    m = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\r?\n?(.*?)</textarea>', page, re.S)
    assert m, f"no textarea {name}"
    return m.group(1)


def _input(page: str, name: str) -> str:
    m = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    assert m, f"no input {name}"
    return m.group(1)


def _date(page: str, name: str) -> str:
    assert f'name="{name}" type="date"' in page
    return _input(page, name)


def issue(b, p, **kw):
    return b.post(new_url(p), issue_data(b, p, **kw))


def only_notice(p) -> SupervisionNotice:
    db.session.rollback()
    [n] = db.session.scalars(select(SupervisionNotice).where(SupervisionNotice.problem_id == p.id)).all()
    return n


def events(p, action):
    db.session.rollback()
    return db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == p.id,
                                                         ProblemEvent.action == action)).all()


def audits(name):
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)).all()


def detail(a) -> dict:
    return json.loads(a.detail)


def answer(b, n, text_="已入户核实，正在协调资金，预计 3 月 20 日前办结。", version=None):
    return b.post(f"/supervision/notices/{n.id}/answer",
                  {"answer": text_, "version": str(version if version is not None else fresh(n).version)})


# ---------------------------------------------------------------- issuing


def test_the_group_lead_who_assigned_issues_a_notice_prefilled_from_the_problem(app, login_as, today):
    p = overdue()
    b = login_as("grouplead")
    page = text(b.get(f"/cases/{p.id}"))
    assert 'data-activity="supervise"' in page and new_url(p) in page

    page = text(b.get(new_url(p)))
    lateness = _textarea(page, "lateness")
    assert "2026-03-10" in lateness and "已超期 3 个工作日" in lateness
    assert "任务书中逾期未完成的步骤" in lateness and "第1步：入户核实并落实" in lateness
    assert _textarea(page, "requirement") == notices.default_requirement()
    # Two working days from Friday: Tuesday.
    assert _date(page, "reply_by") == "2026-03-17"

    resp = b.post(new_url(p), issue_data(b, p))
    assert resp.status_code == 302
    n = only_notice(p)
    assert resp.headers["Location"].endswith(f"/supervision/notices/{n.id}")
    assert n.number == "贾走访督〔2026〕0001号"
    assert (n.unit.name, n.issuer_unit.name, n.issued_by.username) == ("潘安湖街道", "潘安湖街道工作组", "grouplead")
    assert n.status == NoticeStatus.open and n.reply_by == date(2026, 3, 17)
    assert "已超期 3 个工作日" in n.lateness

    [ev] = events(p, "supervise")
    assert ev.unit_id == p.lead_unit_id and ev.user.username == "grouplead" and not ev.is_public
    assert n.number in ev.note and "2026-03-17" in ev.note
    [a] = audits("notice.issue")
    assert a.object_id == str(n.id) and a.object_type == "supervision_notice" and detail(a)["number"] == n.number \
        and detail(a)["problem"] == p.number
    assert audits("problem.supervise")[-1].object_id == str(p.id)

    # The problem page: the panel and the timeline entry, for the issuer and the unit.
    for who in ("grouplead", "town"):
        html = text(login_as(who).get(f"/cases/{p.id}"))
        assert "h-notices" in html and n.number in html and "下发督办单" in html


def test_the_office_issues_on_a_department_problem_and_on_a_group_problem(app, login_as, today):
    dept_problem = overdue(dept=True)
    group_problem = overdue()
    b = login_as("office")
    assert issue(b, dept_problem).status_code == 302
    assert issue(b, group_problem, reply_by="2026-03-13").status_code == 302  # today is allowed
    d, g = only_notice(dept_problem), only_notice(group_problem)
    assert (d.unit.name, d.issuer_unit.name) == ("区民政局", "区活动办")
    assert (g.unit.name, g.issuer_unit.name) == ("潘安湖街道", "区活动办")
    assert d.number != g.number and g.reply_by == TODAY
    # Each goes to its own unit's 待反馈.
    assert d.number in text(login_as("dept").get("/supervision/notices"))
    town_list = text(login_as("town").get("/supervision/notices"))
    assert g.number in town_list and d.number not in town_list


@pytest.mark.parametrize("who, code", [
    ("town", 403), ("townlead", 403), ("cadre", 403), ("leader", 403), ("dept", 403), ("desk", 403),
    ("grouplead-qsq", 404),  # another work group's lead does not see the problem at all
])
def test_nobody_else_issues(app, login_as, today, who, code):
    if who == "grouplead-qsq":
        unit_user(who, "青山泉镇工作组", Role.group_lead)
    p = overdue()
    b = login_as(who)
    assert b.get(new_url(p)).status_code == code
    assert b.post(new_url(p), {"lateness": "逾期", "requirement": "请办", "reply_by": "2026-03-17",
                               "version": str(p.version)}).status_code == code
    assert count(SupervisionNotice) == 0


def test_the_group_lead_does_not_supervise_what_the_office_assigned(app, login_as, today):
    p = overdue(dept=True)  # the group's problem, assigned to 区民政局 by the office
    b = login_as("grouplead")
    assert b.get(f"/cases/{p.id}").status_code == 200
    assert b.get(new_url(p)).status_code == 403
    assert b.post(new_url(p), {"lateness": "逾期", "requirement": "请办", "reply_by": "2026-03-17",
                               "version": str(p.version)}).status_code == 403
    assert count(SupervisionNotice) == 0


@pytest.mark.parametrize("make", [hf.signoff_review, hf.pending_verification, hf.signed_off, hf.closed])
def test_no_notice_once_the_unit_has_finished(app, login_as, make):
    p = make()
    b = login_as("office")
    page = b.get(new_url(p))
    assert page.status_code == 200 and "不能对此问题执行“下发督办单”" in text(page)
    assert 'name="lateness"' not in text(page)
    assert 'data-activity="supervise"' not in text(b.get(f"/cases/{p.id}"))
    resp = b.post(new_url(p), {"lateness": "办理结果不实，请说明", "requirement": "请办", "reply_by":
                               clock.today().isoformat(), "version": str(p.version)})
    assert resp.status_code == 409
    assert "办理结果不实，请说明" in text(resp)  # what they typed is shown, not lost
    assert count(SupervisionNotice) == 0


def test_validation_rerenders_with_chinese_messages_and_the_input(app, login_as, today):
    p = overdue()
    b = login_as("grouplead")
    resp = issue(b, p, lateness="  ", requirement="三日内书面说明原因。", reply_by="2026-03-12")
    page = text(resp)
    assert resp.status_code == 200
    assert "请写明存在的问题（什么事项逾期或滞后）。" in page and "反馈时限不能早于今天。" in page
    assert "三日内书面说明原因。" in page and 'value="2026-03-12"' in page
    resp = issue(b, p, reply_by="2026-13-40")
    assert resp.status_code == 200 and "请输入有效的日期。" in text(resp)
    resp = issue(b, p, reply_by="2026-06-30", requirement="x" * 2001)
    assert resp.status_code == 200
    assert "不能超过 2000 个字。" in text(resp) and "反馈时限不能晚于 2026-05-12。" in text(resp)
    assert count(SupervisionNotice) == 0 and events(p, "supervise") == []


def test_a_problem_changed_since_the_form_was_drawn_is_409_with_the_input_kept(app, login_as, today):
    with at(MADE):
        p = hf.accepted()  # its deadline still ahead: the unit can write its task book
    b = login_as("grouplead")
    data = issue_data(b, p, lateness="至今未提交任务书。")
    hf.submit_book(p)  # the unit moves on meanwhile (still supervisable: plan_review)
    resp = b.post(new_url(p), data)
    assert resp.status_code == 409
    page = text(resp)
    assert "该问题已被他人处理或修改" in page and "至今未提交任务书。" in page
    assert _input(page, "version") == str(fresh(p).version)
    assert count(SupervisionNotice) == 0
    # Sent again from the page they now see: issued.
    assert b.post(new_url(p), {**data, "version": str(fresh(p).version)}).status_code == 302
    assert count(SupervisionNotice) == 1


def test_a_double_submit_issues_one_notice(app, login_as, today):
    p = overdue()
    b = login_as("office")
    data = issue_data(b, p)
    assert b.post(new_url(p), data).status_code == 302
    assert b.post(new_url(p), data).status_code == 302
    assert count(SupervisionNotice) == 1 and len(events(p, "supervise")) == 1


def test_without_a_problem_the_new_page_sends_to_the_list(app, login_as):
    b = login_as("office")
    resp = b.get("/supervision/notices/new")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/supervision/notices")
    assert b.get("/supervision/notices/new?problem_id=99999999").status_code == 404


# ---------------------------------------------------------------- answering


@pytest.fixture
def notice(app, login_as, today):
    p = overdue()
    assert issue(login_as("grouplead"), p).status_code == 302
    return only_notice(p)


def test_the_unit_answers_once(app, login_as, notice, today):
    b = login_as("town")
    page = text(b.get(f"/supervision/notices/{notice.id}"))
    assert 'name="answer"' in page and "已超期 3 个工作日" in page
    resp = answer(b, notice)
    assert resp.status_code == 302 and flashes(b.get(resp.headers["Location"])) == [
        f"已反馈督办单 {notice.number}。"]
    n = fresh(notice)
    assert n.status == NoticeStatus.answered and n.answered_by.username == "town"
    assert n.answer.startswith("已入户核实")
    [ev] = events(n.problem, "notice_answer")
    assert ev.unit_id == n.unit_id and n.number in ev.note and "已入户核实" in ev.note
    [a] = audits("notice.answer")
    assert a.object_id == str(n.id) and a.object_type == "supervision_notice" and detail(a)["late"] is False
    assert audits("problem.notice_answer")

    # The issuer reads the answer; the timeline says so.
    html = text(login_as("grouplead").get(f"/supervision/notices/{n.id}"))
    assert "已入户核实" in html and 'name="answer"' not in html
    assert "督办单反馈" in text(login_as("grouplead").get(f"/cases/{n.problem_id}"))

    # The unit leader, with a page drawn before: 409, what they typed shown, nothing changed.
    resp = answer(login_as("townlead"), n, "领导补充：已督促。", version=1)
    assert resp.status_code == 409
    assert "此督办单已经反馈" in text(resp) and "领导补充：已督促。" in text(resp)
    assert fresh(n).answer.startswith("已入户核实") and len(events(n.problem, "notice_answer")) == 1


def test_a_stale_answer_form_is_409_with_the_input_kept(app, login_as, notice):
    b = login_as("town")
    old = notice.version
    notice.reply_by = date(2026, 3, 18)  # changed meanwhile (another process)
    db.session.commit()
    resp = answer(b, notice, "情况已核实。", version=old)
    assert resp.status_code == 409
    page = text(resp)
    assert "督办单已被他人修改" in page and "情况已核实。" in page
    assert _input(page, "version") == str(fresh(notice).version)
    assert fresh(notice).status == NoticeStatus.open
    assert answer(b, notice, "情况已核实。").status_code == 302


def test_an_empty_answer_is_refused_in_chinese(app, login_as, notice):
    resp = answer(login_as("town"), notice, "   ")
    assert resp.status_code == 200 and "请填写办理情况反馈。" in text(resp)
    assert fresh(notice).status == NoticeStatus.open


@pytest.mark.parametrize("who, code", [
    ("dept", 404), ("deptlead", 404), ("desk", 404),  # another unit: the notice does not exist
    ("grouplead", 403), ("office", 403), ("leader", 403), ("cadre", 403),  # no unit staff
])
def test_only_the_addressed_unit_answers(app, login_as, notice, who, code):
    b = login_as(who)
    assert b.get(f"/supervision/notices/{notice.id}").status_code == (404 if code == 404 else
                                                                     (403 if who == "cadre" else 200))
    assert answer(b, notice, version=notice.version).status_code == code
    assert fresh(notice).status == NoticeStatus.open


def test_another_units_staff_do_not_see_the_notice_anywhere(app, login_as, notice):
    b = login_as("dept")
    assert notice.number not in text(b.get("/supervision/notices"))
    assert b.get(f"/supervision/notices/{notice.id}.pdf").status_code == 404


# ---------------------------------------------------------------- lists and rules


def test_tabs_and_overdue_answers_in_red(app, login_as, notice):
    town = login_as("town")
    html = text(town.get("/supervision/notices"))
    assert 'data-tab="pending"' in html and 'data-tab="answered"' in html and notice.number in html
    assert "逾期未反馈" not in html
    with at(date(2026, 3, 18)):  # the day after the reply-by date (sessions do not last so long)
        town = login_as("town")
        html = text(town.get("/supervision/notices"))
        assert "badge red" in html and "逾期未反馈" in html and "逾期 1" in html
        office = text(login_as("office").get("/supervision/notices?tab=all&state=overdue"))
        assert notice.number in office
        assert notice.number not in text(login_as("office").get("/supervision/notices?tab=issued"))
        assert notice.number in text(login_as("grouplead").get("/supervision/notices"))
        assert answer(town, notice).status_code == 302
        row = f'data-notice="{notice.number}"'
        assert row not in text(town.get("/supervision/notices?tab=pending"))
        answered = text(town.get("/supervision/notices?tab=answered"))
        assert row in answered and "逾期未反馈" not in answered
        assert detail(audits("notice.answer")[-1])["late"] is True
        assert "逾期反馈" in text(town.get(f"/supervision/notices/{notice.id}"))


def test_may_see_and_scope_agree(app, notice):
    dept_notice_problem = overdue(dept=True)
    with at(TODAY):
        other = notices.issue(dept_notice_problem, f.user("office"), lateness="逾期", requirement="请办",
                              reply_by=TODAY, version=None)
        db.session.commit()
    expected = {
        # The office's notice is on a problem of the group's own list: the group lead follows it too.
        "office": {notice.id, other.id}, "leader": {notice.id, other.id}, "grouplead": {notice.id, other.id},
        "town": {notice.id}, "townlead": {notice.id}, "dept": {other.id}, "deptlead": {other.id},
        "desk": set(), "cadre": set(), "sysadmin": set(),
    }
    for username, ids in expected.items():
        user = f.user(username)
        in_scope = set(db.session.scalars(select(SupervisionNotice.id).where(notices.scope(user))))
        assert in_scope == ids, username
        assert {n.id for n in (notice, other) if notices.may_see(user, n)} == ids, username
    assert notices.may_answer(f.user("townlead"), notice) and not notices.may_answer(f.user("dept"), notice)
    assert not notices.may_answer(f.user("grouplead"), notice)


def test_the_printed_notice(app, login_as, notice):
    b = login_as("town")
    resp = b.client.get(f"/supervision/notices/{notice.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    n = fresh(notice)
    report = assert_pdf(resp.data, ["督办单", n.number, "潘安湖街道工作组", "潘安湖街道", n.problem.number,
                                    n.problem.title, "存在问题", "督办要求", "反馈时限", "2026年3月17日",
                                    "已超期3个工作日", "138****1234", "签发人", "签收人", "被督办单位负责人"])
    assert "13812341234" not in report.text.replace(" ", "")
    assert answer(b, n).status_code == 302
    answered = assert_pdf(b.client.get(f"/supervision/notices/{n.id}.pdf").data, ["已入户核实", "反馈人"])
    assert "13812341234" not in answered.text.replace(" ", "")


# ---------------------------------------------------------------- statements per page


def _make(n: int, made: list):
    """``n`` more notices on distinct problems of two units (half answered)."""
    office = f.user("office")
    with at(MADE):
        for i in range(n):
            p = hf.accepted(dept=bool(i % 2))
            made.append(p)
    with at(TODAY):
        for i, p in enumerate(made[-n:]):
            note = notices.issue(p, office, lateness=f"逾期{i}", requirement="请办", reply_by=TODAY, version=None)
            if i % 3 == 0:
                notices.answer(note, f.user("dept" if i % 2 else "town"), answer="已办", version=None)
        db.session.commit()


def _statements(b, url) -> int:
    db.session.rollback()
    with counted_queries() as n:
        assert b.client.get(url).status_code == 200
    return n[0]


def test_the_list_needs_a_bounded_number_of_statements(app, login_as):
    made: list = []
    _make(2, made)
    with at(TODAY):
        office, town = login_as("office"), login_as("town")
        urls = [(office, "/supervision/notices?tab=all"), (office, "/supervision/notices?tab=issued&state=open"),
                (town, "/supervision/notices"), (town, "/supervision/notices?tab=answered")]
        few = [_statements(b, url) for b, url in urls]
        _make(24, made)  # more than a page, on as many more problems
        assert [_statements(b, url) for b, url in urls] == few
        html = text(office.get("/supervision/notices?tab=all&page=2"))
    assert "第 2 / 2 页" in html and count(SupervisionNotice) == 26
