"""Problems brought to each handling status through the real operations (committed).

Every function starts from a fresh problem assigned to 潘安湖街道 (demo ``town``/``townlead``)
unless told otherwise, registered by ``cadre`` of 潘安湖街道工作组 and assigned by ``grouplead``.
Pass ``dept=True`` for a problem assigned by ``office`` to 区民政局 (``dept``/``deptlead``).
"""

from datetime import timedelta

from tests.cases import factories as f
from webapp.core import calendar, clock
from webapp.core.extensions import db
from webapp.handling import operations as h
from webapp.handling.models import ReplyMethod, Verdict
from webapp.handling.queries import open_parts


def _lead_users(p):
    if p.lead_unit.name == "潘安湖街道":
        return f.user("town"), f.user("townlead")
    if p.lead_unit.name == "区民政局":
        return f.user("dept"), f.user("deptlead")
    if p.lead_unit.kind.value == "desk":
        return f.user("desk"), None
    raise AssertionError(f"no demo accounts for {p.lead_unit.name}")


def assigner(p):
    return f.user("office") if p.assigner_unit.kind.value == "office" else f.user("grouplead")


def assigned(*, dept=False, cooperating=(), **kw):
    if dept:
        return f.assigned_to_department(cooperating=cooperating, **kw)
    return f.assigned_to_town(cooperating=cooperating, **kw)


def accepted(**kw):
    from webapp.cases import operations as ops

    p = assigned(**kw)
    handler, _leader = _lead_users(p)
    ops.sign_for(p, handler)
    db.session.commit()
    return p


def steps_for(p, n=2):
    today = clock.today()
    deadline = p.deadline
    out = []
    for i in range(n):
        due = min(calendar.add_workdays(today, i + 1), deadline)
        out.append(h.StepInput(f"第{i + 1}步：入户核实并落实", due))
    return out


def submit_book(p, *, deadline=None, steps=None, reason=None):
    handler, _leader = _lead_users(p)
    book = h.submit_plan(p, handler, handler=handler, responsible_leader="王主任", responsible_department="社会事业局",
                         measures="核实情况，协调资金，限期解决。", deadline=deadline or p.deadline,
                         steps=steps or steps_for(p), revision_reason=reason)
    db.session.commit()
    return book


def plan_review(**kw):
    p = accepted(**kw)
    submit_book(p)
    return p


def in_progress(**kw):
    p = plan_review(**kw)
    _handler, leader = _lead_users(p)
    h.approve_plan(p, leader)
    db.session.commit()
    return p


def open_step_reasons(p, reason="该步骤随整体整改一并完成，未单独标记。") -> dict[int, str]:
    """Why each step of the book in force that is not ticked may be signed off anyway."""
    from webapp.handling.queries import book_in_force

    book = book_in_force(p)
    return {s.id: reason for s in (book.steps if book else []) if s.done_at is None}


def signoff_review(*, evidence_count=0, **kw):
    p = in_progress(**kw)
    handler, _leader = _lead_users(p)
    h.request_signoff(p, handler, result="已维修完毕，群众当面确认。", completed_on=clock.today(),
                      evidence_count=evidence_count,
                      no_evidence_reason=None if evidence_count else "现场整改，照片另行存档。",
                      open_parts_reason="配合单位已口头确认完成。" if open_parts(p) else None,
                      step_reasons=open_step_reasons(p))
    db.session.commit()
    return p


def pending_verification(**kw):
    p = signoff_review(**kw)
    _handler, leader = _lead_users(p)
    h.approve_signoff(p, leader)
    db.session.commit()
    return p


def signed_off(**kw):
    p = pending_verification(**kw)
    h.verify(p, assigner(p), note="经核实，问题已解决。")
    db.session.commit()
    return p


def cannot_solve_review(**kw):
    from webapp.handling.models import CannotSolveReason

    p = in_progress(**kw)
    handler, _leader = _lead_users(p)
    h.request_cannot_solve(p, handler, reason_kind=CannotSolveReason.funds,
                           explanation="需纳入明年财政预算，今年暂难解决。")
    db.session.commit()
    return p


def cannot_solve(**kw):
    p = cannot_solve_review(**kw)
    h.decide_cannot_solve(p, f.user("office"), approve=True, note="同意，做好解释工作。")
    db.session.commit()
    return p


def replier(p):
    return f.user("cadre") if p.registered_by.username == "cadre" else f.user("office")


def reply(p, verdict=Verdict.satisfied, *, substantive=False, words=None):
    r = h.reply(p, replier(p), method=ReplyMethod.phone, replied_at=clock.now() - timedelta(minutes=5),
                content="已向群众说明办理结果。", verdict=verdict,
                resident_words=words or ("问题没有解决" if verdict == Verdict.unsatisfied else None),
                substantive=substantive)
    db.session.commit()
    return r


def closed(**kw):
    p = signed_off(**kw)
    reply(p)
    return p
