"""报送进展, 内部备注, 配合单位反馈 and 延期 through the pages, as the people who use them."""

import io
import re
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import count, flashes, form_values, fresh, png_bytes, text
from tests.handling import factories as hf
from webapp.cases import operations as ops
from webapp.cases.models import AssignmentUnit, Attachment, AttachmentKind, PartStatus, ProblemEvent
from webapp.cases.workflow import Status
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.handling.models import Extension, RequestStatus

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
      b"trailer<</Root 1 0 R>>\n%%EOF\n"
# A problem assigned on Monday 2 March 2026 (实事快办, 15 working days) is due Monday 23 March;
# an extension may be asked for until Friday 20 March (one working day before).
DUE = date(2026, 3, 23)
LAST_REQUEST = date(2026, 3, 20)
SAT = "2026-03-21 02:00Z"  # Saturday, after the last day


def events(problem, action):
    db.session.rollback()
    return db.session.scalars(select(ProblemEvent).where(
        ProblemEvent.problem_id == problem.id, ProblemEvent.action == action).order_by(ProblemEvent.id)).all()


def audits(action):
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == action)).all()


def upload_files():
    import os
    from pathlib import Path

    from flask import current_app

    root = Path(current_app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".thumb.jpg")) if os.path.isdir(root) else []


def input_tag(page: str, name: str) -> str:
    m = re.search(r'<input[^>]*name="' + re.escape(name) + r'"[^>]*>', page)
    assert m, f"no input {name}"
    return m.group(0)


def checkbox(page: str, name: str) -> bool:
    return " checked" in input_tag(page, name)


@pytest.fixture
def monday():
    with time_machine.travel(MON, tick=False):
        yield


# ---------------------------------------------------------------- 报送进展


def test_progress_public_and_internal_with_files(login_as, monday):
    p = hf.in_progress()
    b = login_as("town")
    page = b.get(f"/cases/{p.id}/progress")
    assert page.status_code == 200
    assert checkbox(text(page), "is_public") is False

    resp = b.post(f"/cases/{p.id}/progress", {"text": "已入户核实，路灯本周更换。", "is_public": "y",
                                              "files": [(io.BytesIO(png_bytes()), "现场.png")]},
                  content_type="multipart/form-data")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/cases/{p.id}")
    resp = b.post(f"/cases/{p.id}/progress", {"text": "需与供电所协调，内部掌握。",
                                              "files": [(io.BytesIO(PDF), "协调函.pdf")]},
                  content_type="multipart/form-data")
    assert resp.status_code == 302

    public, internal = events(p, "progress")
    assert (public.note, public.is_public) == ("已入户核实，路灯本周更换。", True)
    assert (internal.note, internal.is_public) == ("需与供电所协调，内部掌握。", False)
    assert public.user_id == f.user("town").id and public.unit_id == f.unit("潘安湖街道").id
    assert public.from_status == public.to_status == Status.in_progress
    atts = db.session.scalars(select(Attachment).where(Attachment.problem_id == p.id)
                              .order_by(Attachment.id)).all()
    assert [(a.filename, a.kind, a.event_id, a.mime) for a in atts] == [
        ("现场.png", AttachmentKind.progress, public.id, "image/png"),
        ("协调函.pdf", AttachmentKind.progress, internal.id, "application/pdf")]
    assert len(upload_files()) == 2
    assert len(audits("problem.progress")) == 2
    assert fresh(p).status == Status.in_progress

    # The problem page shows both in the panel, marked, with their files to open.
    detail = text(b.get(f"/cases/{p.id}"))
    panel = detail[detail.index('id="progress-panel"'):]
    assert "已入户核实" in panel and "可告知群众" in panel and "仅内部" in panel
    assert f"/attachments/{atts[0].id}" in panel or "现场.png" in panel
    # The timeline shows each file beside its own entry, and the public one marked; the
    # registration's photo list does not take them in.
    timeline = detail[detail.index('id="h-timeline"'):]
    timeline = timeline[:timeline.index("</ol>")]
    entries = {}
    for li in re.split(r'<li>\s*<div class="tl-head">', timeline)[1:]:
        files = re.findall(r'class="plain-list attachments tl-files">(.*?)</ul>', li, re.S)
        if files:
            note = re.search(r'class="prewrap tl-note">([^<]*)', li).group(1).strip()
            entries[note] = (re.findall(r">([^<>]+\.(?:png|pdf))</a>", files[0]), "群众可见" in li)
    assert entries == {"已入户核实，路灯本周更换。": (["现场.png"], True),
                       "需与供电所协调，内部掌握。": (["协调函.pdf"], False)}
    problem_card = detail[detail.index('id="h-problem"'):detail.index('id="h-resident"')]
    assert "现场.png" not in problem_card and "协调函.pdf" not in problem_card
    # The leader, who sees everything, reads the same; the file opens for whoever sees the problem.
    assert "协调函.pdf" in text(login_as("leader").get(f"/cases/{p.id}"))


def test_progress_refused_file_keeps_the_text(login_as, monday):
    p = hf.in_progress()
    b = login_as("town")
    resp = b.post(f"/cases/{p.id}/progress", {"text": "已完成第一步入户核实。", "is_public": "y",
                                              "files": [(io.BytesIO(b"just some text"), "说明.txt")]},
                  content_type="multipart/form-data")
    page = text(resp)
    assert resp.status_code == 200
    assert "已完成第一步入户核实。" in page  # the text is kept
    assert "说明.txt" in page and "JPG" in page  # the file's refusal, at the field
    assert checkbox(page, "is_public") is True  # the tick is kept too
    assert events(p, "progress") == [] and count(Attachment, Attachment.problem_id == p.id) == 0
    assert upload_files() == []
    # An empty text is refused at the field.
    resp = b.post(f"/cases/{p.id}/progress", {"text": "  "})
    assert resp.status_code == 200 and "请填写进展情况。" in text(resp)
    assert events(p, "progress") == []


def test_progress_only_by_the_lead_unit_while_working(login_as, monday):
    p = hf.in_progress(cooperating=("区民政局",))
    ops.sign_for(p, f.user("dept"))
    db.session.commit()
    # The unit leader may report too; a cooperating unit gives feedback instead (403).
    assert login_as("townlead").post(f"/cases/{p.id}/progress", {"text": "领导督办中"}).status_code == 302
    dept = login_as("dept")
    assert dept.get(f"/cases/{p.id}/progress").status_code == 403
    resp = dept.post(f"/cases/{p.id}/progress", {"text": "配合单位不能报送进展"})
    assert resp.status_code == 403 and "配合单位不能报送进展" in text(resp)  # shown as not saved
    # Signed off: the problem has moved on (409), the text is kept.
    done = hf.signed_off()
    resp = login_as("town").post(f"/cases/{done.id}/progress", {"text": "补充说明"})
    assert resp.status_code == 409 and "补充说明" in text(resp)
    assert len(events(p, "progress")) == 1 and events(done, "progress") == []


# ---------------------------------------------------------------- 内部备注


def test_notes_by_cadre_and_grouplead_never_public(login_as, monday):
    p = hf.in_progress()
    for username, words in (("cadre", "群众又来电催问。"), ("grouplead", "已向街道了解情况。"), ("town", "内部：经费待批")):
        b = login_as(username)
        assert b.get(f"/cases/{p.id}/note").status_code == 200
        resp = b.post(f"/cases/{p.id}/note", {"text": words})
        assert resp.status_code == 302, username
        assert "已添加内部备注。" in flashes(b.get(resp.headers["Location"]))
    notes = events(p, "note")
    assert [(e.note, e.user.username, e.is_public) for e in notes] == [
        ("群众又来电催问。", "cadre", False), ("已向街道了解情况。", "grouplead", False), ("内部：经费待批", "town", False)]
    assert len(audits("problem.note")) == 3
    # Empty: the field's message.
    resp = login_as("cadre").post(f"/cases/{p.id}/note", {"text": ""})
    assert resp.status_code == 200 and "请填写备注内容。" in text(resp)


def test_the_leader_cannot_write_notes(login_as, monday):
    p = hf.in_progress()
    b = login_as("leader")
    assert b.get(f"/cases/{p.id}/note").status_code == 403
    assert b.post(f"/cases/{p.id}/note", {"text": "领导批示"}).status_code == 403
    assert events(p, "note") == []


def test_note_outside_scope_is_404(login_as, monday):
    p = hf.in_progress()
    assert login_as("dept").get(f"/cases/{p.id}/note").status_code == 404
    assert login_as("dept").post(f"/cases/{p.id}/note", {"text": "x"}).status_code == 404


# ---------------------------------------------------------------- 配合单位反馈


def test_cooperating_unit_feedback_done(login_as, monday):
    p = hf.in_progress(cooperating=("区民政局",))
    dept = login_as("dept")
    # Not signed for its part yet: it may not report on it.
    assert dept.get(f"/cases/{p.id}/part-feedback").status_code == 403
    ops.sign_for(p, f.user("dept"))
    db.session.commit()
    page = dept.get(f"/cases/{p.id}/part-feedback")
    assert page.status_code == 200 and "本单位配合任务已完成" in text(page) and "区民政局" in text(page)
    # Without text: refused at the field, the tick kept.
    resp = dept.post(f"/cases/{p.id}/part-feedback", {"text": "", "done": "y"})
    assert resp.status_code == 200 and "请填写配合办理情况。" in text(resp)
    resp = dept.post(f"/cases/{p.id}/part-feedback", {"text": "低保资格已复核，符合条件。",
                                                      "files": [(io.BytesIO(png_bytes()), "复核表.png")]},
                     content_type="multipart/form-data")
    assert resp.status_code == 302
    part = db.session.scalar(select(AssignmentUnit).where(AssignmentUnit.problem_id == p.id,
                                                          AssignmentUnit.unit_id == f.unit("区民政局").id))
    assert part.status == PartStatus.accepted and part.feedback == "低保资格已复核，符合条件。"
    resp = dept.post(f"/cases/{p.id}/part-feedback", {"text": "救助金已发放到位。", "done": "y"})
    assert resp.status_code == 302
    assert "已报告本单位配合任务完成。" in flashes(dept.get(resp.headers["Location"]))
    part = fresh(part)
    assert part.status == PartStatus.done and part.feedback == "救助金已发放到位。"
    assert part.feedback_by_id == f.user("dept").id and part.feedback_at is not None
    fb = events(p, "part_feedback")
    assert [e.note for e in fb] == ["低保资格已复核，符合条件。", "救助金已发放到位。"]
    assert fb[1].unit_id == f.unit("区民政局").id and not fb[1].is_public
    att = db.session.scalar(select(Attachment).where(Attachment.problem_id == p.id))
    assert (att.event_id, att.kind) == (fb[0].id, AttachmentKind.progress)

    # The lead unit sees the part done with the latest feedback on the problem page.
    detail = text(login_as("town").get(f"/cases/{p.id}"))
    panel = detail[detail.index('id="progress-panel"'):]
    assert "区民政局" in panel and "已反馈完成" in panel and "救助金已发放到位。" in panel
    # It cannot report for the cooperating unit (403); done twice is refused (409), the text kept.
    assert login_as("town").get(f"/cases/{p.id}/part-feedback").status_code == 403
    resp = dept.post(f"/cases/{p.id}/part-feedback", {"text": "再次报告完成", "done": "y"})
    assert resp.status_code == 409 and "已经报告完成" in text(resp) and "再次报告完成" in text(resp)
    # More feedback without the tick is still welcome.
    assert dept.post(f"/cases/{p.id}/part-feedback", {"text": "补充：已回访。"}).status_code == 302
    assert fresh(part).status == PartStatus.done


# ---------------------------------------------------------------- 申请延期 and its decision


def extension_data(b, p, **kw) -> dict:
    page = text(b.get(f"/cases/{p.id}/extension"))
    return {**form_values(page, f"/cases/{p.id}/extension"), "new_deadline": "2026-04-10", "reason": "需等待区财政拨付维修资金。",
            "progress": "已完成现场勘查和预算编制。", **kw}


def decision_values(b, p) -> dict:
    return form_values(text(b.get(f"/cases/{p.id}/extension/decision")), f"/cases/{p.id}/extension/decision")


def test_extension_page_shows_deadline_and_last_day(login_as, monday):
    p = hf.in_progress()
    assert fresh(p).deadline == DUE
    page = text(login_as("town").get(f"/cases/{p.id}/extension"))
    assert DUE.isoformat() in page and LAST_REQUEST.isoformat() in page
    assert 'name="new_deadline"' in page


def test_extension_requested_and_approved_by_grouplead(login_as, monday):
    p = hf.in_progress()
    town = login_as("town")
    resp = town.post(f"/cases/{p.id}/extension", extension_data(town, p))
    assert resp.status_code == 302
    ext = db.session.scalar(select(Extension).where(Extension.problem_id == p.id))
    assert (ext.status, ext.old_deadline, ext.new_deadline) == (RequestStatus.pending, DUE, date(2026, 4, 10))
    assert ext.requested_by_id == f.user("town").id and ext.progress == "已完成现场勘查和预算编制。"
    assert fresh(p).deadline == DUE  # unchanged until decided
    assert [e.note for e in events(p, "request_extension")] == ["需等待区财政拨付维修资金。"]

    gl = login_as("grouplead")
    detail = text(gl.get(f"/cases/{p.id}"))
    assert "等待审批" in detail and "/extension/decision" in detail
    page = gl.get(f"/cases/{p.id}/extension/decision?action=decide_extension")
    assert page.status_code == 200
    body = text(page)
    for shown in ("2026-04-10", DUE.isoformat(), "需等待区财政拨付维修资金。", "已完成现场勘查和预算编制。",
                  f.user("town").full_name):
        assert shown in body
    resp = gl.post(f"/cases/{p.id}/extension/decision", {**form_values(body, f"/cases/{p.id}/extension/decision"), "decision": "approve"})
    assert resp.status_code == 302
    assert "已同意延期，办理时限改为 2026-04-10。" in flashes(gl.get(resp.headers["Location"]))
    assert fresh(p).deadline == date(2026, 4, 10) and p.status == Status.in_progress
    ext = fresh(ext)
    assert ext.status == RequestStatus.approved and ext.decided_by_id == f.user("grouplead").id
    (approved,) = events(p, "approve_extension")
    assert not approved.is_public and approved.user_id == f.user("grouplead").id
    assert len(audits("problem.approve_extension")) == 1
    # The panel keeps the history; the decision page has nothing left to decide.
    assert "已批准" in text(town.get(f"/cases/{p.id}"))
    assert "没有待审批的延期申请" in text(gl.get(f"/cases/{p.id}/extension/decision"))


def test_extension_too_late_is_refused_and_input_kept(login_as):
    with time_machine.travel(MON, tick=False):
        p = hf.in_progress()
    with time_machine.travel(SAT, tick=False):
        town = login_as("town")
        page = text(town.get(f"/cases/{p.id}/extension"))
        assert "现已不能申请" in page and 'name="new_deadline"' not in page
        data = {"version": str(fresh(p).version), "new_deadline": "2026-04-10", "reason": "资金未到位，无法施工。",
                "progress": "已完成招标。"}
        resp = town.post(f"/cases/{p.id}/extension", data)
        body = text(resp)
        assert resp.status_code == 200
        assert "延期须在时限前申请（最迟 2026-03-20），现已不能申请。" in body
        assert "资金未到位，无法施工。" in body and "已完成招标。" in body and 'value="2026-04-10"' in body
    assert count(Extension, Extension.problem_id == p.id) == 0


def test_extension_new_date_must_be_later(login_as, monday):
    p = hf.in_progress()
    town = login_as("town")
    resp = town.post(f"/cases/{p.id}/extension", extension_data(town, p, new_deadline=DUE.isoformat()))
    body = text(resp)
    assert resp.status_code == 200
    assert "新的时限必须晚于当前时限 2026-03-23。" in body and "需等待区财政拨付维修资金。" in body
    assert 'aria-invalid="true"' in input_tag(body, "new_deadline")
    # Missing reason and progress: each at its field.
    resp = town.post(f"/cases/{p.id}/extension", extension_data(town, p, reason="", progress=""))
    assert resp.status_code == 200 and "请填写延期原因。" in text(resp) and "请说明目前的办理进展。" in text(resp)
    assert count(Extension, Extension.problem_id == p.id) == 0


def test_second_request_while_one_is_pending(login_as, monday):
    p = hf.in_progress()
    town = login_as("town")
    first = extension_data(town, p)
    assert town.post(f"/cases/{p.id}/extension", first).status_code == 302
    # The same form sent twice (a double tap): done once, said so.
    resp = town.post(f"/cases/{p.id}/extension", first)
    assert resp.status_code == 302
    assert "延期申请已经提交，未重复提交。" in flashes(town.get(resp.headers["Location"]))
    # The page now shows the waiting request instead of the form.
    page = text(town.get(f"/cases/{p.id}/extension"))
    assert "已有一份延期申请在等待审批" in page and 'name="new_deadline"' not in page
    # Another request on the current version: refused (409), what was typed is shown.
    resp = town.post(f"/cases/{p.id}/extension", {"version": str(fresh(p).version), "new_deadline": "2026-05-01",
                                                  "reason": "再申请一次", "progress": "同上"})
    assert resp.status_code == 409 and "已有一份延期申请在等待审批。" in text(resp) and "再申请一次" in text(resp)
    assert count(Extension, Extension.problem_id == p.id) == 1


def test_reject_needs_a_reason(login_as, monday):
    p = hf.in_progress()
    town = login_as("town")
    town.post(f"/cases/{p.id}/extension", extension_data(town, p))
    gl = login_as("grouplead")
    hidden = decision_values(gl, p)
    resp = gl.post(f"/cases/{p.id}/extension/decision", {**hidden, "decision": "reject", "note": " "})
    assert resp.status_code == 200 and "驳回延期申请请说明理由。" in text(resp)
    ext = db.session.scalar(select(Extension).where(Extension.problem_id == p.id))
    assert ext.status == RequestStatus.pending
    resp = gl.post(f"/cases/{p.id}/extension/decision", {**hidden, "decision": "reject", "note": "工期可以压缩，请按时办结。"})
    assert resp.status_code == 302
    ext = fresh(ext)
    assert ext.status == RequestStatus.rejected and ext.decision_note == "工期可以压缩，请按时办结。"
    assert fresh(p).deadline == DUE
    (rejected,) = events(p, "reject_extension")
    assert not rejected.is_public and rejected.note == "工期可以压缩，请按时办结。"
    panel = text(town.get(f"/cases/{p.id}"))
    assert "已驳回" in panel and "工期可以压缩" in panel
    # Rejected: the unit may ask again.
    assert 'name="new_deadline"' in text(town.get(f"/cases/{p.id}/extension"))


def test_office_may_decide_a_groups_extension(login_as, monday):
    """The table: decide_extension is for the assigner *or the office* (Rel.office in ASSIGNER)."""
    p = hf.in_progress()
    town = login_as("town")
    town.post(f"/cases/{p.id}/extension", extension_data(town, p))
    office = login_as("office")
    hidden = decision_values(office, p)
    assert office.post(f"/cases/{p.id}/extension/decision", {**hidden, "decision": "approve"}).status_code == 302
    assert fresh(p).deadline == date(2026, 4, 10)
    assert db.session.scalar(select(Extension.decided_by_id)) == f.user("office").id


def test_grouplead_cannot_decide_what_the_office_assigned(login_as, monday):
    p = hf.in_progress(dept=True)
    dept = login_as("dept")
    assert dept.post(f"/cases/{p.id}/extension", extension_data(dept, p)).status_code == 302
    gl = login_as("grouplead")
    assert gl.get(f"/cases/{p.id}").status_code == 200  # the group sees its problem …
    assert gl.get(f"/cases/{p.id}/extension/decision").status_code == 403  # … but did not assign it
    resp = gl.post(f"/cases/{p.id}/extension/decision", {"version": str(fresh(p).version), "decision": "approve"})
    assert resp.status_code == 403
    assert db.session.scalar(select(Extension.status)) == RequestStatus.pending
    # Neither may the unit leader or the leader request one (UNIT_HANDS; role gate).
    assert login_as("deptlead").get(f"/cases/{p.id}/extension").status_code == 403
    assert login_as("leader").get(f"/cases/{p.id}/extension").status_code == 403


def test_stale_decision_is_409_and_keeps_the_note(login_as, monday):
    p = hf.in_progress()
    town = login_as("town")
    town.post(f"/cases/{p.id}/extension", extension_data(town, p))
    gl = login_as("grouplead")
    hidden = decision_values(gl, p)
    office = login_as("office")
    office_hidden = decision_values(office, p)
    assert office.post(f"/cases/{p.id}/extension/decision", {**office_hidden, "decision": "approve"}).status_code == 302
    resp = gl.post(f"/cases/{p.id}/extension/decision", {**hidden, "decision": "reject", "note": "不同意延期"})
    body = text(resp)
    assert resp.status_code == 409 and "不同意延期" in body
    assert "已被他人处理或修改" in body
    assert db.session.scalar(select(Extension.status)) == RequestStatus.approved
    assert fresh(p).deadline == date(2026, 4, 10)


def test_stale_extension_request_is_409(login_as, monday):
    from webapp.handling import operations as handling

    p = hf.in_progress()
    town = login_as("town")
    data = extension_data(town, p)  # the page is open …
    # … while a colleague asks for an extension and the group lead rejects it.
    handling.request_extension(p, f.user("town"), new_deadline=date(2026, 3, 30), reason="另一份申请", progress="无")
    handling.decide_extension(p, f.user("grouplead"), approve=False, note="不同意")
    db.session.commit()
    resp = town.post(f"/cases/{p.id}/extension", data)
    body = text(resp)
    assert resp.status_code == 409 and "已被他人处理或修改" in body
    assert "需等待区财政拨付维修资金。" in body and "另一份申请" in body  # input kept, the history shown
    assert count(Extension, Extension.problem_id == p.id) == 1
    # Having seen the current state, the same form goes through.
    assert town.post(f"/cases/{p.id}/extension", {**data, **form_values(body, f"/cases/{p.id}/extension")}).status_code == 302
    assert count(Extension, Extension.problem_id == p.id, Extension.status == RequestStatus.pending) == 1


# ---------------------------------------------------------------- the panel


def test_panel_absent_when_nothing_to_show(login_as, monday):
    p = hf.in_progress()
    assert 'id="progress-panel"' not in text(login_as("town").get(f"/cases/{p.id}"))


def test_panel_shows_cooperating_parts_to_whoever_sees_the_problem(login_as, monday):
    p = hf.in_progress(cooperating=("区民政局",))
    for username in ("town", "cadre", "grouplead", "office", "leader", "dept"):
        page = text(login_as(username).get(f"/cases/{p.id}"))
        panel = page[page.index('id="progress-panel"'):]
        assert "区民政局" in panel and "待签收" in panel and "尚未反馈" in panel, username
    ops.sign_for(p, f.user("dept"))
    db.session.commit()
    page = text(login_as("dept").get(f"/cases/{p.id}"))
    assert f'href="/cases/{p.id}/part-feedback"' in page


def test_a_double_submitted_progress_report_is_recorded_once(login_as, monday):
    p = hf.in_progress()
    b = login_as("town")
    page = text(b.get(f"/cases/{p.id}/progress"))
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"|name="token" value="([0-9a-f]{32})"',
                      page)
    token = next(g for g in token.groups() if g)
    data = {"text": "已入户核实。", "token": token}
    first = b.post(f"/cases/{p.id}/progress", {**data, "files": [(io.BytesIO(png_bytes()), "现场.png")]},
                   content_type="multipart/form-data")
    again = b.post(f"/cases/{p.id}/progress", {**data, "files": [(io.BytesIO(png_bytes()), "现场.png")]},
                   content_type="multipart/form-data")
    assert first.status_code == again.status_code == 302
    assert len(events(p, "progress")) == 1 and len(upload_files()) == 1
    assert "重复提交" in text(b.get(f"/cases/{p.id}"))
    # A new form draws a new token: a second report of the same words is a report of its own.
    assert token not in text(b.get(f"/cases/{p.id}/progress"))
