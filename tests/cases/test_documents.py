"""The printed 问题交办单 / 转办单 and 统筹交办问题清单: read back, Chinese text, CJK font embedded,
no missing glyph, phones masked, and only for those who may see them."""

import time_machine

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import fresh
from tests.pdfcheck import assert_pdf
from webapp.cases import operations as ops
from webapp.cases.list_routes import list_context, list_problems
from webapp.cases.sheet_routes import sheet_context
from webapp.core.extensions import db
from webapp.documents.pdf import render_document


def pdf(b, url):
    resp = b.client.get(url)
    resp.close()
    return resp


def test_assignment_sheet_prints_for_those_who_see_the_problem(app, login_as):
    with time_machine.travel(MON, tick=False):
        p = f.assigned_to_town(cooperating=["区民政局"], resident_name="孙桂兰", phone="13912345678")
        sheet = p.current_assignment
        url = f"/assignments/{sheet.id}/sheet.pdf"
        gl = login_as("grouplead")
        resp = pdf(gl, url)
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        assert "inline" in resp.headers["Content-Disposition"]
        report = assert_pdf(resp.data, [
            "贾汪区“百千万”集中走访帮扶活动", "问题交办单", sheet.number, p.number, "孙桂兰", "139****5678",
            "潘安湖街道权台村", "民生保障", p.title, "路灯损坏，夜间出行不便。", "潘安湖街道工作组",
            "牵头单位", "潘安湖街道", "区民政局", "实事快办", "2026年3月23日前办结", "2026年3月3日前",
            "请尽快办理", "签收人", "签收时间", "2026年3月2日",
        ])
        assert "13912345678" not in report.text  # masked on paper, whoever prints it
        # Once the town signs for it, the slot is filled in.
        ops.sign_for(fresh(p), f.user("town"))
        db.session.commit()
        report = assert_pdf(pdf(gl, url).data, ["张伟", "2026年3月2日 10:00"])
        # The handling units (lead and cooperating) and the office print it too.
        for username in ("town", "dept", "office", "leader", "cadre"):
            assert pdf(login_as(username), url).status_code == 200, username
        # A unit that is not on the sheet: as if it did not exist.
        assert pdf(login_as("desk"), url).status_code == 404
        assert pdf(login_as("desk"), "/assignments/999999/sheet.pdf").status_code == 404
        assert pdf(login_as("sysadmin"), url).status_code == 403


def test_another_unit_gets_404_for_a_sheet(app, login_as):
    p = f.assigned_to_town(town="青山泉镇")
    url = f"/assignments/{p.current_assignment.id}/sheet.pdf"
    assert pdf(login_as("town"), url).status_code == 404  # 潘安湖街道 is not on it
    assert pdf(login_as("dept"), url).status_code == 404
    assert pdf(login_as("grouplead"), url).status_code == 200


def test_desk_transfer_prints_as_a_transfer_sheet(app, login_as):
    p = f.register()
    a = ops.transfer_to_desk(p, f.user("grouplead"), triage=f.QUICK, requirements="请及时回访")
    db.session.commit()
    report = assert_pdf(pdf(login_as("desk"), f"/assignments/{a.id}/sheet.pdf").data,
                        ["问题转办单", a.number, "转办单位", "承办单位", "区12345平台大走访专席"])
    assert "问题交办单" not in report.text.replace("\n", "")


def test_coordinated_list_prints_for_the_group_and_the_office(app, login_as):
    with time_machine.travel(MON, tick=False):
        p1 = f.register(title="村组道路破损严重", phone="13700001111")
        p2 = f.register(title="农田灌溉渠年久失修")
        gl = f.user("grouplead")
        for p in (p1, p2):
            ops.add_to_list(p, gl, triage=ops.Triage(f.QUICK.kind, f.QUICK.level, f.QUICK.tier))
        cl = p1.coordinated_list
        draft_url = f"/lists/{cl.id}/list.pdf"
        assert pdf(login_as("grouplead"), draft_url).status_code == 404  # not before it is submitted
        db.session.rollback()  # a fresh snapshot before writing (the requests committed meanwhile)
        ops.submit_list(cl, gl)
        ops.assign_departments(p1, f.user("office"), lead=f.unit("区住建局"), cooperating=[f.unit("区交通运输局")])
        db.session.commit()
        url = f"/lists/{cl.id}/list.pdf"
        report = assert_pdf(pdf(login_as("grouplead"), url).data, [
            "统筹交办问题清单", cl.number, "潘安湖街道工作组", "2026年3月2日", p1.number, p2.number,
            "村组道路破损严重", "农田灌溉渠年久失修", "137****1111", "区住建局", "区交通运输局",
            "2026年3月23日", "共 2 个问题",
        ])
        assert "13700001111" not in report.text
        for username in ("office", "leader"):
            assert pdf(login_as(username), url).status_code == 200
        # Departments assigned an item do not get the list; neither do towns or cadres.
        for username in ("dept", "town", "cadre", "desk"):
            assert pdf(login_as(username), url).status_code == 403


def test_documents_render_without_warnings(app):
    """No missing glyph (.notdef), no refused resource: WeasyPrint logged nothing."""
    p = f.assigned_to_town(cooperating=["区民政局", "区卫计委"], resident_name="欧阳桂兰")
    with app.test_request_context():
        result = render_document("assignment_sheet", **sheet_context(p.current_assignment))
        assert result.warnings == [] and result.pages == 1
        q = f.register()
        ops.add_to_list(q, f.user("grouplead"), triage=f.QUICK)
        ops.submit_list(q.coordinated_list, f.user("grouplead"))
        db.session.commit()
        result = render_document("coordinated_list", **list_context(q.coordinated_list,
                                                                     list_problems(q.coordinated_list)))
        assert result.warnings == []


def test_sheet_prints_once_a_cooperating_part_is_done(app, login_as):
    from tests.handling import factories as hf
    from webapp.handling import operations as h

    with time_machine.travel(MON, tick=False):
        p = hf.in_progress(cooperating=("区民政局",))
        ops.sign_for(fresh(p), f.user("dept"))
        db.session.commit()
        h.part_feedback(fresh(p), f.user("dept"), text="救助金已发放到位。", done=True)
        db.session.commit()
        resp = pdf(login_as("town"), f"/assignments/{p.current_assignment.id}/sheet.pdf")
        assert resp.status_code == 200
        assert_pdf(resp.data, ["区民政局", "已反馈完成"])


def test_the_print_link_on_the_problem_page_opens_that_assignments_own_sheet(app, login_as):
    import re

    # Returned and assigned again: the link prints the current sheet, not the first one.
    p = f.assigned_to_town()
    first = p.current_assignment
    ops.return_problem(fresh(p), f.user("town"), reason="不属于本街道辖区，请重新交办")
    db.session.commit()
    second = ops.transfer_to_desk(fresh(p), f.user("grouplead"), triage=f.QUICK, requirements="请及时回访")
    db.session.commit()
    page = login_as("desk").get(f"/cases/{p.id}").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">(打印[^<]+)</a>', page)
    assert link and link.group(1) == f"/assignments/{second.id}/sheet.pdf" and second.id != first.id
    assert link.group(2) == "打印转办单"  # the label names the document it opens
    report = assert_pdf(pdf(login_as("desk"), link.group(1)).data, ["问题转办单", second.number])
    assert first.number not in report.text
