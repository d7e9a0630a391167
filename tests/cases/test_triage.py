"""Triage and assignment through HTTP: the group lead's page, each action, batches, conflicts."""

import io
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import (
    count,
    flashes,
    form_values,
    fresh,
    other_group_cadre,
    png_bytes,
    text,
    triage_fields,
)
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.models import Assignment, Attachment, AttachmentKind, Channel, ProblemEvent
from webapp.cases.workflow import Status, Tier
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db

# Monday 2 March 2026 (MON): 15 working days later is Monday 23 March, 3 are Thursday 5 March,
# 1 (signing for) is Tuesday 3 March. The month has no holiday.
QUICK_DUE = date(2026, 3, 23)
IMMEDIATE_DUE = date(2026, 3, 5)
SIGN_FOR_DUE = date(2026, 3, 3)


@pytest.fixture
def monday():
    with time_machine.travel(MON, tick=False):
        yield


@pytest.fixture
def gl(login_as, monday):
    return login_as("grouplead")


def page_of(b, problem) -> str:
    resp = b.get(f"/cases/{problem.id}/triage")
    assert resp.status_code == 200
    return text(resp)


def hidden_of(b, problem, action="assign") -> dict:
    return form_values(page_of(b, problem), f"/cases/{problem.id}/{action}")


def assign_data(b, problem, town="潘安湖街道", **kw) -> dict:
    return {**hidden_of(b, problem), **triage_fields(), "lead": str(f.unit(town).id), **kw}


# ---------------------------------------------------------------- the page


def test_triage_page_shows_the_problem_masked_and_only_allowed_actions(app, gl, login_as):
    p = f.register(phone="13812345678")
    page = page_of(gl, p)
    assert p.number in page and p.title in page
    assert "138****5678" in page and "13812345678" not in page  # the group lead sees it masked
    for section in ("assign", "transfer", "list", "resolve", "merge", "not_accept"):
        assert f'id="act-{section}"' in page
    assert 'id="act-departments"' not in page  # the office's action, not the group's
    # The deadline is computed and shown before anything is chosen (quick: 15 working days).
    assert "2026年3月23日" in page and "剩余 15 个工作日" in page
    # The office sees the number masked as well (full only by the audited reveal), may assign
    # departments, and has no list of its own.
    office_page = text(login_as("office").get(f"/cases/{p.id}/triage"))
    assert "138****5678" in office_page and "13812345678" not in office_page
    assert 'id="act-departments"' in office_page and 'id="act-list"' not in office_page


def test_deadline_preview_recomputes_from_tier_and_workdays(app, gl):
    hx = {"HX-Request": "true"}
    quick = text(gl.get("/triage/deadline?tier=quick", headers=hx))
    assert "2026年3月23日" in quick and "<html" not in quick
    assert "2026年3月5日" in text(gl.get("/triage/deadline?tier=immediate", headers=hx))
    # 难事联办: the working days asked for, at most the office's maximum (60 by default).
    assert "2026年3月9日" in text(gl.get("/triage/deadline?tier=joint&workdays=5", headers=hx))
    capped = text(gl.get("/triage/deadline?tier=joint&workdays=999", headers=hx))
    assert "60 个工作日" in capped


def test_the_page_says_nothing_to_do_once_assigned(app, gl):
    p = f.assigned_to_town()
    page = page_of(gl, p)
    assert "没有需要您研判或交办的事项" in page
    assert f'action="/cases/{p.id}/assign"' not in page


# ---------------------------------------------------------------- assign by sheet


def test_group_lead_assigns_to_the_town_by_sheet(app, gl):
    p = f.register()
    data = assign_data(gl, p, cooperating=[str(f.unit("区民政局").id)], requirements="请7日内反馈。")
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{p.id}")
    assert resp.headers["HX-Trigger"] == "cases-changed"
    p = fresh(p)
    assert p.status == Status.assigned and p.lead_unit.name == "潘安湖街道"
    assert p.deadline == QUICK_DUE and p.sign_for_deadline == SIGN_FOR_DUE
    assert (p.kind.value, p.level.value, p.tier) == ("individual", "town", Tier.quick)
    sheet = p.current_assignment
    assert sheet.channel == Channel.sheet and sheet.number == "贾走访交〔2026〕0001号"
    assert sheet.requirements == "请7日内反馈。"
    assert [(u.unit.name, u.role.value) for u in sheet.units] == [("潘安湖街道", "lead"), ("区民政局", "cooperating")]
    message = flashes(gl.get(resp.headers["Location"]))
    assert any("贾走访交〔2026〕0001号" in m and "2026-03-23" in m for m in message)
    assert count(AuditEvent, AuditEvent.event == "problem.assign_sheet") == 1
    # Sent twice (double click, or the browser resends): one sheet, no error.
    again = gl.post(f"/cases/{p.id}/assign", data=data)
    assert again.status_code == 302
    assert count(Assignment, Assignment.problem_id == p.id) == 1


def test_assign_with_joint_tier_takes_the_working_days(app, gl):
    p = f.register()
    resp = gl.post(f"/cases/{p.id}/assign", data=assign_data(gl, p, tier="joint", workdays="5"))
    assert resp.status_code == 302
    assert fresh(p).deadline == date(2026, 3, 9) and p.tier == Tier.joint


def test_assign_errors_rerender_the_page_with_input_and_messages(app, gl):
    p = f.register()
    data = assign_data(gl, p, tier="joint", workdays="61", requirements="保留我写的要求", lead="")
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    page = text(resp)
    assert resp.status_code == 200
    assert "难事联办时限最长 60 个工作日" in page and "请选择牵头的镇（街道、功能区）。" in page
    assert "保留我写的要求" in page
    assert fresh(p).status == Status.registered and count(Assignment) == 0
    # Lead and cooperating the same unit: the operation's rule, shown on the page.
    town = str(f.unit("潘安湖街道").id)
    resp = gl.post(f"/cases/{p.id}/assign", data=assign_data(gl, p, cooperating=[town]))
    assert resp.status_code == 200 and "牵头单位不能同时是配合单位" in text(resp)
    assert count(Assignment) == 0


def test_stale_version_is_refused_with_409_and_the_form_kept(app, gl, login_as):
    p = f.register()
    data = assign_data(gl, p, requirements="我的交办要求")
    # Meanwhile it goes onto the list and off again: still waiting for triage, one version later.
    ops.add_to_list(p, f.user("grouplead"), triage=f.QUICK)
    ops.remove_from_list(p, f.user("grouplead"))
    db.session.commit()
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    page = text(resp)
    assert resp.status_code == 409
    assert str(ops.STALE) in page
    assert "我的交办要求</textarea>" in page  # the form, with what they typed
    assert form_values(page, f"/cases/{p.id}/assign")["version"] == str(fresh(p).version)
    assert count(Assignment) == 0
    # Sent again after seeing the current state: it goes through.
    again = {**data, "version": str(p.version)}
    assert gl.post(f"/cases/{p.id}/assign", data=again).status_code == 302


def test_assigned_meanwhile_is_409_and_the_typed_text_is_not_lost(app, gl, login_as):
    p = f.register()
    data = assign_data(gl, p, requirements="我的交办要求")
    office = login_as("office")
    assert office.post(f"/cases/{p.id}/assign", data=assign_data(office, p, town="青山泉镇")).status_code == 302
    resp = gl.post(f"/cases/{p.id}/assign", data=data)
    page = text(resp)
    assert resp.status_code == 409
    assert str(ops.STALE) in page and "您刚才填写的内容（未保存）" in page and "我的交办要求" in page
    p = fresh(p)
    assert p.lead_unit.name == "青山泉镇" and count(Assignment, Assignment.problem_id == p.id) == 1


# ---------------------------------------------------------------- the other actions


def test_transfer_to_the_12345_desk(app, gl, login_as):
    p = f.register()
    data = {**form_values(page_of(gl, p), f"/cases/{p.id}/assign"), **triage_fields(),
            "desk_requirements": "请回访群众。"}
    resp = gl.post(f"/cases/{p.id}/transfer", data=data)
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.assigned and p.lead_unit.name == "区12345平台大走访专席"
    assert p.current_assignment.channel == Channel.desk
    assert p.current_assignment.number == "贾走访转〔2026〕0001号"
    assert p.current_assignment.requirements == "请回访群众。"
    assert login_as("desk").get(f"/cases/{p.id}").status_code == 200


def test_merge_requires_a_reason_and_an_existing_number(app, gl):
    target, dup = f.register(), f.register()
    url = f"/cases/{dup.id}/merge"
    hidden = form_values(page_of(gl, dup), url)
    resp = gl.post(url, data={**hidden, "into": target.number, "reason": "  "})
    assert resp.status_code == 200 and "请填写合并原因。" in text(resp)
    resp = gl.post(url, data={**hidden, "into": "贾走访〔2026〕99999号", "reason": "重复"})
    assert resp.status_code == 200 and "找不到编号为“贾走访〔2026〕99999号”的问题" in text(resp)
    assert fresh(dup).status == Status.registered
    # By the short sequence number of the same year.
    resp = gl.post(url, data={**hidden, "into": str(target.seq), "reason": "同一户反映的同一问题"})
    assert resp.status_code == 302
    dup = fresh(dup)
    assert dup.status == Status.merged and dup.merged_into_id == target.id
    assert dup.end_reason == "同一户反映的同一问题"


def test_not_accept_requires_a_reason_and_a_repeat_is_harmless(app, gl):
    p = f.register()
    url = f"/cases/{p.id}/not-accept"
    hidden = form_values(page_of(gl, p), url)
    resp = gl.post(url, data={**hidden, "reason": ""})
    assert resp.status_code == 200 and "请填写不予受理的理由" in text(resp)
    assert fresh(p).status == Status.registered
    data = {**hidden, "reason": "属于司法程序，已告知群众依法申诉。"}
    assert gl.post(url, data=data).status_code == 302
    p = fresh(p)
    assert p.status == Status.not_accepted and p.end_reason == "属于司法程序，已告知群众依法申诉。"
    repeat = gl.post(url, data=data)  # the same form sent again
    assert repeat.status_code == 302
    assert any("未再次处理" in m for m in flashes(gl.get(repeat.headers["Location"])))
    assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "not_accept") == 1


def test_resolve_on_the_spot_requires_evidence(app, gl):
    p = f.register()
    url = f"/cases/{p.id}/resolve"
    base = {**form_values(page_of(gl, p), f"/cases/{p.id}/assign"), **triage_fields(tier="immediate"),
            "result": "已当场协调电工修复路灯。"}
    resp = gl.post(url, data=base, content_type="multipart/form-data")
    assert resp.status_code == 200 and "请至少上传一份证明材料" in text(resp)
    resp = gl.post(url, data={**base, "evidence": (io.BytesIO(b"just text, not a photo"), "photo.jpg")},
                   content_type="multipart/form-data")
    assert resp.status_code == 200 and "不是 JPG、PNG 图片或 PDF 文件" in text(resp)
    assert fresh(p).status == Status.registered and count(Attachment) == 0
    resp = gl.post(url, data={**base, "evidence": (io.BytesIO(png_bytes()), "修好的路灯.png")},
                   content_type="multipart/form-data")
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.pending_verification and p.tier == Tier.immediate
    (att,) = db.session.scalars(select(Attachment).where(Attachment.problem_id == p.id)).all()
    assert att.kind == AttachmentKind.evidence and att.filename == "修好的路灯.png" and att.mime == "image/png"
    assert uploads.path_of(att.stored_name).read_bytes() == png_bytes()


def test_returned_problem_shows_the_units_reason(app, gl):
    p = f.assigned_to_town()
    ops.return_problem(p, f.user("town"), reason="该路段属于青山泉镇管辖，请改交青山泉镇。")
    db.session.commit()
    page = page_of(gl, p)
    assert "承办单位已退回" in page and "该路段属于青山泉镇管辖，请改交青山泉镇。" in page
    queue = text(gl.get("/triage"))
    assert "潘安湖街道退回：" in queue and "该路段属于青山泉镇管辖" in queue
    # Re-triaged to the right town.
    resp = gl.post(f"/cases/{p.id}/assign", data=assign_data(gl, p, town="青山泉镇"))
    assert resp.status_code == 302 and fresh(p).lead_unit.name == "青山泉镇"


# ---------------------------------------------------------------- who may


def test_a_town_user_cannot_triage(app, login_as, monday):
    p = f.register()
    town = login_as("town")
    assert town.get(f"/cases/{p.id}/triage").status_code == 403
    data = {"version": str(p.version), **triage_fields(), "lead": str(f.unit("潘安湖街道").id)}
    for action in ("assign", "transfer", "list", "resolve", "merge", "not-accept"):
        assert town.post(f"/cases/{p.id}/{action}", data=data).status_code == 403
    assert fresh(p).status == Status.registered


def test_another_groups_problem_is_not_found_for_the_group_lead(app, gl):
    other_group_cadre()
    p = f.register(username="cadre_qsq", village="房上村")
    assert gl.get(f"/cases/{p.id}/triage").status_code == 404
    resp = gl.post(f"/cases/{p.id}/not-accept", data={"version": str(p.version), "reason": "x"})
    assert resp.status_code == 404
    assert p.number not in text(gl.get("/triage"))
    assert fresh(p).status == Status.registered


# ---------------------------------------------------------------- the queue and batches


def batch_data(b, problems, **kw) -> dict:
    page = text(b.get("/triage"))
    hidden = form_values(page, "/triage/batch?page=1")
    versions = {k: v for k, v in hidden.items() if k.startswith("v")}
    return {"token": hidden["token"], **versions, **triage_fields(category=""),
            "ids": [str(p.id) for p in problems], **kw}


def test_queue_lists_the_groups_new_and_returned_problems(app, gl):
    new = f.register()
    assigned = f.assigned_to_town()
    page = text(gl.get("/triage"))
    assert new.number in page and assigned.number not in page
    assert "共 1 个待研判问题" in page


def test_batch_assigns_several_problems_in_one_go(app, gl):
    a, b, c = f.register(), f.register(), f.register()
    data = batch_data(gl, [a, c], action="assign", lead=str(f.unit("潘安湖街道").id))
    resp = gl.post("/triage/batch?page=1", data=data)
    assert resp.status_code == 302
    assert [fresh(x).status for x in (a, b, c)] == [Status.assigned, Status.registered, Status.assigned]
    assert {fresh(a).current_assignment.number, fresh(c).current_assignment.number} == {
        "贾走访交〔2026〕0001号", "贾走访交〔2026〕0002号"}
    assert fresh(a).deadline == QUICK_DUE
    # The same batch sent again: nothing new.
    assert gl.post("/triage/batch?page=1", data=data).status_code == 302
    assert count(Assignment) == 2


def test_batch_with_one_stale_problem_applies_nothing(app, gl, login_as):
    a, b, c = f.register(), f.register(), f.register()
    data = batch_data(gl, [a, b, c], action="assign", lead=str(f.unit("潘安湖街道").id))
    # Meanwhile the office decides b.
    office = login_as("office")
    url = f"/cases/{b.id}/not-accept"
    office.post(url, data={**form_values(text(office.get(f"/cases/{b.id}/triage")), url), "reason": "重复反映"})
    assert fresh(b).status == Status.not_accepted
    resp = gl.post("/triage/batch?page=1", data=data)
    page = text(resp)
    assert resp.status_code == 409
    assert f"问题 {b.number} 未能处理" in page and str(ops.STALE) in page and "均未处理" in page
    assert [fresh(x).status for x in (a, c)] == [Status.registered, Status.registered]
    assert count(Assignment) == 0
    # The selection is kept for another try.
    assert f'id="pick-{a.id}" name="ids" value="{a.id}" checked' in page


def test_batch_transfer_and_list(app, gl):
    a, b, c = f.register(), f.register(), f.register()
    assert gl.post("/triage/batch?page=1", data=batch_data(gl, [a], action="transfer")).status_code == 302
    assert fresh(a).current_assignment.channel == Channel.desk
    data = batch_data(gl, [b, c], action="list", kind="common", level="district")
    assert gl.post("/triage/batch?page=1", data=data).status_code == 302
    b, c = fresh(b), fresh(c)
    assert b.status == c.status == Status.listed and b.coordinated_list_id == c.coordinated_list_id
    assert b.kind.value == "common" and b.level.value == "district"


def test_batch_needs_a_selection_and_a_town(app, gl):
    a = f.register()
    resp = gl.post("/triage/batch?page=1", data=batch_data(gl, [], action="assign",
                                                             lead=str(f.unit("潘安湖街道").id)))
    assert resp.status_code == 200 and "请至少勾选一个问题。" in text(resp)
    resp = gl.post("/triage/batch?page=1", data=batch_data(gl, [a], action="assign", lead=""))
    assert resp.status_code == 200 and "批量交办请选择牵头的镇（街道、功能区）。" in text(resp)
    assert fresh(a).status == Status.registered


def test_batch_refuses_problems_outside_the_scope(app, gl):
    other_group_cadre()
    mine = f.register()
    theirs = f.register(username="cadre_qsq", village="房上村")
    data = batch_data(gl, [mine], action="transfer")
    data["ids"] = [str(mine.id), str(theirs.id)]
    data[f"v{theirs.id}"] = str(theirs.version)
    resp = gl.post("/triage/batch?page=1", data=data)
    assert "全部未处理" in text(resp)
    assert fresh(mine).status == Status.registered and fresh(theirs).status == Status.registered


def test_queue_is_paginated(app, gl):
    problems = [f.register() for _ in range(26)]
    first, second = text(gl.get("/triage")), text(gl.get("/triage?page=2"))
    assert "共 26 个待研判问题" in first and "第 1 / 2 页" in first
    assert problems[0].number in first and problems[25].number not in first
    assert problems[25].number in second


def test_every_id_on_the_triage_page_is_unique_and_each_label_names_its_box(app, gl):
    import re
    from collections import Counter

    p = f.register()
    html = page_of(gl, p)
    ids = Counter(re.findall(r'\sid="([^"]+)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    for label in ("合并原因", "不予受理的理由"):
        m = re.search(r'<label for="([^"]+)"[^>]*>' + label, html)
        assert m, label
        box = re.search(r'<textarea[^>]*id="' + re.escape(m.group(1)) + r'"[^>]*>', html)
        assert box and 'name="reason"' in box.group(0), label
    assert re.search(r'<label for="([^"]+)"[^>]*>合并原因', html).group(1) != \
        re.search(r'<label for="([^"]+)"[^>]*>不予受理的理由', html).group(1)
