"""Every printed document, for problems in every state the workflow allows: individual, joint with
the cooperating part open and done, returned, extended, merged, 暂难解决, closed and reopened.

Each document answers (never a server error), shows its own number (per type and year), and
meets the print bar: page numbers 第 N 页 共 M 页, dates written 2026年12月6日 throughout, and no
near-empty last page.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import fresh
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf, assert_print_quality
from webapp.cases import operations as ops
from webapp.cases.models import Assignment
from webapp.core import calendar, clock
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import Closure, TaskBook, Verdict
from webapp.supervision import notices


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MON, tick=False):
        yield


def _joint_open():
    p = hf.in_progress(cooperating=("区民政局",))
    ops.sign_for(fresh(p), f.user("dept"))
    db.session.commit()
    return p


def _joint_done():
    p = _joint_open()
    h.part_feedback(fresh(p), f.user("dept"), text="救助金已发放到位。", done=True)
    db.session.commit()
    return p


def _returned():
    p = f.assigned_to_town()
    ops.return_problem(fresh(p), f.user("town"), reason="不属于本街道辖区，请重新交办")
    db.session.commit()
    return p


def _extended():
    p = hf.in_progress()
    new = calendar.add_workdays(p.deadline, 10)
    h.request_extension(fresh(p), f.user("town"), new_deadline=new, reason="连续阴雨无法施工",
                        progress="材料已备齐")
    db.session.commit()
    h.decide_extension(fresh(p), f.user("grouplead"), approve=True, note="同意")
    db.session.commit()
    return p


def _merged():
    target = hf.in_progress()
    p = f.register(title="同一路段路灯不亮")
    ops.merge(p, f.user("grouplead"), into=fresh(target), reason="同一路段同一问题")
    db.session.commit()
    return p


def _reopened():
    p = hf.signed_off()
    hf.reply(fresh(p), Verdict.unsatisfied, substantive=True)
    return p


STATES = {
    "individual": hf.in_progress,
    "joint, part open": _joint_open,
    "joint, part done": _joint_done,
    "returned": _returned,
    "extended": _extended,
    "merged": _merged,
    "cannot solve": hf.cannot_solve,
    "closed": hf.closed,
    "reopened": _reopened,
}


def documents_of(p) -> list[tuple[str, str, str]]:
    """(kind, url, number) of every document the problem has in its state."""
    out = []
    for a in db.session.scalars(select(Assignment).where(Assignment.problem_id == p.id).order_by(Assignment.id)):
        out.append(("sheet", f"/assignments/{a.id}/sheet.pdf", a.number))
    for b in db.session.scalars(select(TaskBook).where(TaskBook.problem_id == p.id)):
        out.append(("task book", f"/cases/{p.id}/task-books/{b.id}.pdf", b.number))
    for c in db.session.scalars(select(Closure).where(Closure.problem_id == p.id)):
        if c.status.value in ("verifying", "verified", "approved"):
            out.append(("closure", f"/cases/{p.id}/closures/{c.id}.pdf", c.number))
    return out


@pytest.mark.parametrize("state", list(STATES))
def test_every_document_of_a_problem_prints_in_every_state(app, login_as, state):
    p = fresh(STATES[state]())
    office = login_as("office")
    docs = documents_of(p)
    if state == "merged":
        assert docs == []  # merged before any assignment: its documents are its target's
        p = fresh(p.merged_into)
        docs = documents_of(p)
    expected = {"sheet"} | ({"task book"} if state not in ("returned",) else set()) \
        | ({"closure"} if state in ("cannot solve", "closed", "reopened") else set())
    assert {kind for kind, _u, _n in docs} == expected, docs
    for kind, url, number in docs:
        resp = office.client.get(url)
        assert resp.status_code == 200, (state, kind, resp.status_code)
        assert number and re.fullmatch(r"贾走访\w{1,2}〔\d{4}〕\d{4}号", number), (kind, number)
        assert_pdf(resp.data, [number, p.number])
        assert_print_quality(resp.data)


def test_the_printed_documents_say_where_the_problem_stands(app, login_as):
    office = login_as("office")
    p = fresh(_joint_done())
    sheet = office.client.get(f"/assignments/{p.current_assignment_id}/sheet.pdf")
    assert_pdf(sheet.data, ["区民政局", "已反馈完成", "2026年3月2日"])
    p = fresh(_returned())
    (a,) = db.session.scalars(select(Assignment).where(Assignment.problem_id == p.id)).all()
    assert_pdf(office.client.get(f"/assignments/{a.id}/sheet.pdf").data, ["已退回"])
    p = fresh(hf.closed())
    book = db.session.scalar(select(TaskBook).where(TaskBook.problem_id == p.id))
    (c,) = db.session.scalars(select(Closure).where(Closure.problem_id == p.id)).all()
    assert_pdf(office.client.get(f"/cases/{p.id}/closures/{c.id}.pdf").data, ["销号单", c.number])
    assert_pdf(office.client.get(f"/cases/{p.id}/task-books/{book.id}.pdf").data, ["任务书", book.number, "已办结"])
    # Numbers are per type and year: the second task book of the year follows the first.
    q = hf.in_progress()
    second = db.session.scalar(select(TaskBook).where(TaskBook.problem_id == q.id))
    assert int(second.number[-5:-1]) == int(book.number[-5:-1]) + 1 and "〔2026〕" in second.number


def test_a_supervision_notice_prints_with_its_number(app, login_as):
    p = hf.in_progress()
    with time_machine.travel(clock.now() + timedelta(days=40), tick=False):
        n = notices.issue(fresh(p), f.user("grouplead"), lateness="已超过办理时限。", requirement="请加快办理。",
                          reply_by=notices.default_reply_by(), version=fresh(p).version)
        db.session.commit()
        resp = login_as("office").client.get(f"/supervision/notices/{n.id}.pdf")
        assert resp.status_code == 200
        assert_pdf(resp.data, [n.number, p.number])
        assert_print_quality(resp.data)
