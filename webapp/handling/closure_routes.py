"""Closure (销号反馈): the lead unit asks to sign a problem off (申请销号) with its result and
evidence, its leader approves or sends it back, whoever assigned it verifies (核销, 谁交办谁跟踪)
or sends it back for rework (退回重办); or the unit asks for 暂难解决 and the office decides;
or the work group, at triage, records a problem solved on the spot (好事即办), verified like a
sign-off. The printed 销号单 / 暂难解决审批表 and the problem page's panel of every closure request.

Who may do what is ``workflow``'s alone: a page offers the actions ``workflow.may`` allows the
user now; every write is one operation of ``handling.operations`` run by ``pages.perform`` (one
commit; 409 for a stale version or a problem moved on, 403 for no right, field errors with the
user's input kept, uploaded files removed again when the transaction fails).
"""

from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Blueprint, abort, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.gates import roles_required
from ..accounts.roles import CASEWORK_ROLES, Role
from ..cases import operations as case_ops
from ..cases import pages, panels, uploads
from ..cases import triage_routes as triage
from ..cases.access import get_problem_or_404, relations, shown_phone
from ..cases.models import (
    Assignment,
    AssignmentUnit,
    Attachment,
    AttachmentKind,
    Problem,
    ProblemEvent,
    UnitRole,
)
from ..cases.workflow import Action, Status, may, transition
from ..core import clock
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import cn_date, pdf_response, render_pdf
from . import operations as handling
from .closure_forms import (
    CannotSolveDecisionForm,
    CannotSolveForm,
    LeaderReviewForm,
    SignoffForm,
    VerifyForm,
)
from .closure_reads import (
    attachment_url,
    closure_files,
    closures_of,
    evidence_figures,
    reworks,
    step_groups,
    step_reasons,
    steps_ctx,
    steps_in_force,
)
from .models import Closure, ClosureKind, ClosureStatus, Reply
from .queries import open_closure, open_parts

bp = Blueprint("closure", __name__)
requesters = roles_required(Role.handler, Role.unit_leader, Role.desk)
unit_leaders = roles_required(Role.unit_leader)
verifiers = roles_required(Role.group_lead, Role.office)
office_only = roles_required(Role.office)
casework = roles_required(*CASEWORK_ROLES)

MAX_EVIDENCE = uploads.MAX_FILES_PER_PROBLEM

KIND_LABELS = {
    ClosureKind.signoff: _l("申请销号"),
    ClosureKind.cannot_solve: _l("申请暂难解决"),
    ClosureKind.on_spot: _l("当场解决（好事即办）"),
}
STATUS_LABELS = {
    ClosureStatus.leader_review: _l("审核中"),
    ClosureStatus.leader_rejected: _l("已退回"),
    ClosureStatus.office_review: _l("审批中"),
    ClosureStatus.office_rejected: _l("已驳回"),
    ClosureStatus.verifying: _l("待核销"),
    ClosureStatus.verified: _l("已核销"),
    ClosureStatus.verification_rejected: _l("退回重办"),
    ClosureStatus.approved: _l("已批准"),
}
# The report prints for these (a request still under review has nothing to sign yet).
PRINTABLE = frozenset({ClosureStatus.verifying, ClosureStatus.verified, ClosureStatus.approved})

# The actions each page performs (the page shows what ``workflow.may`` allows of them).
SIGNOFF = (Action.request_signoff,)
LEADER = (Action.approve_signoff, Action.reject_signoff)
VERIFY = (Action.verify, Action.reject_verification)
CANNOT = (Action.request_cannot_solve,)
DECIDE = (Action.approve_cannot_solve, Action.reject_cannot_solve)


# ---------------------------------------------------------------- reads


def report_url(closure: Closure) -> str | None:
    if closure.status not in PRINTABLE:
        return None
    return url_for("closure.report_pdf", problem_id=closure.problem_id, closure_id=closure.id)


# ---------------------------------------------------------------- the pages' common parts


def _allowed(problem: Problem, page_actions) -> list[Action]:
    rels = relations(current_user, problem)
    return [a for a in page_actions if may(problem.status, a, current_user.role, rels)]


def _no_right(problem: Problem, page_actions) -> bool:
    """The status has the page's action, but not for this user (403, not a stale page)."""
    return not _allowed(problem, page_actions) and any(transition(problem.status, a) for a in page_actions)


def _base(problem: Problem, page_actions, **ctx) -> dict:
    allowed = _allowed(problem, page_actions)
    form = ctx.get("form")
    if form is not None and "action" in form._fields:
        # Which of the two forms opens: the one posted, else ``?action=``, else the first allowed.
        chosen = form.action.data or request.args.get("action")
        ctx["open_section"] = chosen if chosen in {a.value for a in allowed} else (
            allowed[0].value if allowed else None)
    return {
        "problem": problem,
        "phone": shown_phone(problem),
        "problem_url": url_for("cases.detail", problem_id=problem.id),
        "allowed": [a.value for a in allowed],
        "not_now": None if allowed else _("问题当前状态为“%(s)s”，现在不能“%(a)s”。",
                                          s=problem.status.label, a=page_actions[0].label),
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "attachment_url": attachment_url,
        "error": None,
        "unsaved": [],
        **ctx,
    }


def unsaved_input(form, names) -> list[tuple[str, str]]:
    """What the user typed into a form the page can no longer draw (moved on meanwhile)."""
    out = []
    for name in names:
        f = form._fields.get(name)
        if f is not None and isinstance(f.data, str) and f.data.strip():
            out.append((str(f.label.text), f.data))
    return out


def _own_repeat(problem: Problem, action: Action | None, version) -> bool:
    """A double submit: this user's last act on the problem was exactly this, from an older page."""
    if action is None:
        return False
    try:
        older = version is not None and int(version) < problem.version
    except (TypeError, ValueError):
        return False
    last = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                             .order_by(ProblemEvent.id.desc()).limit(1))
    return bool(older and last is not None and last.user_id == current_user.id and last.action == action.value)


def _rerender(page, form, page_actions, action_of, text_fields):
    """The ``rerender`` of ``pages.perform``: the page again with the user's input and messages."""

    def rerender(problem, *, status=200, error=None, field_errors=None):
        if status == 409 and _own_repeat(problem, action_of(), form.version.data):
            return pages.done(problem.id, _("您刚刚已经提交过（可能是重复提交），未再次处理。"), "info")
        if status == 409:
            form.version.data = problem.version  # they now see the current state
        if field_errors:
            form.set_field_errors(field_errors)
        # A form the page no longer draws (moved on, no right): its text is shown, not lost.
        unsaved = [] if _allowed(problem, page_actions) else unsaved_input(form, text_fields)
        return page(problem, form=form, status=status, error=error, unsaved=unsaved)

    return rerender


def _refuse_early(problem: Problem, page_actions, rerender):
    """Before validating a POST: the user may not act here now → 403 (no right) or 409 (moved on)."""
    if _allowed(problem, page_actions):
        return None
    if _no_right(problem, page_actions):
        return rerender(problem, status=403, error=_("您无权对此问题执行“%(a)s”。", a=page_actions[0].label))
    return rerender(problem, status=409, error=_("问题当前状态为“%(s)s”，不能执行“%(a)s”（可能已由他人办理）。",
                                                 s=problem.status.label, a=page_actions[0].label))


# ---------------------------------------------------------------- 申请销号


def signoff_page(problem: Problem, *, form: SignoffForm | None = None, status: int = 200, **extra):
    if form is None:
        form = SignoffForm(formdata=None, data={"version": problem.version, "completed_on": clock.today()})
    ctx = _base(problem, SIGNOFF, form=form, open_parts=open_parts(problem), max_evidence=MAX_EVIDENCE,
                max_day=clock.today().isoformat(), **steps_ctx(problem),
                step_reasons=step_reasons(request.form) if request.method == "POST" else {}, **extra)
    return render("handling/closure/signoff.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/sign-off", methods=["GET", "POST"])
@requesters
def request_signoff(problem_id: int):
    """申请销号: the result, the date, evidence files or why none can exist (lead unit's handler/desk)."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        if _no_right(problem, SIGNOFF):
            abort(403)
        return signoff_page(problem)
    problem = pages.load(problem_id, for_update=True)
    form = SignoffForm()
    rerender = _rerender(signoff_page, form, SIGNOFF, lambda: Action.request_signoff,
                         ("result", "no_evidence_reason", "open_parts_reason"))
    refused = _refuse_early(problem, SIGNOFF, rerender)
    if refused is not None:
        return refused
    ok = form.validate()
    checked, file_errors = pages.check_files(request.files.getlist(form.evidence.name), limit=MAX_EVIDENCE)
    if file_errors:
        form.evidence.errors = [*form.evidence.errors, *file_errors]
    if not ok or file_errors:
        return signoff_page(problem, form=form)
    written: list[str] = []

    def work():
        closure = handling.request_signoff(
            problem, current_user, result=form.result.data or "", completed_on=form.completed_on.data,
            evidence_count=len(checked), no_evidence_reason=form.no_evidence_reason.data,
            open_parts_reason=form.open_parts_reason.data, step_reasons=step_reasons(request.form),
            version=form.version.data)
        pages.store_files(problem, current_user, checked, kind=AttachmentKind.evidence, closure=closure,
                          written=written)
        return _("已提交销号申请（佐证材料 %(n)d 份），等待单位领导审核。", n=len(checked))

    return pages.perform(problem_id, work, rerender, action=Action.request_signoff, written=written)


# ---------------------------------------------------------------- the unit leader's review


def leader_page(problem: Problem, *, form: LeaderReviewForm | None = None, status: int = 200, **extra):
    if form is None:
        form = LeaderReviewForm(formdata=None, data={"version": problem.version})
    closure = open_closure(problem, ClosureStatus.leader_review)
    ctx = _base(problem, LEADER, form=form, closure=closure,
                files=closure_files([closure.id]).get(closure.id, []) if closure else [],
                **steps_ctx(problem), **extra)
    return render("handling/closure/leader_review.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/sign-off/review", methods=["GET", "POST"])
@unit_leaders
def leader_review(problem_id: int):
    """The unit leader approves the sign-off request (同意销号) or sends it back with a reason."""
    return _decision(problem_id, LEADER, LeaderReviewForm, leader_page, _leader_work)


def _leader_work(problem: Problem, form: LeaderReviewForm):
    if form.approving:
        handling.approve_signoff(problem, current_user, note=form.note.data, version=form.version.data)
        return _("已同意销号，等待交办单位核销。")
    handling.reject_signoff(problem, current_user, reason=form.reason.data, version=form.version.data)
    return _("已退回销号申请，问题回到办理中。")


def _decision(problem_id: int, page_actions, form_class, page, work_of):
    """A page with two outcomes (approve / send back), each its own small form."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        if _no_right(problem, page_actions):
            abort(403)
        return page(problem)
    problem = pages.load(problem_id, for_update=True)
    form = form_class()
    rerender = _rerender(page, form, page_actions, lambda: form.chosen, ("note", "reason"))
    refused = _refuse_early(problem, page_actions, rerender)
    if refused is not None:
        return refused
    if not form.validate():
        return page(problem, form=form)
    return pages.perform(problem_id, lambda: work_of(problem, form), rerender, action=form.chosen)


# ---------------------------------------------------------------- 核销 (谁交办谁跟踪)


def verify_page(problem: Problem, *, form: VerifyForm | None = None, status: int = 200, **extra):
    if form is None:
        form = VerifyForm(formdata=None, data={"version": problem.version})
    closure = open_closure(problem, ClosureStatus.verifying)
    ctx = _base(problem, VERIFY, form=form, closure=closure,
                files=closure_files([closure.id]).get(closure.id, []) if closure else [],
                **steps_ctx(problem), reworks=reworks(problem),
                on_spot=closure is not None and closure.kind == ClosureKind.on_spot,
                **extra)
    return render("handling/closure/verify.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/verification", methods=["GET", "POST"])
@verifiers
def verify(problem_id: int):
    """核销: whoever assigned the problem checks the result and passes it, or sends it back (退回重办)."""
    return _decision(problem_id, VERIFY, VerifyForm, verify_page, _verify_work)


def _verify_work(problem: Problem, form: VerifyForm):
    if form.approving:
        handling.verify(problem, current_user, note=form.note.data, version=form.version.data)
        return _("已核销通过，问题已销号。请在 %(day)s 前向群众回音。", day=problem.reply_due.isoformat())
    handling.reject_verification(problem, current_user, reason=form.reason.data, version=form.version.data)
    if problem.status == Status.registered:
        return _("已退回，当场解决未通过核销，问题回到待研判。")
    return _("已退回重办，问题回到%(unit)s办理中。", unit=problem.lead_unit.name)


# ---------------------------------------------------------------- 暂难解决


def cannot_solve_page(problem: Problem, *, form: CannotSolveForm | None = None, status: int = 200, **extra):
    if form is None:
        form = CannotSolveForm(formdata=None, data={"version": problem.version})
    ctx = _base(problem, CANNOT, form=form, **extra)
    return render("handling/closure/cannot_solve.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/cannot-solve", methods=["GET", "POST"])
@requesters
def cannot_solve(problem_id: int):
    """申请暂难解决: the kind of reason (policy, funds, court case, other) and the explanation."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        if _no_right(problem, CANNOT):
            abort(403)
        return cannot_solve_page(problem)
    problem = pages.load(problem_id, for_update=True)
    form = CannotSolveForm()
    rerender = _rerender(cannot_solve_page, form, CANNOT, lambda: Action.request_cannot_solve, ("explanation",))
    refused = _refuse_early(problem, CANNOT, rerender)
    if refused is not None:
        return refused
    if not form.validate():
        return cannot_solve_page(problem, form=form)

    def work():
        handling.request_cannot_solve(problem, current_user, reason_kind=form.reason,
                                      explanation=form.explanation.data, version=form.version.data)
        return _("已提交暂难解决申请，等待区活动办审批。")

    return pages.perform(problem_id, work, rerender, action=Action.request_cannot_solve)


def decision_page(problem: Problem, *, form: CannotSolveDecisionForm | None = None, status: int = 200, **extra):
    if form is None:
        form = CannotSolveDecisionForm(formdata=None, data={"version": problem.version})
    closure = open_closure(problem, ClosureStatus.office_review)
    ctx = _base(problem, DECIDE, form=form, closure=closure, **extra)
    return render("handling/closure/cannot_solve_decision.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/cannot-solve/decision", methods=["GET", "POST"])
@office_only
def cannot_solve_decision(problem_id: int):
    """The office approves 暂难解决 (the resident is still owed a reply) or rejects it with a reason."""
    return _decision(problem_id, DECIDE, CannotSolveDecisionForm, decision_page, _decide_work)


def _decide_work(problem: Problem, form: CannotSolveDecisionForm):
    approve = form.approving
    handling.decide_cannot_solve(problem, current_user, approve=approve,
                                 note=form.note.data if approve else form.reason.data, version=form.version.data)
    if approve:
        return _("已批准暂难解决。仍须在 %(day)s 前向群众回音，说明原因。", day=problem.reply_due.isoformat())
    return _("已驳回暂难解决申请，问题回到办理中。")


# ---------------------------------------------------------------- 好事即办 at triage


@bp.post("/cases/<int:problem_id>/resolve")
@triage.triagers
def resolve_on_spot(problem_id: int):
    """好事即办 from the triage page: solved on the spot, with evidence; waits for verification."""
    problem = triage.load_problem(problem_id, for_update=True)
    form, ok = triage.main_form(problem, "resolve")
    files = [f for f in request.files.getlist(form.evidence.name) if f and f.filename]
    checked = []
    if not files:
        form.evidence.errors = [_("请至少上传一份证明材料（照片或 PDF）。")]
    elif len(files) > MAX_EVIDENCE:
        form.evidence.errors = [_("证明材料最多 %(n)d 个文件。", n=MAX_EVIDENCE)]
    else:
        for f in files:
            try:
                checked.append(uploads.check(f))
            except uploads.UploadRefused as exc:
                form.evidence.errors = [*form.evidence.errors, str(exc)]
    chosen = triage.triage_of(form) if ok else None
    if not ok or chosen is None or form.evidence.errors:
        return triage.invalid(problem, "resolve", form=form)
    written: list[str] = []

    def work():
        try:
            closure = handling.resolve_on_spot(problem, current_user, triage=chosen, result=form.result.data,
                                               version=form.version.data)
            for c in checked:
                stored = uploads.store(c)
                written.append(stored.stored_name)
                case_ops.add_attachment(problem, current_user, kind=AttachmentKind.evidence, filename=c.filename,
                                        stored_name=stored.stored_name, mime=c.mime, size=stored.size,
                                        sha256=stored.sha256, closure=closure)
            db.session.flush()
        except BaseException:
            uploads.remove(written)
            raise
        return _("已记录当场解决情况和 %(n)d 份证明材料，等待核销。", n=len(checked))

    try:
        return triage.run_action(problem_id, Action.resolve_on_spot, "resolve", work, forms={"form": form},
                                 tokened=False)
    finally:
        # The commit itself may fail after the files were written: keep no orphan files.
        if written and _resolved_files_missing(written):
            uploads.remove(written)


def _resolved_files_missing(stored_names: list[str]) -> bool:
    found = db.session.scalar(select(func.count()).select_from(Attachment)
                              .where(Attachment.stored_name.in_(stored_names)))
    return found != len(stored_names)


# ---------------------------------------------------------------- the problem page's panel


@dataclass
class ClosureItem:
    closure: Closure
    kind: str
    status: str
    files: list = field(default_factory=list)  # [(Attachment, url)]
    report_url: str | None = None


def panel(user, problem: Problem) -> dict | None:
    """Every closure request of the problem, newest first (None when there is none)."""
    closures = closures_of(problem)
    if not closures:
        return None
    files = closure_files(c.id for c in closures)
    items = [ClosureItem(c, str(KIND_LABELS[c.kind]), str(STATUS_LABELS[c.status]),
                         [(a, attachment_url(a)) for a in files.get(c.id, [])], report_url(c))
             for c in closures]
    return {"items": items}


panels.register("closure", "handling/closure/_panel.html", panel)


# ---------------------------------------------------------------- printed: 销号单 / 暂难解决审批表


def _when(value: datetime | None) -> str:
    """2026年3月2日 10:00: the documents' one way of writing a date, with the time."""
    return f"{cn_date(value)} {clock.local(value).strftime('%H:%M')}" if value else ""


def _assignment_of(problem: Problem, closure: Closure) -> Assignment | None:
    """The assignment the unit handled when it made the request (None for an on-the-spot solution)."""
    if closure.kind == ClosureKind.on_spot:
        return None
    return db.session.scalar(
        select(Assignment).where(Assignment.problem_id == problem.id, Assignment.assigned_at <= closure.requested_at)
        .options(selectinload(Assignment.units).joinedload(AssignmentUnit.unit), joinedload(Assignment.assigner_unit))
        .order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(1))


def _reply_for(problem: Problem, closure: Closure) -> Reply | None:
    """The resident's latest verdict on this closure: replies after it, before the next request."""
    later = db.session.scalar(select(Closure.requested_at).where(
        Closure.problem_id == problem.id, Closure.id > closure.id).order_by(Closure.id).limit(1))
    q = select(Reply).where(Reply.problem_id == problem.id, Reply.created_at >= closure.requested_at)
    if later is not None:
        q = q.where(Reply.created_at < later)
    return db.session.scalar(q.order_by(Reply.created_at.desc(), Reply.id.desc()).limit(1))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


def report_context(problem: Problem, closure: Closure) -> dict:
    """The 销号单 / 暂难解决审批表 as a plain view-model (phone masked whoever prints it)."""
    a = _assignment_of(problem, closure)
    lead = next((p for p in a.units if p.role == UnitRole.lead), None) if a else None
    cooperating = [p for p in a.units if p.role == UnitRole.cooperating] if a else []
    files = closure_files([closure.id]).get(closure.id, [])
    reply = _reply_for(problem, closure)
    cannot = closure.kind == ClosureKind.cannot_solve
    deadline: date | None = None
    if a is not None:
        deadline = problem.deadline if a.is_current and problem.deadline else a.deadline
    final = closure.status in (ClosureStatus.verified, ClosureStatus.approved)
    verdicts = {ClosureStatus.verified: _("核销通过。"), ClosureStatus.verification_rejected: _("退回重办。"),
                ClosureStatus.approved: _("同意按暂难解决办结。"), ClosureStatus.office_rejected: _("不同意，驳回申请。")}
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动"),
        "doc_title": _("暂难解决审批表") if cannot else _("销号单"),
        "doc_number": closure.number,
        "cannot": cannot,
        "on_spot": closure.kind == ClosureKind.on_spot,
        "final": final,
        "status_label": str(STATUS_LABELS[closure.status]),
        "problem_number": problem.number,
        "title": problem.title,
        "description": problem.description,
        "category": problem.category.name,
        "resident": problem.resident_name,
        "phone": shown_phone(problem),
        "village": f"{problem.town.name}{problem.village.name}",
        "address": problem.address,
        "tier": problem.tier.label if problem.tier else "",
        "lead_unit": (lead.unit.name if lead else (closure.unit.name if closure.unit else "")),
        "cooperating": [p.unit.name for p in cooperating if p.status.value != "withdrawn"],
        "assignment_number": a.number if a else "",
        "assigned_on": clock.local(a.assigned_at).date() if a else None,
        "assigner": a.assigner_unit.name if a else (problem.assigner_unit.name if problem.assigner_unit else ""),
        "deadline": deadline,
        "result": closure.result,
        "reason_kind": closure.reason_kind.label if closure.reason_kind else "",
        "completed_on": closure.completed_on,
        "files": [{"name": f.filename, "size": _size(f.size), "when": _when(f.created_at),
                   "by": f.uploaded_by.full_name} for f in files],
        "evidence": evidence_figures([(_("销号佐证") if not cannot else _("情况说明附件"), files)]
                                     + step_groups(problem, steps_in_force(problem)[1])),
        "no_evidence_reason": closure.no_evidence_reason,
        "open_parts_reason": closure.open_parts_reason,
        "requested_by": closure.requested_by.full_name,
        "requested_at": _when(closure.requested_at),
        "leader": closure.leader.full_name if closure.leader and closure.kind == ClosureKind.signoff else "",
        "leader_at": _when(closure.leader_at) if closure.kind == ClosureKind.signoff else "",
        "leader_note": closure.leader_note,
        "leader_verdict": _("退回销号申请。") if closure.status == ClosureStatus.leader_rejected else _("同意销号。"),
        "verdict": verdicts.get(closure.status, ""),
        "verifier": closure.verifier.full_name if closure.verifier else "",
        "verifier_unit": closure.verifier_unit.name if closure.verifier_unit else "",
        "verified_at": _when(closure.verified_at),
        "verifier_note": closure.verifier_note,
        "reply": {"verdict": str(reply.verdict.label), "method": str(reply.method.label), "when": _when(reply.replied_at),
                  "by": reply.replied_by.full_name, "words": reply.resident_words} if reply else None,
        "printed_on": clock.today(),
    }


@bp.get("/cases/<int:problem_id>/closures/<int:closure_id>.pdf")
@casework
def report_pdf(problem_id: int, closure_id: int):
    """销号单 (sign-off, on-the-spot) or 暂难解决审批表, for whoever may see the problem (404 otherwise)."""
    problem = get_problem_or_404(problem_id, current_user)
    closure = db.session.scalar(select(Closure).where(Closure.id == closure_id, Closure.problem_id == problem.id)
                                .options(joinedload(Closure.unit), joinedload(Closure.requested_by),
                                         joinedload(Closure.leader), joinedload(Closure.verifier),
                                         joinedload(Closure.verifier_unit)))
    if closure is None:
        abort(404)
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        ctx = report_context(problem, closure)
        data = render_pdf("closure_report", **ctx)
    return pdf_response(data, f"{ctx['doc_title']}-{problem.number}.pdf")
