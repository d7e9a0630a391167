"""The task book (任务书) through HTTP: writing, the leader's review, revisions, ticking steps,
the history of versions, the printed 任务书 and the problem page's panel."""

import io
import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import count, flashes, fresh, png_bytes, text
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.models import Attachment, AttachmentKind, ProblemEvent
from webapp.cases.workflow import Status
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import BookStatus, TaskBook
from webapp.handling.queries import book_in_force

# Monday 2 March 2026: a quick (实事快办) problem assigned now is due Monday 23 March.
DUE = date(2026, 3, 23)
VERSION_RE = re.compile(r'<input type="hidden" name="version" value="(\d+)">')


@pytest.fixture
def monday():
    with time_machine.travel(MON, tick=False):
        yield


def version_in(page: str) -> str:
    m = VERSION_RE.search(page)
    assert m, "no version field in the page"
    return m.group(1)


def book_data(page: str, **kw) -> dict:
    """A complete task book as the form posts it (two steps), with the page's version."""
    data = {
        "version": version_in(page), "handler_id": str(f.user("town").id), "responsible_leader": "刘志强",
        "responsible_department": "社会事业局", "measures": "入户核实，协调民政救助资金。", "deadline": "2026-03-20",
        "steps-0-title": "入户核实家庭情况", "steps-0-due_on": "2026-03-04",
        "steps-1-title": "申报临时救助", "steps-1-due_on": "2026-03-11",
        "steps-2-title": "", "steps-2-due_on": "",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def books_of(p) -> list[TaskBook]:
    db.session.rollback()
    return db.session.scalars(select(TaskBook).where(TaskBook.problem_id == p.id).order_by(TaskBook.revision)).all()


def events_of(p) -> list[str]:
    db.session.rollback()
    return db.session.scalars(select(ProblemEvent.action).where(ProblemEvent.problem_id == p.id)
                              .order_by(ProblemEvent.id)).all()


# ---------------------------------------------------------------- writing the task book


def test_town_writes_the_task_book(app, login_as, monday):
    p = hf.accepted()
    town = login_as("town")
    url = f"/cases/{p.id}/task-book"
    # The problem page links to the form; the form opens with defaults and three empty steps.
    assert f'href="{url}?action=submit_plan"' in text(town.get(f"/cases/{p.id}"))
    page = text(town.get(url))
    assert "steps-2-title" in page and "steps-3-title" not in page
    assert re.search(rf'<option selected value="{f.user("town").id}">', page)  # 专人: the writer
    assert 'value="刘志强"' in page  # 责任领导: the unit's leader
    assert f'value="{DUE.isoformat()}"' in page and f'max="{DUE.isoformat()}"' in page
    assert "不能晚于交办时限 2026-03-23" in page

    # Bad input: the page again (200) with a message at each field, everything typed kept.
    bad = book_data(page, measures="", responsible_department="", deadline="2026-03-30",
                    **{"steps-1-due_on": "", "steps-1-title": "申报临时救助"})
    resp = town.post(url, bad)
    body = text(resp)
    assert resp.status_code == 200
    assert "请填写化解措施。" in body and "请填写责任科室（部门）。" in body
    assert "完成时限不能晚于交办时限 2026-03-23" in body
    assert 'value="入户核实家庭情况"' in body and 'value="申报临时救助"' in body and 'value="2026-03-30"' in body
    assert fresh(p).status == Status.accepted and books_of(p) == []
    resp = town.post(url, book_data(page, **{"steps-1-due_on": ""}))
    assert resp.status_code == 200 and "第 2 步没有填写时间。" in text(resp)

    # 再加一步 without JavaScript: the same form with one more row, nothing saved.
    resp = town.post(url, {**book_data(page), "add_step": "1"})
    assert resp.status_code == 200 and "steps-5-title" in text(resp) and "steps-6-title" not in text(resp)
    assert 'value="申报临时救助"' in text(resp) and books_of(p) == []

    resp = town.post(url, book_data(page))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{p.id}")
    p = fresh(p)
    assert p.status == Status.plan_review
    (book,) = books_of(p)
    assert book.status == BookStatus.submitted and book.revision == 1 and book.deadline == date(2026, 3, 20)
    assert [(s.seq, s.title, s.due_on) for s in book.steps] == [
        (1, "入户核实家庭情况", date(2026, 3, 4)), (2, "申报临时救助", date(2026, 3, 11))]
    assert all(s.unit_id == p.lead_unit_id for s in book.steps)
    assert events_of(p)[-1] == "submit_plan"
    assert count(AuditEvent, AuditEvent.event == "problem.submit_plan") == 1
    resp = town.get(f"/cases/{p.id}")
    assert "任务书（第 1 版）已提交，等待责任领导审核。" in flashes(resp)
    detail = text(resp)
    assert "待审核" in detail and "入户核实家庭情况" in detail
    # Sent again (the old form): it has moved on (409), nothing written twice, the input is shown.
    again = town.post(url, book_data(page))
    assert again.status_code == 409 and "不能执行“提交任务书”" in text(again)
    assert "入户核实，协调民政救助资金。" in text(again) and len(books_of(p)) == 1


def test_stale_form_is_refused_with_409(app, login_as, monday):
    p = hf.accepted()
    town = login_as("town")
    page = text(town.get(f"/cases/{p.id}/task-book"))
    stale = str(int(version_in(page)) - 1)
    resp = town.post(f"/cases/{p.id}/task-book", book_data(page, version=stale))
    assert resp.status_code == 409 and "已被他人处理或修改" in text(resp)
    assert 'value="入户核实家庭情况"' in text(resp)  # the form is drawn again with the input
    assert version_in(text(resp)) == str(fresh(p).version) != stale  # … with the current version
    assert fresh(p).status == Status.accepted and books_of(p) == []


# ---------------------------------------------------------------- the leader's review


def test_leader_rejects_with_a_reason_then_approves(app, login_as, monday):
    p = hf.plan_review()
    lead = login_as("townlead")
    url = f"/cases/{p.id}/task-book/review"
    page = text(lead.get(f"{url}?action=reject_plan"))
    assert "核实情况，协调资金，限期解决。" in page and 'id="act-reject_plan" open' in page
    version = version_in(page)
    resp = lead.post(url, {"version": version, "action": "reject_plan", "reason": ""})
    assert resp.status_code == 200 and "退回任务书请写明理由。" in text(resp)
    assert fresh(p).status == Status.plan_review
    resp = lead.post(url, {"version": version, "action": "reject_plan", "reason": "步骤太粗，请细化到周。"})
    assert resp.status_code == 302
    p = fresh(p)
    (book,) = books_of(p)
    assert p.status == Status.accepted and book.status == BookStatus.rejected
    assert book.decision_note == "步骤太粗，请细化到周。" and events_of(p)[-1] == "reject_plan"

    # The writer starts again from the rejected book and sees why it came back.
    town = login_as("town")
    page = text(town.get(f"/cases/{p.id}/task-book"))
    assert "步骤太粗，请细化到周。" in page and "核实情况，协调资金，限期解决。" in page
    assert 'value="第1步：入户核实并落实"' in page
    resp = town.post(f"/cases/{p.id}/task-book", book_data(page))
    assert resp.status_code == 302 and fresh(p).status == Status.plan_review

    page = text(lead.get(url))
    resp = lead.post(url, {"version": version_in(page), "action": "approve_plan", "note": "同意"})
    assert resp.status_code == 302
    p = fresh(p)
    books = books_of(p)
    assert [b.status for b in books] == [BookStatus.rejected, BookStatus.approved]
    assert p.status == Status.in_progress and p.deadline == date(2026, 3, 20) == books[1].deadline
    assert p.handler_id == f.user("town").id and books[1].decided_by_id == f.user("townlead").id
    assert events_of(p)[-1] == "approve_plan"
    # The panel: the book in force, its steps, print and history links.
    detail = text(lead.get(f"/cases/{p.id}"))
    assert "执行中" in detail and "入户核实家庭情况" in detail
    assert f"/cases/{p.id}/task-books/{books[1].id}.pdf" in detail and f"/cases/{p.id}/task-books\"" in detail


def test_a_handler_cannot_approve(app, login_as, monday):
    p = hf.plan_review()
    town = login_as("town")
    url = f"/cases/{p.id}/task-book/review"
    assert town.get(url).status_code == 403
    resp = town.post(url, {"version": str(p.version), "action": "approve_plan"})
    assert resp.status_code == 403 and "您无权" in text(resp)
    assert fresh(p).status == Status.plan_review and books_of(p)[0].status == BookStatus.submitted


def test_review_with_a_stale_version_is_409(app, login_as, monday):
    p = hf.plan_review()
    lead = login_as("townlead")
    url = f"/cases/{p.id}/task-book/review"
    version = int(version_in(text(lead.get(url))))
    resp = lead.post(url, {"version": str(version - 1), "action": "approve_plan", "note": "同意"})
    assert resp.status_code == 409 and "已被他人处理或修改" in text(resp)
    assert fresh(p).status == Status.plan_review


# ---------------------------------------------------------------- revisions


def test_revision_keeps_the_old_version_and_a_rejected_revision_leaves_it_in_force(app, login_as, monday):
    p = hf.in_progress()
    old = book_in_force(p)
    first, second = old.steps
    h.tick_step(p, f.user("town"), first, note="已入户")
    db.session.commit()
    town = login_as("town")
    url = f"/cases/{p.id}/task-book"
    assert f'href="{url}?action=revise_plan"' in text(town.get(f"/cases/{p.id}"))
    page = text(town.get(url))
    assert "修订原因" in page and "已完成的步骤" in page
    # The done step is shown, not editable; the open one is a row carrying its id.
    assert f'value="{first.title}"' not in page and f'value="{second.title}"' in page
    assert f'name="steps-0-from_step_id" value="{second.id}"' in page
    data = {"version": version_in(page), "handler_id": str(f.user("town").id), "responsible_leader": "王主任",
            "responsible_department": "社会事业局", "measures": "核实情况，协调资金，限期解决。另请区民政局配合。",
            "deadline": DUE.isoformat(), "steps-0-from_step_id": str(second.id), "steps-0-title": second.title,
            "steps-0-due_on": "2026-03-06", "steps-1-title": "协调区民政局落实救助", "steps-1-due_on": "2026-03-13"}
    resp = town.post(url, data)
    assert resp.status_code == 200 and "请说明修订原因。" in text(resp)
    assert 'value="协调区民政局落实救助"' in text(resp) and fresh(p).status == Status.in_progress
    resp = town.post(url, {**data, "revision_reason": "会办会决定增加区民政局配合。"})
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.plan_review
    rev1, rev2 = books_of(p)
    assert rev1.status == BookStatus.approved and rev2.status == BookStatus.submitted
    assert [(s.title, s.done_at is not None) for s in rev2.steps] == [
        (first.title, True), (second.title, False), ("协调区民政局落实救助", False)]

    # The leader sees the revision next to the book in force, and what changed.
    lead = login_as("townlead")
    review = text(lead.get(f"/cases/{p.id}/task-book/review"))
    assert "正在执行的任务书（第 1 版）" in review and "修订稿（第 2 版）" in review
    assert "时间调整" in review and "新增" in review and "会办会决定增加区民政局配合。" in review
    # Every version stays visible.
    history = text(lead.get(f"/cases/{p.id}/task-books"))
    assert "第 1 版" in history and "第 2 版" in history and "执行中" in history and "待审核" in history

    resp = lead.post(f"/cases/{p.id}/task-book/review",
                     {"version": version_in(review), "action": "reject_plan", "reason": "不必修订。"})
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.in_progress
    assert book_in_force(p).id == rev1.id and books_of(p)[1].status == BookStatus.rejected
    assert p.deadline == DUE  # unchanged: the book in force is still the first


def test_an_approved_revision_supersedes_the_old_book(app, login_as, monday):
    p = hf.in_progress()
    first = book_in_force(p).steps[0]
    h.tick_step(p, f.user("town"), first, note="已入户")
    db.session.commit()
    town = login_as("town")
    page = text(town.get(f"/cases/{p.id}/task-book"))
    resp = town.post(f"/cases/{p.id}/task-book", {
        "version": version_in(page), "handler_id": str(f.user("town").id), "responsible_leader": "王主任",
        "responsible_department": "社会事业局", "measures": "新措施", "deadline": "2026-03-18",
        "steps-0-title": "发放救助金", "steps-0-due_on": "2026-03-16", "revision_reason": "调整"})
    assert resp.status_code == 302
    lead = login_as("townlead")
    review = text(lead.get(f"/cases/{p.id}/task-book/review"))
    assert "修订稿删去的步骤" in review  # the second step of version 1 is dropped
    resp = lead.post(f"/cases/{p.id}/task-book/review", {"version": version_in(review), "action": "approve_plan"})
    assert resp.status_code == 302
    p = fresh(p)
    rev1, rev2 = books_of(p)
    assert rev1.status == BookStatus.superseded and rev2.status == BookStatus.approved
    assert p.deadline == date(2026, 3, 18) and p.status == Status.in_progress
    assert [s.title for s in rev2.steps] == [first.title, "发放救助金"] and rev2.steps[0].done_note == "已入户"


# ---------------------------------------------------------------- ticking steps


def test_tick_a_step_with_a_file(app, login_as, monday):
    p = hf.in_progress()
    step = book_in_force(p).steps[0]
    town = login_as("town")
    url = f"/cases/{p.id}/steps/{step.id}/done"
    assert url in text(town.get(f"/cases/{p.id}"))  # the panel's 完成 link
    assert town.get(url).status_code == 200
    resp = town.post(url, {"note": ""}, content_type="multipart/form-data")
    assert resp.status_code == 200 and "请简要说明完成情况。" in text(resp)
    resp = town.post(url, {"note": "已入户", "files": (io.BytesIO(b"not a photo"), "x.jpg")},
                     content_type="multipart/form-data")
    assert resp.status_code == 200 and "不是 JPG、PNG 图片或 PDF 文件" in text(resp) and "已入户" in text(resp)
    assert fresh(step).done_at is None
    resp = town.post(url, {"note": "已入户核实，家庭困难属实。", "files": (io.BytesIO(png_bytes()), "入户.png")},
                     content_type="multipart/form-data")
    assert resp.status_code == 302
    step = fresh(step)
    assert step.done_at is not None and step.done_by_id == f.user("town").id
    event = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == p.id)
                              .order_by(ProblemEvent.id.desc()).limit(1))
    assert event.action == "tick_step" and "已入户核实，家庭困难属实。" in event.note
    (att,) = db.session.scalars(select(Attachment).where(Attachment.event_id == event.id)).all()
    assert att.kind == AttachmentKind.progress and att.filename == "入户.png"
    assert uploads.path_of(att.stored_name).read_bytes() == png_bytes()
    detail = text(town.get(f"/cases/{p.id}"))
    assert "✓ 已完成" in detail and "已入户核实，家庭困难属实。" in detail and url not in detail
    # Ticked again (another tab): 409 with who did it.
    again = town.post(url, {"note": "再次"}, content_type="multipart/form-data")
    assert again.status_code == 409 and "已经由张伟标记完成" in text(again)


def test_overdue_steps_are_marked_and_only_those_who_may_tick_get_the_link(app, login_as, monday):
    p = hf.in_progress(cooperating=("区民政局",))
    ops.sign_for(p, f.user("dept"))  # the cooperating part signed for: dept works on the problem
    db.session.commit()
    step = book_in_force(p).steps[0]
    url = f"/cases/{p.id}/steps/{step.id}/done"
    with time_machine.travel(date(2026, 3, 10), tick=False):
        town = text(login_as("town").get(f"/cases/{p.id}"))
        assert "已逾期" in town and url in town
        assert url in text(login_as("townlead").get(f"/cases/{p.id}"))
        cadre = text(login_as("cadre").get(f"/cases/{p.id}"))
        assert "已逾期" in cadre and url not in cadre  # sees the book, may not tick
        dept = login_as("dept")
        assert url not in text(dept.get(f"/cases/{p.id}"))  # the step is the lead unit's
        assert dept.get(url).status_code == 403
        resp = dept.post(url, {"note": "越权"}, content_type="multipart/form-data")
        assert resp.status_code == 403 and fresh(step).done_at is None


def test_no_panel_without_a_task_book(app, login_as, monday):
    p = hf.accepted()
    page = text(login_as("town").get(f"/cases/{p.id}"))
    assert 'id="h-taskbook"' not in page


# ---------------------------------------------------------------- scope, history and print


def test_another_unit_meets_404(app, login_as, monday):
    p = hf.in_progress()
    book = book_in_force(p)
    dept = login_as("dept")
    for url in (f"/cases/{p.id}/task-book", f"/cases/{p.id}/task-book/review", f"/cases/{p.id}/task-books",
                f"/cases/{p.id}/steps/{book.steps[0].id}/done", f"/cases/{p.id}/task-books/{book.id}.pdf"):
        assert dept.client.get(url).status_code == 404, url
    # A book or step of another problem, under a problem the user sees: 404 as well.
    other = hf.in_progress()
    other_book = book_in_force(other)
    town = login_as("town")
    assert town.client.get(f"/cases/{p.id}/task-books/{other_book.id}.pdf").status_code == 404
    assert town.get(f"/cases/{p.id}/steps/{other_book.steps[0].id}/done").status_code == 404


def test_the_printed_task_book(app, login_as, monday):
    p = hf.in_progress(phone="13912345678")
    book = book_in_force(p)
    resp = login_as("cadre").client.get(f"/cases/{p.id}/task-books/{book.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    report = assert_pdf(resp.data, [
        "任务书", p.number, p.title, "核实情况，协调资金，限期解决。", "第1步：入户核实并落实", "王主任", "社会事业局",
        "张伟", "139****5678", "潘安湖街道", "序号", "完成情况", "刘志强于2026年3月2日批准", "经办人", "责任领导签字",
        "单位盖章", "2026年3月23日前", "实事快办", p.current_assignment.number])
    assert "13912345678" not in report.text


def test_history_shows_every_version(app, login_as, monday):
    p = hf.accepted()
    book = hf.submit_book(p)
    h.reject_plan(p, f.user("townlead"), reason="请补充资金来源。")
    db.session.commit()
    page = text(login_as("grouplead").get(f"/cases/{p.id}/task-books"))
    assert "第 1 版" in page and "已退回" in page and "请补充资金来源。" in page
    assert f"/cases/{p.id}/task-books/{book.id}.pdf" in page
