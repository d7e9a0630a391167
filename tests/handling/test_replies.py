"""The reply to the resident (记录回音) through its page, the 待回音 queue and the problem page's panel.

Every problem is brought to its status through the real operations (tests.handling.factories); the
replies are posted the way a browser does (CSRF, version, client token). The clock is frozen on
Monday 2 March 2026, 10:00 in Jiawang.
"""

import re

import pytest
import time_machine
from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import FRI, MON, WED, counted_queries, tabs
from tests.cases.triage_pages import count, flashes, form_values, fresh, other_group_cadre, text
from tests.handling import factories as hf
from webapp.cases import deadlines as case_deadlines
from webapp.cases import operations as ops
from webapp.cases.models import ProblemEvent
from webapp.cases.workflow import Status
from webapp.core import clock
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling.models import Reply, ReplyMethod, Verdict
from webapp.handling.operations import resolve_on_spot


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(MON, tick=False) as traveller:
        yield traveller


def url(p) -> str:
    return f"/cases/{p.id}/reply"


def reply_form(b, p, **data) -> tuple[str, dict]:
    """The reply page and the values a person would send (hidden fields, the default time, …)."""
    page = text(b.get(url(p)))
    values = form_values(page, url(p))
    when = re.search(r'name="replied_at" type="datetime-local" value="([^"]+)"', page)
    assert when, "no callback time on the form"
    values = {**values, "method": "phone", "replied_at": when.group(1),
              "content": "您反映的路灯问题已修好，感谢您的监督。", "verdict": "satisfied", **data}
    return page, {k: v for k, v in values.items() if v is not None}


def post_reply(b, p, **data):
    _page, values = reply_form(b, p, **data)
    return b.post(url(p), values)


def not_accepted(username="cadre"):
    p = f.register(username=username)
    ops.not_accept(p, f.user("grouplead") if username == "cadre" else f.user("office"), reason="属于民事纠纷")
    db.session.commit()
    return p


# ---------------------------------------------------------------- recording a reply


def test_satisfied_reply_closes_the_problem(app, login_as):
    p = hf.signed_off()
    b = login_as("cadre")
    page, values = reply_form(b, p)
    assert "已维修完毕，群众当面确认。" in page  # the verified result the cadre tells the resident
    assert "会显示给群众" in page  # the content field says the resident will see it
    resp = b.post(url(p), values)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{p.id}")
    p = fresh(p)
    assert p.status == Status.closed
    assert p.closed_at is not None and p.replied_at is not None
    assert p.reply_due is None
    r = db.session.scalar(select(Reply).where(Reply.problem_id == p.id))
    assert (r.verdict, r.method, r.reopened) == (Verdict.satisfied, ReplyMethod.phone, False)
    assert r.content == "您反映的路灯问题已修好，感谢您的监督。"
    assert r.replied_by_id == f.user("cadre").id
    ev = db.session.scalars(select(ProblemEvent).where(ProblemEvent.problem_id == p.id)
                            .order_by(ProblemEvent.id.desc())).first()
    assert (ev.action, ev.to_status, ev.is_public, ev.note) == ("reply", Status.closed, True, r.content)
    assert count(AuditEvent, AuditEvent.event == "problem.reply", AuditEvent.object_id == str(p.id)) == 1
    assert "已记录回音，问题已办结。" in flashes(b.get(resp.headers["Location"]))


def test_callback_time_is_local_and_stored_in_utc(app, login_as):
    p = hf.signed_off()
    b = login_as("cadre")
    assert post_reply(b, p, replied_at="2026-03-02T09:30").status_code == 302
    r = db.session.scalar(select(Reply).where(Reply.problem_id == p.id))
    assert clock.as_utc(r.replied_at).isoformat() == "2026-03-02T01:30:00+00:00"


def test_callback_time_in_the_future_or_unreadable_is_refused_at_the_field(app, login_as):
    p = hf.signed_off()
    b = login_as("cadre")
    for value, message in (("2026-03-02T10:30", "回访时间不能晚于现在。"), ("明天", "请输入有效的日期和时间。"),
                           ("", "请填写回访时间。")):
        resp = post_reply(b, p, replied_at=value)
        assert resp.status_code == 200
        assert message in text(resp)
    assert count(Reply) == 0 and fresh(p).status == Status.signed_off


def test_unsatisfied_for_a_substantive_reason_reopens_the_problem(app, login_as):
    p = hf.signed_off()
    old_deadline = p.deadline
    b = login_as("cadre")
    resp = post_reply(b, p, verdict="unsatisfied", resident_words="路灯还是不亮", substantive="y")
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.in_progress
    assert p.reopen_count == 1
    assert p.reply_due is None and p.solved_at is None and p.closed_at is None
    assert p.deadline == case_deadlines.handling_deadline(clock.now(), p.tier) and p.deadline >= old_deadline
    r = db.session.scalar(select(Reply).where(Reply.problem_id == p.id))
    assert r.reopened is True and r.verdict == Verdict.unsatisfied and r.resident_words == "路灯还是不亮"
    assert any("重新办理" in m for m in flashes(b.get(f"/cases/{p.id}")))
    # The panel marks the reply that reopened it.
    panel = text(login_as("town").get(f"/cases/{p.id}"))
    assert 'class="badge red reopened">重新办理' in panel and "路灯还是不亮" in panel


def test_unsatisfied_without_the_residents_words_is_a_field_error_and_keeps_the_input(app, login_as):
    p = hf.signed_off()
    b = login_as("cadre")
    for extra in ({}, {"substantive": "y"}):
        resp = post_reply(b, p, verdict="unsatisfied", content="已解释原因，居民仍有意见", **extra)
        assert resp.status_code == 200
        page = text(resp)
        assert re.search(r'id="resident_words-error"><li>群众不满意时请记录群众的意见。', page)
        assert "已解释原因，居民仍有意见</textarea>" in page
        assert 'checked id="verdict-2"' in page
    assert count(Reply) == 0 and fresh(p).status == Status.signed_off


def test_unsatisfied_but_not_substantive_closes(app, login_as):
    p = hf.signed_off()
    assert post_reply(login_as("cadre"), p, verdict="unsatisfied", resident_words="态度一般").status_code == 302
    p = fresh(p)
    assert p.status == Status.closed and p.reopen_count == 0
    assert db.session.scalar(select(Reply.reopened).where(Reply.problem_id == p.id)) is False


def test_reply_on_a_not_accepted_problem_keeps_its_status(app, login_as):
    p = not_accepted()
    assert p.reply_due is not None
    b = login_as("cadre")
    page, values = reply_form(b, p)
    assert "属于民事纠纷" in page  # why it ended: what the resident is told
    assert 'name="substantive"' not in page  # reopening is for signed-off problems only
    assert b.post(url(p), values).status_code == 302
    p = fresh(p)
    assert p.status == Status.not_accepted
    assert p.reply_due is None and p.replied_at is not None and p.closed_at is None
    # A second reply (another submission) is refused: nothing is owed any more (409).
    assert "已经回音" in text(b.get(url(p)))  # the page draws no form any more
    resp = b.post(url(p), {**values, "token": "another-submission"})
    assert resp.status_code == 409
    assert "该问题已经回音" in text(resp)
    assert count(Reply, Reply.problem_id == p.id) == 1


def test_double_submit_with_the_same_token_records_one_reply(app, login_as):
    p = hf.signed_off()
    b = login_as("cadre")
    _page, values = reply_form(b, p)
    first = b.post(url(p), values)
    second = b.post(url(p), values)
    assert first.status_code == 302 and second.status_code == 302
    assert count(Reply, Reply.problem_id == p.id) == 1
    assert fresh(p).status == Status.closed
    assert any("重复提交" in m for m in flashes(b.get(second.headers["Location"])))


def test_a_second_reply_is_refused_with_409_and_the_input_kept(app, login_as):
    p = hf.signed_off()
    cadre, office = login_as("cadre"), login_as("office")
    _page, stale = reply_form(office, p, content="办公室的答复")
    assert post_reply(cadre, p).status_code == 302
    resp = office.post(url(p), stale)
    assert resp.status_code == 409
    assert "办公室的答复" in text(resp)  # shown back as unsaved input
    assert count(Reply, Reply.problem_id == p.id) == 1
    # The page itself says there is nothing to record any more.
    assert "已经回音" in text(cadre.get(url(p)))


def test_who_may_reply(app, login_as):
    p = hf.signed_off()
    other = other_group_cadre(username="cadre-qsq-r")
    b = login_as(other.username)
    assert b.get(url(p)).status_code == 404
    assert b.post(url(p), {"version": "1", "content": "x"}).status_code == 404
    town = login_as("town")
    assert town.get(url(p)).status_code == 403
    assert town.post(url(p), {"version": "1", "content": "x"}).status_code == 403
    assert login_as("office").get(url(p)).status_code == 200
    assert count(Reply) == 0


def test_the_desk_replies_for_the_problems_it_leads(app, login_as):
    p = desk_signed_off()
    desk = login_as("desk")
    assert [r[0] for r in queue_rows(desk.get("/replies"))] == [p.number]
    assert post_reply(desk, p, method="visit").status_code == 302
    r = db.session.scalar(select(Reply).where(Reply.problem_id == p.id))
    assert r.unit.name == "区12345平台大走访专席" and r.method == ReplyMethod.visit
    assert fresh(p).status == Status.closed


def desk_signed_off():
    """A problem transferred to the 12345 desk, handled and signed off (a desk leader approves)."""
    from tests.access.replies import desk_signed_off as build

    return build()


# ---------------------------------------------------------------- the queue (待回音)


ROW_RE = re.compile(r'<span class="muted case-number">([^<]+)</span>.*?class="time-left (\w+)"', re.S)


def queue_rows(resp) -> list[tuple[str, str]]:
    return ROW_RE.findall(text(resp))


def test_queue_lists_exactly_the_owed_replies_of_the_users_scope_soonest_first(app, login_as, frozen):
    other = other_group_cadre(username="cadre-qsq-q")
    frozen.move_to(MON)
    late = not_accepted()
    theirs = not_accepted(other.username)
    frozen.move_to(WED)
    early_reply = not_accepted()
    done = not_accepted()
    hf.reply(done)
    frozen.move_to(FRI)
    soon = hf.signed_off()
    _handling = hf.in_progress()
    # Due Wednesday: overdue by Friday (red); due Friday: today; the one of Friday later.
    cadre = login_as("cadre")
    rows = queue_rows(cadre.get("/replies"))
    assert rows == [(late.number, "overdue"), (early_reply.number, "today"), (soon.number, "soon")]
    assert "已超期" in text(cadre.get("/replies"))
    office_rows = [n for n, _s in queue_rows(login_as("office").get("/replies"))]
    assert set(office_rows) == {late.number, theirs.number, early_reply.number, soon.number}
    assert office_rows.index(late.number) < office_rows.index(soon.number)
    assert queue_rows(login_as("desk").get("/replies")) == []
    assert [n for n, _s in queue_rows(login_as(other.username).get("/replies"))] == [theirs.number]
    # The work queue's 待回音 tab counts the same.
    assert tabs(cadre.get("/cases"))["owes_reply"] == 3
    assert tabs(login_as("office").get("/cases"))["owes_reply"] == 4


def test_queue_links_to_the_reply_page_and_is_in_the_menu(app, login_as):
    p = not_accepted()
    cadre = login_as("cadre")
    page = text(cadre.get("/replies"))
    assert f'href="/cases/{p.id}/reply"' in page
    assert '<a href="/replies"' in text(cadre.get("/"))
    assert '<a href="/replies"' not in text(login_as("town").get("/"))
    assert login_as("town").get("/replies").status_code == 403


def _owed(n: int) -> None:
    db.session.rollback()
    for i in range(n):
        if i % 3 == 2:
            p = f.register()
            resolve_on_spot(p, f.user("grouplead"), triage=f.QUICK, result="当场修好")
            from webapp.handling import operations as h

            h.verify(p, f.user("grouplead"))
        else:
            p = f.register()
            ops.not_accept(p, f.user("grouplead"), reason="不属于受理范围")
        db.session.commit()


def _queries(b, path) -> int:
    b.client.get(path)
    with counted_queries() as n:
        assert b.client.get(path).status_code == 200
    return n[0]


def test_queue_queries_do_not_grow_with_the_owed_replies(app, login_as):
    browsers = {u: login_as(u) for u in ("cadre", "office", "desk")}
    _owed(5)
    small = {u: _queries(b, "/replies") for u, b in browsers.items()}
    _owed(25)
    large = {u: _queries(b, "/replies") for u, b in browsers.items()}
    assert large == small
    assert len(queue_rows(browsers["office"].get("/replies"))) == 25  # one page
    assert len(queue_rows(browsers["office"].get("/replies?page=2"))) == 5


# ---------------------------------------------------------------- the panel and the work queue's tabs


def test_panel_shows_the_deadline_while_owed_then_the_reply(app, login_as):
    p = hf.signed_off()
    town = login_as("town")
    page = text(town.get(f"/cases/{p.id}"))
    assert 'class="card reply-panel"' in page and "回音时限" in page and "尚未向群众回音" in page
    hf.reply(p, Verdict.basically)
    page = text(town.get(f"/cases/{p.id}"))
    panel = page[page.index('class="card reply-panel"'):]
    panel = panel[:panel.index("</section>")]
    assert "回音时限" not in panel
    assert 'class="badge verdict-basically green">基本满意' in panel and "电话回访" in panel
    assert "已向群众说明办理结果。" in panel and f.user("cadre").full_name in panel
    # No panel for a problem with no reply owed or recorded.
    q = hf.in_progress()
    assert 'class="card reply-panel"' not in text(town.get(f"/cases/{q.id}"))


def test_the_unit_leader_has_a_to_review_tab(app, login_as):
    review = hf.plan_review()
    signoff = hf.signoff_review()
    _other = hf.in_progress()
    _dept = hf.plan_review(dept=True)
    b = login_as("townlead")
    page = text(b.get("/cases?tab=to_review"))
    listed = set(re.findall(r'class="muted case-number">([^<]+)</span>', page))
    assert listed == {review.number, signoff.number}
    assert 'data-tab="to_review"' in page
    assert 'data-tab="to_review"' not in text(login_as("town").get("/cases"))
    assert db.session.scalar(select(func.count()).select_from(Reply)) == 0
