"""Closure through HTTP: 申请销号 with evidence, the unit leader's review, 核销 / 退回重办 by whoever
assigned the problem, 暂难解决 and the office's decision, the panel and the printed 销号单."""

import io
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from tests.cases import factories as f
from tests.cases.pages import MON
from tests.cases.triage_pages import count, flashes, form_values, fresh, png_bytes, text
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from webapp.cases import operations as ops
from webapp.cases import uploads
from webapp.cases.deadlines import reply_deadline
from webapp.cases.models import Attachment, AttachmentKind, ProblemEvent
from webapp.cases.workflow import Kind, Level, Status, Tier
from webapp.core import calendar, clock
from webapp.core.audit import AuditEvent
from webapp.core.errors import Conflict
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import CannotSolveReason, Closure, ClosureKind, ClosureStatus, Verdict
from webapp.handling.operations import resolve_on_spot

RESULT = "已更换路灯灯头三处，群众当面确认夜间照明恢复。"


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MON, tick=False):
        yield


def url(p, tail=""):
    return f"/cases/{p.id}/{tail}"


def page(b, path) -> str:
    resp = b.get(path)
    assert resp.status_code == 200, resp.status_code
    return text(resp)


def hidden(b, path) -> dict:
    """The hidden fields (version) of the first form on ``path`` that posts to ``path``."""
    return form_values(page(b, path), path)


def files_on_disk() -> list[Path]:
    root = uploads.upload_dir()
    return [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".thumb.jpg")] if root.exists() else []


def signoff_data(b, p, **kw) -> dict:
    # Steps of the task book left open are explained one by one, as the page asks.
    reasons = {f"step_{k}": v for k, v in hf.open_step_reasons(fresh(p)).items()}
    return {**hidden(b, url(p, "sign-off")), "result": RESULT, "completed_on": clock.today().isoformat(),
            **reasons, **kw}


def post_signoff(b, p, *, files=(), **kw):
    data = signoff_data(b, p, **kw)
    if files:
        data["evidence"] = [(io.BytesIO(content), name) for name, content in files]
    return b.post(url(p, "sign-off"), data=data, content_type="multipart/form-data")


def decide(b, p, tail, action, **kw):
    path = url(p, tail)
    return b.post(path, data={**hidden(b, path), "action": action, **kw})


def closures(p) -> list[Closure]:
    db.session.rollback()
    return db.session.scalars(select(Closure).where(Closure.problem_id == p.id).order_by(Closure.id)).all()


# ---------------------------------------------------------------- 申请销号


def test_signoff_with_a_real_png_goes_to_the_unit_leader(app, login_as):
    p = hf.in_progress()
    town = login_as("town")
    html = page(town, url(p, "sign-off"))
    assert "办理结果" in html and "佐证材料" in html and p.number in html
    resp = post_signoff(town, p, files=[("整改后.png", png_bytes())])
    assert resp.status_code == 302, text(resp)
    p = fresh(p)
    assert p.status == Status.signoff_review
    (c,) = closures(p)
    assert (c.kind, c.status, c.result, c.completed_on) == (
        ClosureKind.signoff, ClosureStatus.leader_review, RESULT, clock.today())
    assert c.unit_id == f.unit("潘安湖街道").id and c.no_evidence_reason is None
    (att,) = db.session.scalars(select(Attachment).where(Attachment.problem_id == p.id)).all()
    assert att.closure_id == c.id and att.kind == AttachmentKind.evidence and att.filename == "整改后.png"
    assert uploads.path_of(att.stored_name).read_bytes() == png_bytes()
    assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "request_signoff") == 1
    assert count(AuditEvent, AuditEvent.event == "problem.request_signoff", AuditEvent.object_id == str(p.id)) == 1
    assert count(AuditEvent, AuditEvent.event == "attachment.add", AuditEvent.object_id == str(att.id)) == 1
    assert any("等待单位领导审核" in m for m in flashes(town.get(resp.headers["Location"])))


def test_signoff_without_evidence_or_reason_keeps_the_input_and_writes_nothing(app, login_as):
    p = hf.in_progress()
    town = login_as("town")
    resp = post_signoff(town, p)
    assert resp.status_code == 200
    html = text(resp)
    assert "请上传至少一份佐证材料，或说明无法提供佐证材料的原因。" in html
    assert RESULT in html  # the typed result is still there
    assert fresh(p).status == Status.in_progress and closures(p) == []
    # A file that is not a photo or PDF (judged by its content): refused, nothing on disk.
    resp = post_signoff(town, p, files=[("photo.jpg", b"just text, not a photo")])
    assert resp.status_code == 200 and "不是 JPG、PNG 图片或 PDF 文件" in text(resp)
    assert closures(p) == [] and files_on_disk() == []
    # A date in the future is the operation's field error.
    tomorrow = calendar.add_workdays(clock.today(), 1).isoformat()
    resp = post_signoff(town, p, completed_on=tomorrow, no_evidence_reason="电话协调解决。")
    assert resp.status_code == 200 and "办结日期不能晚于今天。" in text(resp) and closures(p) == []
    # With a reason why no evidence can exist, the request goes through.
    resp = post_signoff(town, p, no_evidence_reason="电话协调解决，无书面材料。")
    assert resp.status_code == 302
    (c,) = closures(p)
    assert c.no_evidence_reason == "电话协调解决，无书面材料。" and fresh(p).status == Status.signoff_review


def test_open_cooperating_part_needs_a_reason(app, login_as):
    p = hf.in_progress(cooperating=("区民政局",))
    town = login_as("town")
    assert "区民政局" in page(town, url(p, "sign-off"))
    resp = post_signoff(town, p, files=[("a.png", png_bytes())])
    assert resp.status_code == 200
    assert "配合单位（区民政局）尚未反馈完成，请说明原因。" in text(resp)
    assert closures(p) == [] and files_on_disk() == [] and fresh(p).status == Status.in_progress
    resp = post_signoff(town, p, files=[("a.png", png_bytes())], open_parts_reason="区民政局已电话确认完成。")
    assert resp.status_code == 302
    (c,) = closures(p)
    assert c.open_parts_reason == "区民政局已电话确认完成。"


def test_a_failing_transaction_leaves_no_orphan_file(app, login_as, monkeypatch):
    p = hf.in_progress()
    town = login_as("town")
    # Stale: the page was drawn, then the problem changed (an extension granted) before sending.
    data = signoff_data(town, p, evidence=[(io.BytesIO(png_bytes()), "a.png")])
    h.request_extension(fresh(p), f.user("town"), new_deadline=calendar.add_workdays(p.deadline, 5),
                        reason="需要协调资金", progress="已完成勘察")
    h.decide_extension(p, f.user("grouplead"), approve=True)
    db.session.commit()
    resp = town.post(url(p, "sign-off"), data=data, content_type="multipart/form-data")
    assert resp.status_code == 409
    html = text(resp)
    assert "已被他人处理或修改" in html and RESULT in html
    assert closures(p) == [] and files_on_disk() == [] and count(Attachment) == 0
    # A failure after the first file was written (the second cannot be recorded): nothing stays.
    real = ops.add_attachment
    calls = []

    def second_fails(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise Conflict("模拟写入失败")
        return real(*args, **kw)

    monkeypatch.setattr(ops, "add_attachment", second_fails)
    resp = post_signoff(town, p, files=[("a.png", png_bytes()), ("b.png", png_bytes())])
    assert resp.status_code == 409 and "模拟写入失败" in text(resp)
    assert len(calls) == 2
    assert closures(p) == [] and files_on_disk() == [] and count(Attachment) == 0
    assert fresh(p).status == Status.in_progress


def test_town_leader_and_other_units_cannot_request(app, login_as):
    p = hf.in_progress()
    # The unit leader passes the role gate but the workflow leaves the request to the handlers.
    townlead = login_as("townlead")
    assert townlead.get(url(p, "sign-off")).status_code == 403
    resp = townlead.post(url(p, "sign-off"), data={"version": str(p.version), "result": RESULT,
                                                   "no_evidence_reason": "x"})
    assert resp.status_code == 403 and closures(p) == []
    dept = login_as("dept")
    assert dept.get(url(p, "sign-off")).status_code == 404
    assert dept.post(url(p, "sign-off"), data={"version": str(p.version)}).status_code == 404
    assert dept.get(url(p, "cannot-solve")).status_code == 404


# ---------------------------------------------------------------- review, verification, rework


def test_leader_approves_assigner_sends_back_then_verifies(app, login_as):
    p = hf.signoff_review()
    townlead = login_as("townlead")
    html = page(townlead, url(p, "sign-off/review?action=reject_signoff"))
    assert "已维修完毕，群众当面确认。" in html and "现场整改，照片另行存档。" in html
    assert 'id="act-reject_signoff" open' in html and 'id="act-approve_signoff" open' not in html
    resp = decide(townlead, p, "sign-off/review", "approve_signoff", note="情况属实。")
    assert resp.status_code == 302
    assert fresh(p).status == Status.pending_verification
    (first,) = closures(p)
    assert first.status == ClosureStatus.verifying and first.leader_id == f.user("townlead").id
    assert first.leader_note == "情况属实。"

    grouplead = login_as("grouplead")
    html = page(grouplead, url(p, "verification"))
    assert "已维修完毕" in html and "刘志强" in html and "第1步" in html  # the leader and the task book steps
    resp = decide(grouplead, p, "verification", "reject_verification")
    assert resp.status_code == 200 and "请填写退回重办的原因。" in text(resp)
    assert fresh(p).status == Status.pending_verification
    resp = decide(grouplead, p, "verification", "reject_verification", reason="现场核实路灯仍不亮。")
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.in_progress
    (first,) = closures(p)
    assert first.status == ClosureStatus.verification_rejected and first.verifier_note == "现场核实路灯仍不亮。"
    assert first.verifier_unit_id == f.unit("潘安湖街道工作组").id
    ev = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == p.id,
                                                      ProblemEvent.action == "reject_verification"))
    assert ev.note == "现场核实路灯仍不亮。" and ev.to_status == Status.in_progress

    # Again: request, approve, verify → signed off, the resident is owed a reply.
    town = login_as("town")
    assert post_signoff(town, p, files=[("修好后.png", png_bytes())]).status_code == 302
    assert decide(townlead, p, "sign-off/review", "approve_signoff").status_code == 302
    html = page(grouplead, url(p, "verification"))
    assert "此前已退回重办 1 次" in html
    resp = decide(grouplead, p, "verification", "verify", note="经回访核实，问题已解决。")
    assert resp.status_code == 302
    p = fresh(p)
    assert p.status == Status.signed_off and p.solved_at is not None
    assert p.reply_due == reply_deadline(clock.now()) and p.replied_at is None
    first, second = closures(p)
    assert second.status == ClosureStatus.verified and second.verifier_note == "经回访核实，问题已解决。"

    # The problem page's panel: both requests, newest first, evidence linked, the report link.
    html = text(grouplead.get(f"/cases/{p.id}"))
    panel = html[html.index("销号与核销"):]
    assert panel.index("已核销") < panel.index("退回重办")
    (att,) = db.session.scalars(select(Attachment).where(Attachment.closure_id == second.id)).all()
    assert f'href="/attachments/{att.id}"' in panel
    assert f'/cases/{p.id}/closures/{second.id}.pdf' in panel and f"closures/{first.id}.pdf" not in panel


def test_leader_sends_back_and_a_double_submit_does_it_once(app, login_as):
    p = hf.signoff_review()
    townlead = login_as("townlead")
    path = url(p, "sign-off/review")
    data = {**hidden(townlead, path), "action": "reject_signoff", "reason": "佐证材料不足，请补充照片。"}
    assert townlead.post(path, data=data).status_code == 302
    repeat = townlead.post(path, data=data)  # the same form sent again
    assert repeat.status_code == 302
    assert any("未再次处理" in m for m in flashes(townlead.get(repeat.headers["Location"])))
    (c,) = closures(p)
    assert c.status == ClosureStatus.leader_rejected and c.leader_note == "佐证材料不足，请补充照片。"
    assert fresh(p).status == Status.in_progress
    assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "reject_signoff") == 1


def test_stale_verification_is_409_with_the_text_kept(app, login_as):
    p = hf.pending_verification()
    grouplead = login_as("grouplead")
    data = {**hidden(grouplead, url(p, "verification")), "action": "verify", "note": "同意销号，已电话核实。"}
    office = login_as("office")  # the office acts first (it may verify anything)
    assert decide(office, p, "verification", "reject_verification", reason="材料不全").status_code == 302
    resp = grouplead.post(url(p, "verification"), data=data)
    assert resp.status_code == 409
    html = text(resp)
    assert "同意销号，已电话核实。" in html  # shown as unsaved input
    assert fresh(p).status == Status.in_progress


def test_town_cannot_verify_and_other_units_do_not_see_it(app, login_as):
    p = hf.pending_verification()
    town = login_as("town")
    assert town.get(url(p, "verification")).status_code == 403
    assert town.post(url(p, "verification"), data={"version": str(p.version), "action": "verify"}).status_code == 403
    dept = login_as("dept")
    assert dept.get(url(p, "verification")).status_code == 403  # role gate before scope
    deptlead = login_as("deptlead")
    assert deptlead.get(url(p, "sign-off/review")).status_code == 404
    assert fresh(p).status == Status.pending_verification


def test_an_on_the_spot_solution_is_verified_without_a_unit_leader(app, login_as):
    p = f.register()
    lead = f.user("grouplead")
    closure = resolve_on_spot(p, lead, triage=ops.Triage(Kind.individual, Level.town, Tier.immediate),
                                  result="当场联系电工修复。")
    db.session.commit()
    grouplead = login_as("grouplead")
    html = page(grouplead, url(p, "verification"))
    assert "好事即办" in html and "当场联系电工修复。" in html
    resp = decide(grouplead, p, "verification", "verify", note="已核实。")
    assert resp.status_code == 302
    assert fresh(p).status == Status.signed_off
    assert db.session.get(Closure, closure.id).status == ClosureStatus.verified
    pdf = grouplead.client.get(f"/cases/{p.id}/closures/{closure.id}.pdf")
    assert pdf.status_code == 200
    assert_pdf(pdf.data, ["销号单", "当场联系电工修复。", "好事即办", "潘安湖街道工作组"])


# ---------------------------------------------------------------- 暂难解决


def test_cannot_solve_request_then_office_approves_and_a_reply_is_owed(app, login_as):
    p = hf.in_progress()
    town = login_as("town")
    path = url(p, "cannot-solve")
    html = page(town, path)
    assert "政策限制" in html and "资金不足" in html and "涉诉涉法" in html
    resp = town.post(path, data={**hidden(town, path), "explanation": "需纳入明年预算。"})
    assert resp.status_code == 200 and "请选择原因类别。" in text(resp) and "需纳入明年预算。" in text(resp)
    resp = town.post(path, data={**hidden(town, path), "reason_kind": "funds"})
    assert resp.status_code == 200 and "请说明暂难解决的原因和已做的工作。" in text(resp)
    assert closures(p) == []
    resp = town.post(path, data={**hidden(town, path), "reason_kind": "funds", "explanation": "需纳入明年预算。"})
    assert resp.status_code == 302
    assert fresh(p).status == Status.cannot_solve_review
    (c,) = closures(p)
    assert (c.kind, c.status, c.reason_kind) == (ClosureKind.cannot_solve, ClosureStatus.office_review,
                                                 CannotSolveReason.funds)

    assert login_as("grouplead").get(url(p, "cannot-solve/decision")).status_code == 403
    office = login_as("office")
    html = page(office, url(p, "cannot-solve/decision"))
    assert "需纳入明年预算。" in html and "资金不足" in html and "回音" in html
    resp = decide(office, p, "cannot-solve/decision", "approve_cannot_solve", note="同意，做好解释。")
    assert resp.status_code == 302
    assert any("仍须" in m and "回音" in m for m in flashes(office.get(resp.headers["Location"])))
    p = fresh(p)
    assert p.status == Status.cannot_solve and p.reply_due is not None and p.end_reason == "需纳入明年预算。"
    (c,) = closures(p)
    assert c.status == ClosureStatus.approved and c.verifier_unit_id == f.unit("区活动办").id
    pdf = town.client.get(f"/cases/{p.id}/closures/{c.id}.pdf")
    assert pdf.status_code == 200
    assert_pdf(pdf.data, ["暂难解决审批表", "资金不足", "需纳入明年预算。", "区活动办"])


def test_office_rejects_cannot_solve_with_a_reason(app, login_as):
    p = hf.cannot_solve_review()
    office = login_as("office")
    resp = decide(office, p, "cannot-solve/decision", "reject_cannot_solve")
    assert resp.status_code == 200 and "请填写驳回理由。" in text(resp)
    resp = decide(office, p, "cannot-solve/decision", "reject_cannot_solve", reason="可申请临时救助资金。")
    assert resp.status_code == 302
    assert fresh(p).status == Status.in_progress
    (c,) = closures(p)
    assert c.status == ClosureStatus.office_rejected and c.verifier_note == "可申请临时救助资金。"


# ---------------------------------------------------------------- the printed 销号单


def test_the_signoff_report_reads_back(app, login_as):
    p = hf.in_progress()
    town = login_as("town")
    assert post_signoff(town, p, files=[("路灯整改照片.png", png_bytes())]).status_code == 302
    assert decide(login_as("townlead"), p, "sign-off/review", "approve_signoff", note="同意。").status_code == 302
    grouplead = login_as("grouplead")
    assert decide(grouplead, p, "verification", "verify", note="经核实已解决。").status_code == 302
    hf.reply(fresh(p))
    (c,) = closures(p)
    resp = town.client.get(f"/cases/{p.id}/closures/{c.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    report = assert_pdf(resp.data, ["销号单", RESULT, "路灯整改照片.png", "潘安湖街道工作组", "经核实已解决。",
                                    "刘志强", "满意", p.number])
    assert "13812341234" not in report.text and "138****1234" in report.text
    # Not of this problem, or a problem the user does not see: 404.
    other = hf.signoff_review()
    (oc,) = closures(other)
    assert town.get(f"/cases/{p.id}/closures/{oc.id}.pdf").status_code == 404
    assert login_as("dept").get(f"/cases/{p.id}/closures/{c.id}.pdf").status_code == 404
    assert login_as("sysadmin").get(f"/cases/{p.id}/closures/{c.id}.pdf").status_code == 403


# ---------------------------------------------------------------- the task book at sign-off


def test_signoff_needs_each_open_step_done_or_explained(app, login_as):
    from webapp.handling.queries import book_in_force

    p = hf.in_progress()
    first, second = book_in_force(p).steps
    town = login_as("town")
    # The first step is done, with a photo: the leader and the verifier will see it.
    tick = f"/cases/{p.id}/steps/{first.id}/done"
    resp = town.post(tick, data={**form_values(page(town, tick), tick), "note": "已入户核实。",
                                 "files": [(io.BytesIO(png_bytes()), "入户核实.png")]},
                     content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)
    html = page(town, url(p, "sign-off"))
    assert f'name="step_{second.id}"' in html and f'name="step_{first.id}"' not in html
    # Every step still open and no word about it: refused, the input kept, nothing written.
    data = {**hidden(town, url(p, "sign-off")), "result": RESULT, "completed_on": clock.today().isoformat(),
            "no_evidence_reason": "电话协调解决。"}
    resp = town.post(url(p, "sign-off"), data=data, content_type="multipart/form-data")
    assert resp.status_code == 200
    html = text(resp)
    assert "任务书第 2 步尚未完成" in html and RESULT in html and 'aria-invalid="true"' in html
    assert closures(p) == [] and fresh(p).status == Status.in_progress
    # With the reason for the open step, it goes through and the reason is kept on the request.
    why = "第二步由村委会代办完成，现场已核实。"
    resp = town.post(url(p, "sign-off"), data={**data, f"step_{second.id}": why},
                     content_type="multipart/form-data")
    assert resp.status_code == 302, text(resp)
    (c,) = closures(p)
    assert [(o["seq"], o["reason"]) for o in c.open_steps] == [(2, why)]
    # The unit leader and then the verifier see the steps, the open one's reason and the step's photo.
    html = page(login_as("townlead"), url(p, "sign-off/review"))
    assert "任务书执行情况" in html and "已入户核实。" in html and "入户核实.png" in html and why in html
    assert decide(login_as("townlead"), p, "sign-off/review", "approve_signoff").status_code == 302
    html = page(login_as("grouplead"), url(p, "verification"))
    assert "任务书执行情况" in html and "入户核实.png" in html and why in html and "未完成" in html


def test_closing_the_problem_closes_its_task_book(app, login_as):
    from webapp.handling.queries import book_in_force

    p = hf.in_progress()
    html = text(login_as("town").get(f"/cases/{p.id}"))
    assert "执行中" in html[html.index('id="taskbook"'):]
    h.request_signoff(p, f.user("town"), result=RESULT, completed_on=clock.today(), evidence_count=0,
                      no_evidence_reason="电话协调解决。", step_reasons=hf.open_step_reasons(p))
    h.approve_signoff(p, f.user("townlead"), note="领导意见：同意销号。")
    h.verify(p, f.user("grouplead"), note="内部意见：材料齐全。")
    db.session.commit()
    assert book_in_force(fresh(p)).closed_at is not None
    for who in ("town", "grouplead"):
        html = text(login_as(who).get(f"/cases/{p.id}"))
        panel = html[html.index('id="taskbook"'):]
        assert "已办结" in panel and "执行中" not in panel, who
        parts = html[html.index('id="h-assignment"'):html.index('id="h-actions"')]
        assert "已办结" in parts and "已签收" not in parts, who
    # The verifier's opinion is internal: not tagged for the resident.
    ev = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == p.id,
                                                      ProblemEvent.action == "verify"))
    assert ev.note == "内部意见：材料齐全。" and not ev.is_public
    # So is the unit leader's approval of the sign-off.
    ev = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == p.id,
                                                      ProblemEvent.action == "approve_signoff"))
    assert ev.note == "领导意见：同意销号。" and not ev.is_public
    # Reopened after an unsatisfied reply: the book runs again.
    hf.reply(fresh(p), Verdict.unsatisfied, substantive=True)
    assert fresh(p).status == Status.in_progress and book_in_force(fresh(p)).closed_at is None


def test_a_refused_signoff_has_one_error_summary_linking_each_wrong_field(app, login_as):
    import re

    p = hf.in_progress()
    town = login_as("town")
    data = {**hidden(town, url(p, "sign-off")), "result": "", "completed_on": clock.today().isoformat()}
    resp = town.post(url(p, "sign-off"), data=data, content_type="multipart/form-data")
    assert resp.status_code == 200
    html = text(resp)
    assert html.count("data-error-summary") == 1
    summary = html[html.index("data-error-summary"):]
    summary = summary[:summary.index("</div>")]
    assert '<a href="#result">' in summary and "请填写办理结果。" in summary
    assert "任务书第 1、2 步尚未完成" in summary  # the open steps, not tied to one field
    assert html.index("data-error-summary") < html.index('name="result"')  # at the top
    # Only the wrong fields are marked; the date, which was right, is not.
    result_box = re.search(r'<textarea[^>]*name="result"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in result_box and 'aria-describedby="result-error"' in result_box
    date_input = re.search(r'<input[^>]*name="completed_on"[^>]*>', html).group(0)
    assert "aria-invalid" not in date_input
