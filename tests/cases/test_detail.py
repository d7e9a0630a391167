"""The problem page through HTTP: everything about the problem, its timeline, the contact numbers
masked per role, and exactly the actions the user may take."""

import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON, actions, text
from webapp.cases import operations as ops
from webapp.cases.models import Attachment, AttachmentKind
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

TRIAGE_ACTIONS = ["assign_sheet", "transfer_desk", "add_to_list", "merge", "resolve_on_spot", "not_accept"]


def test_actions_shown_are_exactly_the_allowed_ones(app, login_as):
    assigned = f.assigned_to_town(cooperating=["区民政局"])
    registered = f.register()
    expected = {
        # (user, problem) → the buttons, in the table's order
        ("town", assigned): ["sign_for", "return"],
        ("townlead", assigned): ["sign_for", "return"],
        ("dept", assigned): ["sign_for", "return"],  # the cooperating unit signs for or gives back its own part
        ("grouplead", assigned): [],
        ("office", assigned): [],
        ("leader", assigned): [],
        ("cadre", assigned): [],
        ("grouplead", registered): TRIAGE_ACTIONS,
        # The office assigns departments directly; only a work group compiles a coordinated list.
        ("office", registered): ["assign_sheet", "transfer_desk", "assign_departments", "merge",
                                 "resolve_on_spot", "not_accept"],
        ("leader", registered): [],
        ("cadre", registered): [],
    }
    for (username, problem), buttons in expected.items():
        page = login_as(username).get(f"/cases/{problem.id}")
        assert page.status_code == 200
        assert actions(page) == buttons, (username, problem.status)
        # Besides the buttons, everyone who works on a problem may leave an internal note (the
        # leader reads only): "nothing to do" shows only when neither exists.
        notes = 'data-activity="note"' in text(page)
        assert notes == (username not in ("leader", "dept")), username  # dept: its part not signed yet
        if not buttons and not notes:
            assert "当前没有需要您办理的事项" in text(page)
    # Triage actions open the triage page at their section; the list's one-click removal posts.
    gl_page = text(login_as("grouplead").get(f"/cases/{registered.id}"))
    assert f'href="/cases/{registered.id}/triage?action=assign_sheet"' in gl_page
    assert f'href="/cases/{registered.id}/triage?action=not_accept"' in gl_page
    dept_page = text(login_as("dept").get(f"/cases/{assigned.id}"))
    assert "签收（配合）" in dept_page and "退回（配合）" in dept_page and "确认退回" in dept_page
    town_page = text(login_as("town").get(f"/cases/{assigned.id}"))
    assert ">签收</button>" in town_page and "确认退回" in town_page and "签收（配合）" not in town_page
    # Every action form carries the version it was drawn with.
    assert f'name="version" value="{assigned.version}"' in town_page


def test_listed_problem_offers_the_one_click_removal(app, login_as):
    p = f.register()
    ops.add_to_list(p, f.user("grouplead"), triage=ops.Triage(Kind.common, Level.district, Tier.quick))
    db.session.commit()
    b = login_as("grouplead")
    page = b.get(f"/cases/{p.id}")
    assert actions(page) == ["remove_from_list"]
    form = text(page)[text(page).index('data-action="remove_from_list"'):]
    assert f'action="/cases/{p.id}/remove-from-list"' in form and 'name="origin" value="problem"' in form
    assert "hx-post" not in form[:form.index("</form>")]  # another area's page answers: a plain post
    resp = b.post(f"/cases/{p.id}/remove-from-list", {"version": p.version, "origin": "problem"})
    assert resp.status_code in (200, 302)
    db.session.rollback()
    assert db.session.get(type(p), p.id).status == Status.registered


def test_page_shows_the_problem_the_assignment_and_the_timeline(app, login_as):
    with time_machine.travel(MON, tick=False):  # 10:00 in Jiawang, 02:00 UTC
        p = f.assigned_to_town(cooperating=["区民政局"], title="村东头三盏路灯损坏", address="权台村东头",
                               description="夜里一片漆黑，老人出行不便。")
        ops.sign_for(p, f.user("dept"))
        db.session.commit()
        page = text(login_as("town").get(f"/cases/{p.id}"))
    for fact in (p.number, p.receipt_no, "权台村", "潘安湖街道", "权台村东头", "民生保障", "夜里一片漆黑",
                 "实事快办", "个性问题", "镇级层面", "待签收", "王晓东",
                 "贾走访交〔2026〕", "请尽快办理", "2026-03-23", "剩余 15 个工作日", "签收时限"):
        assert fact in page, fact
    # Each part of the assignment with its own status.
    parts = page[page.index('class="plain-list parts"'):]
    parts = parts[:parts.index("</ul>")]
    assert "潘安湖街道" in parts and "牵头单位" in parts and "待签收" in parts
    assert "区民政局" in parts and "配合单位" in parts and "已签收" in parts
    # The timeline, newest first: who, which unit, when (local time), what, from → to, the note.
    timeline = page[page.index('class="timeline"'):]
    entries = timeline.split("<li>")[1:]
    assert "配合单位签收" in entries[0] and "赵敏" in entries[0] and "区民政局" in entries[0]
    assert "交办到镇（街道、功能区）" in entries[1] and "待研判 → 待签收" in entries[1]
    assert "李红梅" in entries[1] and "潘安湖街道工作组" in entries[1] and "请尽快办理" in entries[1]
    assert "2026-03-02 10:00" in entries[1]
    assert "登记问题" in entries[2] and "王晓东" in entries[2]


def test_contact_numbers_masked_per_role_and_revealed_with_an_audit(app, login_as):
    p = f.assigned_to_town(phone="13912345678", id_number="320305199001015678")
    for username in ("grouplead", "leader"):
        page = text(login_as(username).get(f"/cases/{p.id}"))
        assert "139****5678" in page and "320305********5678" in page
        assert "13912345678" not in page and "320305199001015678" not in page
        assert "显示完整号码" not in page  # not entitled: nothing to reveal
    for username in ("town", "cadre", "office"):
        b = login_as(username)
        page = text(b.get(f"/cases/{p.id}"))
        assert "13912345678" not in page  # masked until asked for …
        assert "显示完整号码" in page
        reveal = b.post(f"/cases/{p.id}/reveal", {"next": f"/cases/{p.id}"}, headers={"HX-Request": "true"})
        assert reveal.status_code == 200 and "13912345678" in text(reveal)  # … then shown, and logged
    db.session.rollback()
    revealed = db.session.scalars(select(AuditEvent.username).where(AuditEvent.event == "problem.contact_revealed")).all()
    assert revealed == ["town", "cadre", "office"]


def test_photos_link_to_the_guarded_download(app, login_as):
    p = f.assigned_to_town()
    ops.add_attachment(p, f.user("cadre"), kind=AttachmentKind.photo, filename="路灯.jpg",
                       stored_name="abc123.jpg", mime="image/jpeg", size=2048, sha256="0" * 64)
    db.session.commit()
    att = db.session.scalar(select(Attachment).where(Attachment.problem_id == p.id))
    page = text(login_as("town").get(f"/cases/{p.id}"))
    assert f'href="/attachments/{att.id}">路灯.jpg</a>' in page and "2 KB" in page


def test_other_units_and_other_cadres_get_404(app, login_as):
    p = f.assigned_to_town()
    for username in ("dept", "deptlead", "desk"):
        assert login_as(username).get(f"/cases/{p.id}").status_code == 404
    for username in ("sysadmin", "secadmin", "auditor"):
        assert login_as(username).get(f"/cases/{p.id}").status_code == 403
    # Once returned, the town no longer sees it either.
    db.session.rollback()  # a fresh transaction: the requests above have written (sessions)
    ops.return_problem(p, f.user("town"), reason="不属于本街道辖区")
    db.session.commit()
    assert login_as("town").get(f"/cases/{p.id}").status_code == 404
    assert login_as("grouplead").get(f"/cases/{p.id}").status_code == 200
