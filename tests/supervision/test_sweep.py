"""督查督办: the sweep adds one 催办 and one 通报 per deadline on the working-day calendar; the
command and the office's page run it."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from tests.handling import factories as hf
from webapp.cases.models import ProblemEvent
from webapp.cases.workflow import Status
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.supervision import sweep

# Wednesday 30 September 2026 is the last working day before National Day (1–7 October);
# Saturday 10 October is a make-up workday (调休), Sunday 11 October a day off.
LAST_BEFORE_HOLIDAY = date(2026, 9, 30)


def at(day: date):
    """Travel to 10:00 Beijing time on ``day``."""
    return time_machine.travel(datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC), tick=False)


def with_deadline(deadline: date, **kw):
    with at(date(2026, 9, 1)):
        p = hf.in_progress(**kw)
    p.deadline = deadline
    db.session.commit()
    return p


def events(p, action=None):
    db.session.rollback()
    q = select(ProblemEvent).where(ProblemEvent.problem_id == p.id,
                                   ProblemEvent.action.in_([action] if action else ["remind", "notice"]))
    return db.session.scalars(q.order_by(ProblemEvent.id)).all()


def audits(name):
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id)).all()


def sweep_on(day: date):
    with at(day):
        result = sweep.run()
        db.session.commit()
    return result


def test_reminder_the_working_day_after_the_deadline_then_notice(app):
    p = with_deadline(date(2026, 3, 20))  # a Friday
    assert sweep_on(date(2026, 3, 20)).reminded == 0  # the deadline day itself
    assert sweep_on(date(2026, 3, 21)).reminded == 0  # Saturday: not a working day overdue yet
    assert events(p) == []

    r = sweep_on(date(2026, 3, 23))  # Monday: 1 working day overdue
    assert (r.reminded, r.noticed) == (1, 0)
    [ev] = events(p)
    assert ev.action == "remind" and ev.user_id is None and ev.unit_id == p.lead_unit_id
    assert "截止日期 2026-03-20" in ev.note and ev.is_public is False

    # Idempotent: again the same day, and every following day until the notice.
    for day in (23, 24, 25, 26):
        r = sweep_on(date(2026, 3, day))
        assert (r.reminded, r.noticed) == (0, 0)
    assert [e.action for e in events(p)] == ["remind"]

    r = sweep_on(date(2026, 3, 27))  # Friday: 5 working days overdue → 通报
    assert (r.reminded, r.noticed) == (0, 1)
    assert sweep_on(date(2026, 3, 30)).noticed == 0
    assert [e.action for e in events(p)] == ["remind", "notice"]
    [notice] = events(p, "notice")
    assert notice.unit_id == p.lead_unit_id and "超期 5 个工作日" in notice.note

    assert audits("supervision.remind")[-1].detail.count(str(p.id)) >= 1
    assert audits("supervision.notice")
    assert len(audits("supervision.sweep")) == 9


def test_holiday_week_moves_reminder_and_notice(app):
    p = with_deadline(LAST_BEFORE_HOLIDAY)
    for day in range(1, 8):  # National Day: no working day has passed
        assert sweep_on(date(2026, 10, day)).reminded == 0
    assert events(p) == []
    assert sweep_on(date(2026, 10, 8)).reminded == 1  # first working day after the holiday
    assert sweep_on(date(2026, 10, 9)).noticed == 0
    assert sweep_on(date(2026, 10, 12)).noticed == 0  # 8, 9, 10 (调休 Saturday), 12 = 4
    assert sweep_on(date(2026, 10, 13)).noticed == 1  # the 5th working day overdue
    assert [e.action for e in events(p)] == ["remind", "notice"]


def test_catching_up_adds_both_once_and_a_new_deadline_starts_afresh(app):
    p = with_deadline(date(2026, 3, 20))
    r = sweep_on(date(2026, 4, 1))  # the sweep did not run for a while
    assert (r.reminded, r.noticed) == (1, 1)
    assert sweep_on(date(2026, 4, 1)).reminded == 0

    p.deadline = date(2026, 4, 3)  # e.g. an extension approved
    db.session.commit()
    assert sweep_on(date(2026, 4, 7)).reminded == 1  # 4–6 April: 清明 holiday
    assert [e.action for e in events(p)] == ["remind", "notice", "remind"]


def test_only_problems_being_handled(app):
    handled = with_deadline(date(2026, 3, 20))
    with at(date(2026, 3, 2)):
        done = hf.signed_off()
    done.deadline = date(2026, 3, 20)
    db.session.commit()
    assert done.status == Status.signed_off
    r = sweep_on(date(2026, 4, 1))
    assert (r.overdue, r.reminded, r.noticed) == (1, 1, 1)
    assert events(done) == []
    assert len(events(handled)) == 2


def test_signed_off_meanwhile_gets_nothing_more(app):
    with at(date(2026, 3, 2)):
        p = hf.signoff_review()
    p.deadline = date(2026, 3, 20)
    db.session.commit()
    assert sweep_on(date(2026, 3, 23)).reminded == 1  # still under review: 催办
    from tests.cases import factories as f
    from webapp.handling import operations as h

    with at(date(2026, 3, 24)):
        h.approve_signoff(p, f.user("townlead"))
        db.session.commit()
    r = sweep_on(date(2026, 3, 30))
    assert (r.reminded, r.noticed) == (0, 0)
    assert [e.action for e in events(p)] == ["remind"]


def test_timeline_shows_the_labels(app, login_as):
    p = with_deadline(date(2026, 3, 20))
    sweep_on(date(2026, 3, 30))
    with at(date(2026, 3, 30)):
        page = login_as("townlead").get(f"/cases/{p.id}").get_data(as_text=True)
    assert "催办" in page and "通报" in page and "系统" in page and "截止日期 2026-03-20" in page


def test_command(app, runner_factory):
    p = with_deadline(date(2026, 3, 20))
    out = runner_factory().invoke(args=["supervision", "sweep", "--date", "2026-03-23"])
    assert out.exit_code == 0, out.output
    assert "reminded 1, noticed 0" in out.output
    assert [e.action for e in events(p)] == ["remind"]
    out = runner_factory().invoke(args=["supervision", "sweep", "--date", "2026-03-23"])
    assert "reminded 0, noticed 0" in out.output
    assert runner_factory().invoke(args=["supervision", "sweep", "--date", "23/03/2026"]).exit_code != 0
    assert '"source": "cli"' in audits("supervision.sweep")[-1].detail


def test_page_and_run_now(app, login_as):
    p = with_deadline(date(2026, 3, 20))
    with at(date(2026, 3, 30)):
        office = login_as("office")
        page = office.get("/supervision").get_data(as_text=True)
        assert "立即督查" in page and p.number not in page
        resp = office.post("/supervision/sweep")
        assert resp.status_code == 302
        page = office.get("/supervision").get_data(as_text=True)
        assert "新增催办 1 条，新增通报 1 条" in page
        assert p.number in page and "潘安湖街道" in page
        sweep_audit = audits("supervision.sweep")[-1]
        assert sweep_audit.username == "office" and '"source": "web"' in sweep_audit.detail

        leader = login_as("leader")
        page = leader.get("/supervision").get_data(as_text=True)
        assert p.number in page and "立即督查" not in page
        assert leader.post("/supervision/sweep").status_code == 403
        for who in ("townlead", "cadre"):
            b = login_as(who)
            assert b.get("/supervision").status_code == 403
            assert b.post("/supervision/sweep").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ProblemEvent)
                             .where(ProblemEvent.action == "remind")) == 1


@pytest.mark.parametrize("n", [3])
def test_batches(app, monkeypatch, n):
    monkeypatch.setattr(sweep, "BATCH", 2)
    ps = [with_deadline(date(2026, 3, 20)) for _ in range(n)]
    r = sweep_on(date(2026, 3, 23))
    assert (r.overdue, r.reminded) == (n, n)
    assert all(len(events(p)) == 1 for p in ps)


def test_every_per_unit_count_links_to_the_problems_behind_it(app, login_as):
    import re

    late = with_deadline(date(2026, 3, 20))  # 催办 and 通报 by 30 March
    early = with_deadline(date(2026, 3, 26))  # 催办 only
    sweep_on(date(2026, 3, 30))
    unit_id = late.lead_unit_id
    with at(date(2026, 3, 30)):
        b = login_as("leader")
        page = b.get("/supervision").get_data(as_text=True)
        row = re.search(r"<tr>\s*<td>潘安湖街道</td>(.*?)</tr>", page, re.S).group(1)
        counts = re.findall(r'<td class="num">(?:<a href="([^"]+)">)?(\d+)', row)
        assert [n for _h, n in counts] == ["2", "2", "1"]
        assert all(href for href, _n in counts)  # every count is a link
        reminded, noticed = (href.replace("&amp;", "&") for href, _n in counts[1:])
        assert reminded == f"/supervision/sent?unit={unit_id}&action=remind"
        assert noticed == f"/supervision/sent?unit={unit_id}&action=notice"

        listed = b.get(reminded).get_data(as_text=True)
        # Newest first; sent in the same sweep: the later problem first.
        assert re.findall(r'data-problem="([^"]+)"', listed) == [early.number, late.number]
        assert "累计催办 2 次，涉及 2 个问题" in listed
        listed = b.get(noticed).get_data(as_text=True)
        assert re.findall(r'data-problem="([^"]+)"', listed) == [late.number]
        assert "累计通报 1 次，涉及 1 个问题" in listed
        assert b.get(f"/supervision/sent?unit={unit_id}&action=delete").status_code == 404
        assert login_as("townlead").get(reminded).status_code == 403
