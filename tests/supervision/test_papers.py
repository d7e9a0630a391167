"""催办通知书 and 通报 as numbered documents: only the problems they concern, sent to the units'
inboxes, acknowledged by the unit, reminded when not; printed A4; units see only their part."""

import datetime as dt

from sqlalchemy import func, select

from tests.cases import factories as f
from tests.conftest import travel_to
from tests.pdfcheck import assert_pdf
from webapp.accounts.models import User
from webapp.cases import operations as ops
from webapp.core import clock
from webapp.core.calendar import add_workdays
from webapp.core.extensions import db
from webapp.notifications.models import Notification
from webapp.supervision import papers, sweep
from webapp.supervision.models import PaperKind, PaperRecipient, SupervisionPaper


def _user(name):
    return db.session.scalar(select(User).where(User.username == name))


def paper_for(unit, problem=None) -> SupervisionPaper:
    """A 通报 naming ``unit`` (for the access rules), issued by the office."""
    office = _user("office")
    paper = SupervisionPaper(kind=PaperKind.bulletin, number=f"贾汪走访办通〔2026〕{unit.id}99号", title="测试通报",
                             issuer_unit_id=office.unit_id, issued_by_id=office.id, issued_at=clock.now(),
                             acknowledge_by=clock.today())
    paper.recipients = [PaperRecipient(unit_id=unit.id, problem_ids=[problem.id] if problem else [])]
    db.session.add(paper)
    db.session.commit()
    return paper


def _noticed_problem():
    """A town problem being handled, 通报ed by the sweep (long overdue)."""
    p = f.assigned_to_town()
    ops.sign_for(p, _user("town"))
    db.session.commit()
    late = add_workdays(p.deadline, 6)
    return p, late


def test_bulletin_names_only_what_it_concerns_and_is_acknowledged(app, login_as):
    p, late = _noticed_problem()
    extended = f.assigned_to_town()
    ops.sign_for(extended, _user("town"))
    db.session.commit()
    with travel_to(late):
        sweep.run()
        # An extension approved since: its 通报 was about the old deadline, so it is not named.
        extended.deadline = add_workdays(late, 10)
        db.session.commit()
        office = login_as("office")
        assert office.post("/supervision/papers", {"kind": "bulletin"}).status_code == 302
        paper = db.session.scalars(select(SupervisionPaper).order_by(SupervisionPaper.id.desc())).first()
        assert paper.number.startswith(f"贾汪走访办通〔{late.year}〕") and paper.number.endswith("号")
        named = {pid for r in paper.recipients for pid in r.problem_ids}
        assert p.id in named and extended.id not in named
        # In the unit's inbox, linking to the paper.
        n = db.session.scalar(select(Notification).where(
            Notification.user_id == _user("town").id, Notification.target_type == "paper"))
        assert n is not None and n.target_id == paper.id and n.kind == "bulletin"
        # Printed A4 with its number; the unit acknowledges; a second acknowledgement is refused.
        town = login_as("town")
        assert_pdf(town.client.get(f"/supervision/papers/{paper.id}.pdf").data, [paper.number, p.number, "通报"])
        rec = next(r for r in paper.recipients if r.unit_id == p.lead_unit_id)
        assert town.post(f"/supervision/papers/{paper.id}/acknowledge", {"version": rec.version}).status_code == 302
        db.session.refresh(rec)
        assert rec.acknowledged_at is not None
        assert town.post(f"/supervision/papers/{paper.id}/acknowledge", {"version": 1}).status_code == 303


def test_unacknowledged_paper_is_reminded_once(app):
    town_unit = _user("town").unit
    paper = paper_for(town_unit)
    today = add_workdays(paper.acknowledge_by, 1)
    first = papers.remind_unacknowledged(today)
    assert first >= 1
    assert papers.remind_unacknowledged(today) == 0
    assert db.session.scalar(select(func.count()).where(
        Notification.user_id == _user("townlead").id, Notification.target_type == "paper")) == 1


def test_nothing_to_issue_is_said_plainly(app, login_as):
    with travel_to(dt.date(2026, 1, 15)):
        office = login_as("office")
        resp = office.post("/supervision/papers", {"kind": "reminder"}, follow_redirects=True)
        assert "目前没有需要写入催办通知书的问题" in resp.get_data(as_text=True)


def test_unacknowledged_papers_are_counted_on_home_and_each_count_links_to_its_list(app, login_as):
    import re

    def home_count(b, key):
        page = b.get("/").get_data(as_text=True)
        m = re.search(rf'<a class="home-count[^"]*" href="([^"]+)" data-count="{key}"><span class="n">(\d+)</span>', page)
        return m.group(1), int(m.group(2))

    p, late = _noticed_problem()
    with travel_to(late):
        sweep.run()
        db.session.commit()
        town, office = login_as("town"), login_as("office")
        assert home_count(town, "papers") == ("/supervision/papers", 0)
        before = home_count(office, "papers")[1]
        assert office.post("/supervision/papers", {"kind": "bulletin"}).status_code == 302
        paper = db.session.scalars(select(SupervisionPaper).order_by(SupervisionPaper.id.desc())).first()
        assert home_count(town, "papers") == ("/supervision/papers", 1)
        assert home_count(office, "papers") == ("/supervision/papers", before + len(paper.recipients))
        # The list's 签收 count links to the paper, where each unit's acknowledgement shows.
        listing = town.get("/supervision/papers").get_data(as_text=True)
        assert f'<a href="/supervision/papers/{paper.id}">0 / 1</a>' in listing
        rec = next(r for r in paper.recipients if r.unit_id == p.lead_unit_id)
        assert town.post(f"/supervision/papers/{paper.id}/acknowledge", {"version": rec.version}).status_code == 302
        assert home_count(town, "papers") == ("/supervision/papers", 0)
        listing = town.get("/supervision/papers").get_data(as_text=True)
        assert f'<a href="/supervision/papers/{paper.id}">1 / 1</a>' in listing
