"""The inbox and the bell: who is told about what, reading, filtering, channel choices."""

import re

from sqlalchemy import func, select

from tests.cases import factories as f
from tests.cases.pages import counted_queries
from webapp.accounts.models import User
from webapp.core.extensions import db
from webapp.notifications.emit import notify
from webapp.notifications.models import Delivery, DeliveryStatus, Notification


def _uid(username):
    return db.session.scalar(select(User.id).where(User.username == username))


def _inbox_of(username, kind=None):
    q = select(Notification).where(Notification.user_id == _uid(username))
    if kind:
        q = q.where(Notification.kind == kind)
    return list(db.session.scalars(q.order_by(Notification.id)))


def test_an_assignment_tells_the_units_handlers_and_nobody_else(app):
    before = {u: len(_inbox_of(u, "assigned")) for u in ("town", "townlead", "dept", "office", "cadre")}
    problem = f.assigned_to_town()
    after = {u: len(_inbox_of(u, "assigned")) for u in before}
    assert after["town"] == before["town"] + 1
    # Only the handlers of the lead unit act on a new assignment: not its leader, not others.
    assert {u: after[u] - before[u] for u in ("townlead", "dept", "office", "cadre")} == dict.fromkeys(
        ("townlead", "dept", "office", "cadre"), 0)
    n = _inbox_of("town", "assigned")[-1]
    assert n.target_type == "problem" and n.target_id == problem.id
    assert problem.number in n.title


def test_bell_inbox_unread_bold_and_mark_all_read(app, login_as):
    town = login_as("town")
    uid = _uid("town")
    notify([uid], "remind", "催办：甲问题")
    notify([uid], "bulletin", "通报：乙问题")
    db.session.commit()
    unread = db.session.scalar(select(func.count()).where(Notification.user_id == uid, Notification.read_at.is_(None)))
    page = town.get("/notifications").get_data(as_text=True)
    assert re.search(r'class="bell-count">(\d+|99\+)<', page).group(1) == (str(unread) if unread <= 99 else "99+")
    # Newest first, unread in bold.
    assert page.index("通报：乙问题") < page.index("催办：甲问题")
    assert "<strong>通报：乙问题</strong>" in page
    # Filter by kind.
    only = town.get("/notifications?kind=remind").get_data(as_text=True)
    assert "催办：甲问题" in only and "通报：乙问题" not in only
    resp = town.post("/notifications/read-all", {"kind": ""})
    assert resp.status_code == 302
    assert db.session.scalar(select(func.count()).where(
        Notification.user_id == uid, Notification.read_at.is_(None))) == 0
    page = town.get("/notifications").get_data(as_text=True)
    assert "bell-count" not in page and "<strong>" not in page.split('id="inbox"')[1]


def test_opening_reads_and_goes_to_the_object_others_get_404(app, login_as):
    problem = f.assigned_to_town()
    n = _inbox_of("town", "assigned")[-1]
    resp = login_as("town").get(f"/notifications/{n.id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{problem.id}")
    db.session.refresh(n)
    assert n.read_at is not None
    assert login_as("dept").get(f"/notifications/{n.id}").status_code == 404


def test_inbox_runs_the_same_statements_for_few_and_many(app, login_as):
    town = login_as("town")
    uid = _uid("town")
    notify([uid], "remind", "一条")
    db.session.commit()
    with counted_queries() as few:
        assert town.get("/notifications").status_code == 200
    for i in range(60):
        notify([uid], "remind", f"第{i}条")
    db.session.commit()
    with counted_queries() as many:
        page = town.get("/notifications").get_data(as_text=True)
    assert few[0] == many[0]
    assert "更早的消息" in page  # a second page exists


def test_dedupe_tells_each_person_once(app):
    uid = _uid("town")
    assert len(notify([uid], "remind", "催办", dedupe="remind:1:2026-01-01")) == 1
    assert notify([uid], "remind", "催办", dedupe="remind:1:2026-01-01") == []


def test_preferences_within_what_the_office_allows(app, login_as, web):
    town = login_as("town")
    page = town.get("/notifications/preferences").get_data(as_text=True)
    assert 'name="ch-remind" value="sms"' in page
    # The office narrows 催办 to e-mail only: SMS is no longer offered, and refused if sent.
    office = login_as("office")
    data = {f"allow-{k}": ["sms"] for k in ("remind",)}
    data["allow-remind"] = ["email"]
    data["default-remind"] = ["email"]
    assert office.post("/notifications/rules", data).status_code == 302
    page = town.get("/notifications/preferences").get_data(as_text=True)
    assert 'name="ch-remind" value="sms"' not in page
    resp = town.post("/notifications/preferences", {"ch-remind": ["sms"], "email": "town@example.org"})
    assert resp.status_code == 200 and "不在活动办允许的范围内" in resp.get_data(as_text=True)
    assert 'value="town@example.org"' in resp.get_data(as_text=True)  # the input is kept
    resp = town.post("/notifications/preferences", {"ch-remind": ["email"], "email": "town@example.org"})
    assert resp.status_code == 302
    nid = notify([_uid("town")], "remind", "催办：丙")[0]
    d = db.session.scalars(select(Delivery).where(Delivery.notification_id == nid)).all()
    assert [(x.channel, x.address, x.status) for x in d] == [("email", "town@example.org", DeliveryStatus.outbox)]


def test_outbox_shows_what_would_have_been_sent(app, login_as):
    uid = _uid("town")
    db.session.get(User, uid).phone = "13812345678"
    nid = notify([uid], "remind", "催办：丁问题")[0]
    db.session.commit()
    d = db.session.scalar(select(Delivery).where(Delivery.notification_id == nid))
    assert d.channel == "sms" and d.status == DeliveryStatus.outbox
    page = login_as("office").get("/notifications/outbox").get_data(as_text=True)
    assert "催办：丁问题" in page and "138****5678" in page and "13812345678" not in page
