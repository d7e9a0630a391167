"""Every write of handling and closure: task books, steps, progress, cooperating parts, joint
meetings, extensions, sign-off and its verification, 暂难解决, and the reply to the resident.

The same rules as ``cases.operations``: each operation checks the workflow table (or the
activity rules) through ``workflow.check``/``check_activity``, refuses a stale version with
``Conflict``, changes the rows, appends to the problem's timeline and writes the audit event in
the caller's transaction. Views commit once. Deadlines come from the office's settings on the
working-day calendar.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..accounts.models import User
from ..accounts.roles import Role
from ..cases import deadlines as case_deadlines
from ..cases.access import relations, unit_part
from ..cases.models import PartStatus, Problem, ProblemEvent
from ..cases.operations import (
    STALE,
    Triage,
    append_event,
    append_note,
    apply_triage,
    check_transition,
    guard_version,
    replayed,
    touch,
)
from ..cases.workflow import (
    OWES_REPLY,
    Action,
    Activity,
    NotAllowed,
    Status,
    check,
    check_activity,
    may_do,
    target_of,
)
from ..core import clock
from ..core.deadlines import latest_extension_request
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.numbering import next_number
from ..notifications.emit import ACT, LEAD, notify_problem
from .models import (
    BookStatus,
    CannotSolveReason,
    Closure,
    ClosureKind,
    ClosureStatus,
    Extension,
    Reply,
    ReplyMethod,
    RequestStatus,
    StepSource,
    TaskBook,
    TaskStep,
    Verdict,
)
from .queries import book_in_force, book_under_review, open_closure, open_parts, pending_extension

MAX_STEPS = 20
HANDLER_ROLES = (Role.handler, Role.unit_leader, Role.desk)


def _check(problem: Problem, action: Action, user, version, reason: str | None = None):
    guard_version(problem, version)
    t = check(problem.status, action, user.role, relations(user, problem))
    if t.needs_reason and not (reason or "").strip():
        raise Invalid(_l("请填写原因。"))
    return t


# ---------------------------------------------------------------- extensions lapse


def _withdraw_extension(problem: Problem, user, why: str) -> None:
    """A waiting extension request lapses when the unit ends its handling (sign-off, 暂难解决):
    approving it later (say after a reopen) would set an old date."""
    ext = pending_extension(problem)
    if ext is not None:
        ext.status = RequestStatus.withdrawn
        ext.decided_by_id, ext.decided_at, ext.decision_note = user.id, clock.now(), why


# ---------------------------------------------------------------- task book (任务书)


@dataclass
class StepInput:
    title: str
    due_on: date
    unit_id: int | None = None  # default: the lead unit
    from_step_id: int | None = None  # a step of the book in force carried into the revision


def _validate_book(problem: Problem, *, handler: User | None, responsible_leader: str,
                   responsible_department: str, measures: str, deadline: date | None, steps: list[StepInput]):
    today = clock.today()
    errors = {}
    if handler is None or not handler.is_active or handler.unit_id != problem.lead_unit_id \
            or handler.role not in HANDLER_ROLES:
        errors["handler_id"] = _l("专人必须是本单位在用的经办人员。")
    if not (responsible_leader or "").strip():
        errors["responsible_leader"] = _l("请填写责任领导。")
    if not (responsible_department or "").strip():
        errors["responsible_department"] = _l("请填写责任科室（部门）。")
    if not (measures or "").strip():
        errors["measures"] = _l("请填写化解措施。")
    ceiling = problem.deadline
    if deadline is None:
        errors["deadline"] = _l("请填写完成时限。")
    elif deadline < today:
        errors["deadline"] = _l("完成时限不能早于今天。")
    elif ceiling is not None and deadline > ceiling:
        errors["deadline"] = _l("完成时限不能晚于交办时限 %(d)s；需要更长时间请申请延期。", d=ceiling.isoformat())
    if not steps:
        errors["steps"] = _l("路线图至少需要一个步骤。")
    elif len(steps) > MAX_STEPS:
        errors["steps"] = _l("路线图最多 %(n)d 个步骤。", n=MAX_STEPS)
    else:
        for i, s in enumerate(steps, 1):
            if not (s.title or "").strip():
                errors["steps"] = _l("第 %(i)d 步没有写内容。", i=i)
                break
            if s.due_on is None:
                errors["steps"] = _l("第 %(i)d 步没有填写时间。", i=i)
                break
            if s.from_step_id is None and s.due_on < today:
                errors["steps"] = _l("第 %(i)d 步的时间不能早于今天。", i=i)
                break
            if deadline is not None and s.due_on > deadline:
                errors["steps"] = _l("第 %(i)d 步的时间晚于完成时限。", i=i)
                break
    if errors:
        raise FieldsInvalid(errors)


def submit_plan(problem: Problem, user, *, handler: User | None, responsible_leader: str,
                responsible_department: str, measures: str, deadline: date | None, steps: list[StepInput],
                revision_reason: str | None = None, version=None) -> TaskBook:
    """Write (提交任务书) or revise (修订任务书) the task book; the unit leader approves it next."""
    action = Action.revise_plan if problem.status == Status.in_progress else Action.submit_plan
    before = problem.status
    t = _check(problem, action, user, version)
    if action == Action.revise_plan and not (revision_reason or "").strip():
        raise FieldsInvalid({"revision_reason": _l("请说明修订原因。")})
    _validate_book(problem, handler=handler, responsible_leader=responsible_leader,
                   responsible_department=responsible_department, measures=measures, deadline=deadline,
                   steps=steps)
    in_force = book_in_force(problem)
    old_steps = {s.id: s for s in in_force.steps} if in_force else {}
    revision = (db.session.scalar(select(func.max(TaskBook.revision)).where(
        TaskBook.problem_id == problem.id)) or 0) + 1
    book = TaskBook(
        number=next_number("taskbook")[2],
        problem=problem, assignment_id=problem.current_assignment_id, unit_id=problem.lead_unit_id,
        revision=revision, status=BookStatus.submitted, handler_id=handler.id,
        responsible_leader=responsible_leader.strip(), responsible_department=responsible_department.strip(),
        measures=measures.strip(), deadline=deadline, revision_reason=(revision_reason or "").strip() or None,
        submitted_by_id=user.id, submitted_at=clock.now(),
    )
    db.session.add(book)
    seq = 0
    # Steps already done stay done in the revision (history), ahead of the open ones.
    for old in sorted(old_steps.values(), key=lambda s: (s.seq, s.id)):
        if old.done_at is not None:
            seq += 1
            book.steps.append(_copy_step(old, problem, seq))
    for s in steps:
        old = old_steps.get(s.from_step_id) if s.from_step_id else None
        if old is not None and old.done_at is not None:
            continue
        seq += 1
        step = TaskStep(problem_id=problem.id, seq=seq, title=s.title.strip()[:255], due_on=s.due_on,
                        unit_id=s.unit_id or problem.lead_unit_id,
                        source=old.source if old else StepSource.plan, decision_id=old.decision_id if old else None)
        book.steps.append(step)
    db.session.flush()
    problem.status = t.target
    append_event(problem, user, action.value, before, note=book.revision_reason, detail={
        "task_book": book.id, "revision": revision, "deadline": deadline.isoformat(), "steps": seq})
    notify_problem(problem, "plan_review", [problem.lead_unit_id], LEAD, "任务书等待责任领导审核。",
                   dedupe=f"plan_review:{book.id}")
    return book


def _copy_step(old: TaskStep, problem: Problem, seq: int) -> TaskStep:
    return TaskStep(problem_id=problem.id, seq=seq, title=old.title, due_on=old.due_on, unit_id=old.unit_id,
                    source=old.source, decision_id=old.decision_id, done_at=old.done_at,
                    done_by_id=old.done_by_id, done_note=old.done_note)


def approve_plan(problem: Problem, user, *, note: str | None = None, version=None) -> TaskBook:
    """批准任务书 (the unit leader): the book comes into force; its deadline is the problem's."""
    before = problem.status
    t = _check(problem, Action.approve_plan, user, version)
    book = book_under_review(problem)
    if book is None:
        raise Conflict(STALE)
    previous = book_in_force(problem)
    if previous is not None:
        previous.status = BookStatus.superseded
        db.session.flush()  # one approved book at a time
    book.status = BookStatus.approved
    book.decided_by_id, book.decided_at, book.decision_note = user.id, clock.now(), (note or "").strip() or None
    problem.status = t.target
    problem.deadline = book.deadline
    problem.handler_id = book.handler_id
    append_event(problem, user, "approve_plan", before, note=book.decision_note,
           detail={"task_book": book.id, "revision": book.revision, "deadline": book.deadline.isoformat()})
    notify_problem(problem, "plan_decided", [problem.lead_unit_id], ACT,
                   f"任务书已批准，办理时限 {book.deadline.isoformat()}。", dedupe=f"plan_decided:{book.id}")
    return book


def reject_plan(problem: Problem, user, *, reason: str, version=None) -> TaskBook:
    """退回任务书: back to the writer; a rejected revision leaves the book in force as it was."""
    before = problem.status
    t = _check(problem, Action.reject_plan, user, version, reason)
    book = book_under_review(problem)
    if book is None:
        raise Conflict(STALE)
    book.status = BookStatus.rejected
    book.decided_by_id, book.decided_at, book.decision_note = user.id, clock.now(), reason.strip()
    problem.status = target_of(t, alternative=book_in_force(problem) is not None)
    append_event(problem, user, "reject_plan", before, note=reason, detail={"task_book": book.id})
    notify_problem(problem, "plan_decided", [problem.lead_unit_id], ACT, f"任务书被退回：{reason.strip()}",
                   dedupe=f"plan_decided:{book.id}")
    return book


def may_tick_step(user, problem: Problem, step: TaskStep, rels=None) -> bool:
    """The workflow's rule for ticking steps, and the step's: its own unit, or the lead unit for any."""
    rels = relations(user, problem) if rels is None else rels
    return may_do(Activity.tick_step, problem.status, user.role, rels) and \
        (step.unit_id == user.unit_id or user.unit_id == problem.lead_unit_id)


def tick_step(problem: Problem, user, step: TaskStep, *, note: str) -> ProblemEvent:
    """完成步骤: a step of the book in force is done (its unit, or the lead unit for any step)."""
    rels = relations(user, problem)
    check_activity(Activity.tick_step, problem.status, user.role, rels)
    book = book_in_force(problem)
    if book is None or step.task_book_id != book.id:
        raise Invalid(_l("只能完成正在执行的任务书中的步骤。"))
    if not may_tick_step(user, problem, step, rels):
        raise NotAllowed(_l("这一步由%(unit)s负责。", unit=step.unit.name))
    if step.done_at is not None:
        raise Conflict(_l("这一步已经由%(name)s标记完成。", name=step.done_by.full_name if step.done_by else ""))
    if not (note or "").strip():
        raise Invalid(_l("请简要说明完成情况。"))
    step.done_at, step.done_by_id, step.done_note = clock.now(), user.id, note.strip()
    return append_note(problem, user, "tick_step", f"{step.title}：{note.strip()}", public=False,
                       detail={"step": step.id})


def record_progress(problem: Problem, user, *, text: str, public: bool, token: str | None = None) -> ProblemEvent:
    """报送进展: a progress update; ``public`` ones may be told to the resident. The same
    ``token`` returns the entry already made."""
    if (done := replayed(token)) is not None:
        return done
    check_activity(Activity.progress, problem.status, user.role, relations(user, problem))
    if not (text or "").strip():
        raise Invalid(_l("请填写进展情况。"))
    return append_note(problem, user, "progress", text.strip(), public=public, token=token)


def add_note(problem: Problem, user, *, text: str, token: str | None = None) -> ProblemEvent:
    """内部备注: for those who work on the problem, never shown to the resident."""
    if (done := replayed(token)) is not None:
        return done
    check_activity(Activity.note, problem.status, user.role, relations(user, problem))
    if not (text or "").strip():
        raise Invalid(_l("请填写备注内容。"))
    return append_note(problem, user, "note", text.strip(), public=False, token=token)


def part_feedback(problem: Problem, user, *, text: str, done: bool, token: str | None = None) -> ProblemEvent:
    """A cooperating unit reports on its own part (配合单位反馈); ``done`` closes the part."""
    if (replay := replayed(token)) is not None:
        return replay
    check_activity(Activity.part_feedback, problem.status, user.role, relations(user, problem))
    part = unit_part(user, problem)
    if not (text or "").strip():
        raise Invalid(_l("请填写配合办理情况。"))
    if part.status == PartStatus.done and done:
        raise Conflict(_l("本单位的配合任务已经报告完成。"))
    part.feedback, part.feedback_at, part.feedback_by_id = text.strip(), clock.now(), user.id
    if done:
        part.status = PartStatus.done
    return append_note(problem, user, "part_feedback", text.strip(),
                       detail={"unit": part.unit.name, "done": done}, token=token)


# ---------------------------------------------------------------- extensions (延期)


def request_extension(problem: Problem, user, *, new_deadline: date | None, reason: str, progress: str,
                      version=None) -> Extension:
    """申请延期: before the deadline (at least ``extension_min_days_before`` working days), with
    reason, new date and progress so far; whoever assigned the problem decides."""
    _check(problem, Action.request_extension, user, version, reason)
    if pending_extension(problem) is not None:
        raise Conflict(_l("已有一份延期申请在等待审批。"))
    errors = {}
    latest = latest_extension_request(problem.deadline)
    if clock.today() > latest:
        errors["new_deadline"] = _l("延期须在时限前申请（最迟 %(d)s），现已不能申请。", d=latest.isoformat())
    elif new_deadline is None or new_deadline <= problem.deadline:
        errors["new_deadline"] = _l("新的时限必须晚于当前时限 %(d)s。", d=problem.deadline.isoformat())
    if not (progress or "").strip():
        errors["progress"] = _l("请说明目前的办理进展。")
    if errors:
        raise FieldsInvalid(errors)
    ext = Extension(problem=problem, assignment_id=problem.current_assignment_id, unit_id=user.unit_id,
                    requested_by_id=user.id, requested_at=clock.now(), old_deadline=problem.deadline,
                    new_deadline=new_deadline, reason=reason.strip(), progress=progress.strip())
    db.session.add(ext)
    db.session.flush()
    touch(problem)  # the version moves: a second request is stale
    append_event(problem, user, "request_extension", problem.status, note=reason.strip(),
           detail={"extension": ext.id, "new_deadline": new_deadline.isoformat()})
    notify_problem(problem, "extension_requested", [problem.assigner_unit_id], ACT,
                   f"申请延期至 {new_deadline.isoformat()}：{reason.strip()}", dedupe=f"extension:{ext.id}")
    return ext


def decide_extension(problem: Problem, user, *, approve: bool, note: str | None = None,
                     version=None) -> Extension:
    """审批延期 (谁交办谁跟踪): approved moves the deadline; rejected needs a reason."""
    _check(problem, Action.decide_extension, user, version)
    ext = pending_extension(problem)
    if ext is None:
        raise Conflict(_l("没有待审批的延期申请（可能已被他人审批）。"))
    if not approve and not (note or "").strip():
        raise Invalid(_l("驳回延期申请请说明理由。"))
    ext.status = RequestStatus.approved if approve else RequestStatus.rejected
    ext.decided_by_id, ext.decided_at, ext.decision_note = user.id, clock.now(), (note or "").strip() or None
    if approve:
        problem.deadline = ext.new_deadline
    touch(problem)
    append_event(problem, user, "approve_extension" if approve else "reject_extension", problem.status,
           note=ext.decision_note,
           detail={"extension": ext.id, "old": ext.old_deadline.isoformat(), "new": ext.new_deadline.isoformat()})
    notify_problem(problem, "extension_decided", [problem.lead_unit_id], ACT,
                   (f"延期已批准，新时限 {ext.new_deadline.isoformat()}。" if approve
                    else f"延期申请被驳回：{ext.decision_note}"), dedupe=f"extension_decided:{ext.id}")
    return ext


# ---------------------------------------------------------------- sign-off (销号)


def request_signoff(problem: Problem, user, *, result: str, completed_on: date | None, evidence_count: int,
                    no_evidence_reason: str | None = None, open_parts_reason: str | None = None,
                    step_reasons: dict[int, str] | None = None, version=None) -> Closure:
    """申请销号: result, evidence (at least one file, or why none can exist), date; the caller
    attaches the files to the returned closure. Open cooperating parts need a reason, and so does
    each step of the task book in force that is not done (``step_reasons``: step id → why)."""
    before = problem.status
    t = _check(problem, Action.request_signoff, user, version)
    errors = {}
    if not (result or "").strip():
        errors["result"] = _l("请填写办理结果。")
    if completed_on is None:
        errors["completed_on"] = _l("请填写办结日期。")
    elif completed_on > clock.today():
        errors["completed_on"] = _l("办结日期不能晚于今天。")
    if evidence_count <= 0 and not (no_evidence_reason or "").strip():
        errors["evidence"] = _l("请上传至少一份佐证材料，或说明无法提供佐证材料的原因。")
    still_open = open_parts(problem)
    if still_open and not (open_parts_reason or "").strip():
        errors["open_parts_reason"] = _l("配合单位（%(units)s）尚未反馈完成，请说明原因。",
                                         units="、".join(p.unit.name for p in still_open))
    open_steps = _open_steps(problem, step_reasons or {}, errors)
    if errors:
        raise FieldsInvalid(errors)
    closure = Closure(
        number=next_number("closure")[2],
        problem=problem, kind=ClosureKind.signoff, open_steps=open_steps or None, status=ClosureStatus.leader_review, unit_id=problem.lead_unit_id,
        result=result.strip(), completed_on=completed_on,
        no_evidence_reason=(no_evidence_reason or "").strip() or None if evidence_count <= 0 else None,
        open_parts_reason=(open_parts_reason or "").strip() or None if still_open else None,
        requested_by_id=user.id, requested_at=clock.now(),
    )
    db.session.add(closure)
    db.session.flush()
    _withdraw_extension(problem, user, str(_l("已申请销号，延期申请自动撤回。")))
    problem.status = t.target
    append_event(problem, user, "request_signoff", before, note=closure.result, detail={"closure": closure.id})
    notify_problem(problem, "signoff_review", [problem.lead_unit_id], LEAD, "销号申请等待责任领导审核。",
                   dedupe=f"signoff_review:{closure.id}")
    return closure


def _open_steps(problem: Problem, reasons: dict[int, str], errors: dict) -> list[dict]:
    """The steps of the book in force not done, each with its reason; a missing reason is an error."""
    book = book_in_force(problem)
    steps = [s for s in (book.steps if book else []) if s.done_at is None]
    missing = [s for s in steps if not (reasons.get(s.id) or "").strip()]
    if missing:
        errors["open_steps"] = _l("任务书第 %(seqs)s 步尚未完成：请先完成这些步骤，或逐步说明未完成的原因。",
                                  seqs="、".join(str(s.seq) for s in missing))
    return [{"step": s.id, "seq": s.seq, "title": s.title, "reason": (reasons.get(s.id) or "").strip()}
            for s in steps]


def close_book(problem: Problem, now: datetime | None) -> None:
    """The task book in force ends with its problem (已办结), or runs again when it is reopened."""
    book = book_in_force(problem)
    if book is not None:
        book.closed_at = now


def approve_signoff(problem: Problem, user, *, note: str | None = None, version=None) -> Closure:
    """同意销号 (the unit leader): the request goes to whoever assigned the problem."""
    before = problem.status
    t = _check(problem, Action.approve_signoff, user, version)
    closure = open_closure(problem, ClosureStatus.leader_review)
    if closure is None:
        raise Conflict(STALE)
    closure.status = ClosureStatus.verifying
    closure.leader_id, closure.leader_at, closure.leader_note = user.id, clock.now(), (note or "").strip() or None
    problem.status = t.target
    append_event(problem, user, "approve_signoff", before, note=closure.leader_note, detail={"closure": closure.id})
    notify_problem(problem, "verification", [problem.assigner_unit_id], ACT, "责任单位申请销号，等待核验。",
                   dedupe=f"verification:{closure.id}")
    return closure


def reject_signoff(problem: Problem, user, *, reason: str, version=None) -> Closure:
    before = problem.status
    t = _check(problem, Action.reject_signoff, user, version, reason)
    closure = open_closure(problem, ClosureStatus.leader_review)
    if closure is None:
        raise Conflict(STALE)
    closure.status = ClosureStatus.leader_rejected
    closure.leader_id, closure.leader_at, closure.leader_note = user.id, clock.now(), reason.strip()
    problem.status = t.target
    append_event(problem, user, "reject_signoff", before, note=reason, detail={"closure": closure.id})
    return closure


def on_spot_closure(problem: Problem, user, *, result: str) -> Closure:
    """好事即办 at triage: the solution waits for verification like a sign-off (called by operations)."""
    closure = Closure(number=next_number("closure")[2], problem=problem, kind=ClosureKind.on_spot,
                      status=ClosureStatus.verifying, unit_id=user.unit_id, result=result.strip(), completed_on=clock.today(),
                      requested_by_id=user.id, requested_at=clock.now(), leader_id=user.id, leader_at=clock.now())
    db.session.add(closure)
    db.session.flush()
    return closure


def resolve_on_spot(problem, user, *, triage: Triage, result: str, version=None):
    """好事即办: solved at once; waits for verification like a sign-off. Returns the closure
    request the caller attaches the evidence to."""
    if not (result or "").strip():
        raise Invalid(_l("请说明当场解决的情况。"))
    before = problem.status
    problem.status = check_transition(problem, Action.resolve_on_spot, user, version)
    apply_triage(problem, triage)
    problem.assigner_unit_id = user.unit_id
    closure = on_spot_closure(problem, user, result=result)
    append_event(problem, user, "resolve_on_spot", before, note=result, public=True, detail={"closure": closure.id})
    return closure


def verify(problem: Problem, user, *, note: str | None = None, version=None) -> Closure:
    """核销通过 (谁交办谁跟踪): signed off; the resident is owed a reply from now on."""
    before = problem.status
    t = _check(problem, Action.verify, user, version)
    closure = open_closure(problem, ClosureStatus.verifying)
    if closure is None:
        raise Conflict(STALE)
    now = clock.now()
    closure.status = ClosureStatus.verified
    closure.verifier_id, closure.verifier_unit_id, closure.verified_at = user.id, user.unit_id, now
    closure.verifier_note = (note or "").strip() or None
    problem.status = t.target
    problem.solved_at = now
    close_book(problem, now)
    case_deadlines.owe_reply(problem, now)
    # The verifier's opinion is internal: the resident hears the result through the reply (回音).
    append_event(problem, user, "verify", before, note=closure.verifier_note, detail={"closure": closure.id})
    notify_problem(problem, "verified", [problem.lead_unit_id], ACT, "核验通过，已销号。",
                   dedupe=f"verified:{closure.id}")
    notify_problem(problem, "reply_due", [], ACT, f"请在 {problem.reply_due.isoformat()} 前向群众回音。",
                   dedupe=f"reply_due:{closure.id}", also=[problem.registered_by_id])
    return closure


def reject_verification(problem: Problem, user, *, reason: str, version=None) -> Closure:
    """退回重办: back to the unit with the reason (counted against it); an on-the-spot solution
    that does not hold goes back to triage."""
    before = problem.status
    t = _check(problem, Action.reject_verification, user, version, reason)
    closure = open_closure(problem, ClosureStatus.verifying)
    if closure is None:
        raise Conflict(STALE)
    closure.status = ClosureStatus.verification_rejected
    closure.verifier_id, closure.verifier_unit_id, closure.verified_at = user.id, user.unit_id, clock.now()
    closure.verifier_note = reason.strip()
    problem.status = target_of(t, alternative=problem.lead_unit_id is None)
    append_event(problem, user, "reject_verification", before, note=reason, detail={"closure": closure.id})
    if problem.lead_unit_id is not None:
        notify_problem(problem, "redo", [problem.lead_unit_id], ACT, f"核验未通过，退回重办：{reason.strip()}",
                       dedupe=f"redo:{closure.id}")
    return closure


# ---------------------------------------------------------------- 暂难解决


def request_cannot_solve(problem: Problem, user, *, reason_kind: CannotSolveReason | None, explanation: str,
                         version=None) -> Closure:
    """申请暂难解决: the unit explains (policy, funds, court case …); the office decides."""
    before = problem.status
    t = _check(problem, Action.request_cannot_solve, user, version, explanation)
    if reason_kind is None:
        raise FieldsInvalid({"reason_kind": _l("请选择原因类别。")})
    closure = Closure(number=next_number("closure")[2], problem=problem, kind=ClosureKind.cannot_solve,
                      status=ClosureStatus.office_review, unit_id=problem.lead_unit_id, result=explanation.strip(), reason_kind=reason_kind,
                      requested_by_id=user.id, requested_at=clock.now())
    db.session.add(closure)
    db.session.flush()
    _withdraw_extension(problem, user, str(_l("已申请暂难解决，延期申请自动撤回。")))
    problem.status = t.target
    append_event(problem, user, "request_cannot_solve", before, note=explanation,
           detail={"closure": closure.id, "reason": reason_kind.value})
    return closure


def decide_cannot_solve(problem: Problem, user, *, approve: bool, note: str | None = None,
                        version=None) -> Closure:
    """The office approves (暂难解决: ended, reply owed) or rejects (back to 办理中)."""
    action = Action.approve_cannot_solve if approve else Action.reject_cannot_solve
    before = problem.status
    t = _check(problem, action, user, version, note)
    closure = open_closure(problem, ClosureStatus.office_review)
    if closure is None:
        raise Conflict(STALE)
    now = clock.now()
    closure.status = ClosureStatus.approved if approve else ClosureStatus.office_rejected
    closure.verifier_id, closure.verifier_unit_id, closure.verified_at = user.id, user.unit_id, now
    closure.verifier_note = (note or "").strip() or None
    problem.status = t.target
    if approve:
        problem.end_reason = closure.result
        close_book(problem, now)
        case_deadlines.owe_reply(problem, now)
    append_event(problem, user, action.value, before, note=closure.verifier_note or (closure.result if approve else None),
           detail={"closure": closure.id})
    return closure


# ---------------------------------------------------------------- the reply (回音)


REPLIER_ROLES = (Role.cadre, Role.desk, Role.office)


def reply(problem: Problem, user, *, method: ReplyMethod, replied_at: datetime | None, content: str,
          verdict: Verdict, resident_words: str | None = None, substantive: bool = False,
          version=None, token: str | None = None) -> Reply:
    """记录回音: the callback to the resident and their verdict.

    不满意 for a substantive reason reopens a signed-off problem (counted against the unit, with a
    fresh handling deadline); any other verdict closes it. Problems that ended otherwise (not
    accepted, merged, cannot solve now) keep their status; the reply is no longer owed.
    """
    if token:
        existing = db.session.scalar(select(Reply).where(Reply.client_token == token))
        if existing is not None:
            return existing
    before = problem.status
    reopen = verdict == Verdict.unsatisfied and substantive and problem.status == Status.signed_off
    action = Action.reply_reopen if reopen else Action.reply
    t = _check(problem, action, user, version, resident_words if reopen else None)
    if problem.status not in OWES_REPLY or problem.reply_due is None and problem.replied_at is not None:
        raise Conflict(_l("该问题已经回音，无需重复记录。"))
    now = clock.now()
    errors = {}
    if not (content or "").strip():
        errors["content"] = _l("请填写向群众答复的内容。")
    if replied_at is None:
        errors["replied_at"] = _l("请填写回访时间。")
    elif replied_at > now:
        errors["replied_at"] = _l("回访时间不能晚于现在。")
    if verdict == Verdict.unsatisfied and not (resident_words or "").strip():
        errors["resident_words"] = _l("群众不满意时请记录群众的意见。")
    if errors:
        raise FieldsInvalid(errors)
    record = Reply(problem=problem, replied_by_id=user.id, unit_id=user.unit_id, method=method,
                   replied_at=replied_at, content=content.strip(), verdict=verdict,
                   resident_words=(resident_words or "").strip() or None, reopened=reopen,
                   status_at_reply=problem.status.value, created_at=now, client_token=token)
    db.session.add(record)
    db.session.flush()
    # Reopened: back to the unit with a fresh deadline; an on-the-spot solution back to triage.
    problem.status = target_of(t, alternative=problem.lead_unit_id is None)
    problem.replied_at = now
    problem.reply_due = None
    if reopen:
        problem.reopen_count += 1
        problem.solved_at = None
        close_book(problem, None)  # the book in force runs again
        if problem.status == Status.in_progress and problem.tier:
            problem.deadline = case_deadlines.handling_deadline(now, problem.tier)
    elif problem.status == Status.closed:
        problem.closed_at = now
    append_event(problem, user, action.value, before, note=record.content, public=True,
           detail={"reply": record.id, "verdict": verdict.value, "reopened": reopen})
    return record
