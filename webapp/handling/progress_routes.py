"""报送进展, 内部备注, 配合单位反馈 and 延期 (request and decision): the form pages of the work on
a problem, and the problem page's panel of cooperating parts, extensions and progress reports.

Each page loads its problem through ``pages.load`` (404 outside the user's scope), asks the
workflow whether the user may do this now (``workflow.check`` / ``check_activity``: 403 without
the right, 409 when the problem has moved on), validates its form and hands the operation of
``handling.operations`` to ``pages.perform`` (commit once, PRG, 409/403/field errors). A refused
submission keeps what the user typed: the form again, or, when it cannot be sent any more, the
text shown as "not saved".
"""

from flask import Blueprint, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases import pages, panels, uploads
from ..cases.access import relations, unit_part
from ..cases.actions import PART_STATUS_LABELS, UNIT_ROLE_LABELS, event_label, object_url
from ..cases.models import AttachmentKind, PartStatus, Problem, UnitRole
from ..cases.operations import replayed
from ..cases.workflow import Action, Activity, may, may_do
from ..core import clock
from ..core.deadlines import latest_extension_request, time_left
from ..core.extensions import db
from ..core.render import render
from . import operations as handling
from .models import Extension, RequestStatus
from .progress_forms import (
    ExtensionDecisionForm,
    ExtensionForm,
    NoteForm,
    PartFeedbackForm,
    ProgressForm,
)
from .queries import pending_extension

bp = Blueprint("progress", __name__)
# The roles that could ever do it; the workflow decides for the problem at hand.
unit_staff = roles_required(Role.handler, Role.unit_leader, Role.desk)
assigners = roles_required(Role.group_lead, Role.office)
note_takers = roles_required(Role.cadre, Role.group_lead, Role.handler, Role.unit_leader, Role.desk, Role.office)

FILE_TYPES = "image/jpeg,image/png,application/pdf"
PANEL_EVENTS = ("progress", "part_feedback")
PANEL_EVENT_LIMIT = 5

EXTENSION_STATUS_LABELS = {
    RequestStatus.pending: _l("待审批"),
    RequestStatus.approved: _l("已批准"),
    RequestStatus.rejected: _l("已驳回"),
    RequestStatus.withdrawn: _l("已撤回"),
}


# ---------------------------------------------------------------- shared


def _unsaved(form) -> list[tuple[str, str]]:
    """What the user typed into a form that cannot be sent any more (shown, not lost)."""
    out = []
    for f in form:
        if f.type == "TextAreaField" and isinstance(f.data, str) and f.data.strip():
            out.append((str(f.label.text), f.data))
        elif f.type == "LocalDateField" and f.data is not None:
            out.append((str(f.label.text), f.data.isoformat()))
    return out


def _apply_field_errors(form, field_errors: dict | None) -> str | None:
    """Put an operation's field errors (``FieldsInvalid.errors``) on the form; the rest on top."""
    rest = []
    for name, message in (field_errors or {}).items():
        f = form._fields.get(name)
        if f is not None:
            f.errors = [*(f.errors or []), str(message)]
        else:
            rest.append(str(message))
    return "；".join(rest) or None


def _page(template: str, problem: Problem, what, form, *, title, status=200, error=None, field_errors=None,
          can_send: bool = True, **ctx):
    """Draw a form page: the problem, the form (or, when it cannot be sent, what the user typed)."""
    error = _apply_field_errors(form, field_errors) or error
    refused = pages.refusal(problem, what)
    allowed = refused is None
    if not allowed:
        if error is None:
            error = refused[1]
        if status == 200:
            status = refused[0]
    show_form = allowed and can_send
    submitted = request.method == "POST"
    return render(
        template, status=status, problem=problem, form=form, title=title, error=error, show_form=show_form,
        unsaved=_unsaved(form) if submitted and not show_form else [],
        hidden_errors=[e for name in ("csrf_token", "version") if name in form._fields
                       for e in form._fields[name].errors],
        problem_url=url_for("cases.detail", problem_id=problem.id),
        left=time_left(problem.deadline) if problem.deadline else None,
        file_types=FILE_TYPES, max_files=uploads.MAX_FILES_PER_PROBLEM, **ctx)


def _load_for_post(problem_id: int) -> Problem:
    return pages.load(problem_id, for_update=True)


# ---------------------------------------------------------------- 报送进展


def _progress_page(problem, form, **kw):
    return _page("handling/progress/update.html", problem, Activity.progress, form, title=_("报送进展"), **kw)


@bp.route("/cases/<int:problem_id>/progress", methods=["GET", "POST"])
@unit_staff
def update(problem_id: int):
    """报送进展 (the lead unit): text, whether the resident may be told, optional files."""
    if request.method == "GET":
        return _progress_page(pages.load(problem_id), ProgressForm(formdata=None))
    problem = _load_for_post(problem_id)
    form = ProgressForm()
    refused = pages.refusal(problem, Activity.progress)
    if refused:
        return _progress_page(problem, form, status=refused[0], error=refused[1])
    ok = form.validate_on_submit()
    checked, file_errors = pages.check_files(request.files.getlist(form.files.name))
    if file_errors:
        form.files.errors = file_errors
    if not ok or file_errors:
        return _progress_page(problem, form)
    written: list[str] = []

    def work():
        if replayed(form.token.data) is not None:
            return _("这份材料刚刚已经提交过（重复提交），未再次记录。")
        event = handling.record_progress(problem, current_user, text=form.text.data, public=bool(form.is_public.data),
                                         token=form.token.data)
        pages.store_files(problem, current_user, checked, kind=AttachmentKind.progress, written=written, event=event)
        message = _("已报送进展，群众可以获知。") if event.is_public else _("已报送进展（仅内部可见）。")
        if checked:
            message += _("附件 %(n)d 份。", n=len(checked))
        return message

    return pages.perform(problem_id, work, lambda p, **kw: _progress_page(p, form, **kw), written=written)


# ---------------------------------------------------------------- 内部备注


def _note_page(problem, form, **kw):
    return _page("handling/progress/note.html", problem, Activity.note, form, title=_("内部备注"), **kw)


@bp.route("/cases/<int:problem_id>/note", methods=["GET", "POST"])
@note_takers
def note(problem_id: int):
    """内部备注: for those who work on the problem; never shown to the resident."""
    if request.method == "GET":
        return _note_page(pages.load(problem_id), NoteForm(formdata=None))
    problem = _load_for_post(problem_id)
    form = NoteForm()
    refused = pages.refusal(problem, Activity.note)
    if refused:
        return _note_page(problem, form, status=refused[0], error=refused[1])
    if not form.validate_on_submit():
        return _note_page(problem, form)

    def work():
        if replayed(form.token.data) is not None:
            return _("这份材料刚刚已经提交过（重复提交），未再次记录。")
        handling.add_note(problem, current_user, text=form.text.data, token=form.token.data)
        return _("已添加内部备注。")

    return pages.perform(problem_id, work, lambda p, **kw: _note_page(p, form, **kw))


# ---------------------------------------------------------------- 配合单位反馈


def _feedback_page(problem, form, **kw):
    part = unit_part(current_user, problem)
    return _page("handling/progress/part_feedback.html", problem, Activity.part_feedback, form, title=_("配合单位反馈"),
                 part=part if part is not None and part.role == UnitRole.cooperating else None,
                 part_labels=PART_STATUS_LABELS, part_done=part is not None and part.status == PartStatus.done,
                 lead_unit=problem.lead_unit, **kw)


@bp.route("/cases/<int:problem_id>/part-feedback", methods=["GET", "POST"])
@unit_staff
def part_feedback(problem_id: int):
    """配合单位反馈: a cooperating unit reports on its own part (and, once, that it is done)."""
    if request.method == "GET":
        return _feedback_page(pages.load(problem_id), PartFeedbackForm(formdata=None))
    problem = _load_for_post(problem_id)
    form = PartFeedbackForm()
    refused = pages.refusal(problem, Activity.part_feedback)
    if refused:
        return _feedback_page(problem, form, status=refused[0], error=refused[1])
    ok = form.validate_on_submit()
    checked, file_errors = pages.check_files(request.files.getlist(form.files.name))
    if file_errors:
        form.files.errors = file_errors
    if not ok or file_errors:
        return _feedback_page(problem, form)
    written: list[str] = []

    def work():
        done = bool(form.done.data)
        if replayed(form.token.data) is not None:
            return _("这份材料刚刚已经提交过（重复提交），未再次记录。")
        event = handling.part_feedback(problem, current_user, text=form.text.data, done=done, token=form.token.data)
        pages.store_files(problem, current_user, checked, kind=AttachmentKind.progress, written=written, event=event)
        message = _("已报告本单位配合任务完成。") if done else _("已报送本单位的配合办理情况。")
        if checked:
            message += _("附件 %(n)d 份。", n=len(checked))
        return message

    return pages.perform(problem_id, work, lambda p, **kw: _feedback_page(p, form, **kw), written=written)


# ---------------------------------------------------------------- 申请延期


def _extensions(problem: Problem) -> list[Extension]:
    return db.session.scalars(
        select(Extension).where(Extension.problem_id == problem.id).order_by(Extension.id.desc())
        .options(joinedload(Extension.requested_by), joinedload(Extension.decided_by), joinedload(Extension.unit))
    ).all()


def _extension_page(problem, form, *, status=200, **kw):
    pending = pending_extension(problem)
    latest = latest_extension_request(problem.deadline) if problem.deadline else None
    too_late = latest is not None and clock.today() > latest
    if status == 409 and request.method == "POST":
        form.version.data = problem.version  # they have now seen the problem as it is
    # A refused submission is shown with the form again, so that nothing typed is lost.
    can_send = pending is None and (not too_late or request.method == "POST")
    return _page("handling/progress/extension.html", problem, Action.request_extension, form, title=_("申请延期"),
                 status=status, can_send=can_send, pending=pending, latest=latest, too_late=too_late,
                 history=[e for e in _extensions(problem) if e.status != RequestStatus.pending],
                 status_labels=EXTENSION_STATUS_LABELS, **kw)


@bp.route("/cases/<int:problem_id>/extension", methods=["GET", "POST"])
@unit_staff
def extension(problem_id: int):
    """申请延期: a new deadline with reason and progress so far, before the deadline."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        return _extension_page(problem, ExtensionForm(formdata=None, data={"version": problem.version}))
    problem = _load_for_post(problem_id)
    form = ExtensionForm()
    refused = pages.refusal(problem, Action.request_extension)
    if refused:
        return _extension_page(problem, form, status=refused[0], error=refused[1])
    if not form.validate_on_submit():
        return _extension_page(problem, form)

    def work():
        ext = handling.request_extension(problem, current_user, new_deadline=form.new_deadline.data,
                                         reason=form.reason.data, progress=form.progress.data,
                                         version=form.version.data)
        return _("已申请延期至 %(d)s，等待%(unit)s审批。", d=ext.new_deadline.isoformat(),
                 unit=problem.assigner_unit.name if problem.assigner_unit else _("交办单位"))

    def rerender(p, **kw):
        repeat = _repeated_request(p, form) if kw.get("status") == 409 else None
        if repeat is not None:  # a double submit: the first one went through
            return pages.done(p.id, _("延期申请已经提交，未重复提交。"), "info")
        return _extension_page(p, form, **kw)

    return pages.perform(problem_id, work, rerender, action=Action.request_extension)


def _repeated_request(problem: Problem, form) -> Extension | None:
    """The pending request is exactly what this user just sent (a double submit)."""
    ext = pending_extension(problem)
    if ext is not None and ext.requested_by_id == current_user.id and ext.new_deadline == form.new_deadline.data \
            and ext.reason == (form.reason.data or "").strip() and ext.progress == (form.progress.data or "").strip():
        return ext
    return None


# ---------------------------------------------------------------- 审批延期


def _decision_page(problem, form, **kw):
    pending = pending_extension(problem)
    return _page("handling/progress/extension_decision.html", problem, Action.decide_extension, form, title=_("审批延期"),
                 can_send=pending is not None, pending=pending,
                 history=[e for e in _extensions(problem) if e.status != RequestStatus.pending],
                 status_labels=EXTENSION_STATUS_LABELS, **kw)


@bp.route("/cases/<int:problem_id>/extension/decision", methods=["GET", "POST"])
@assigners
def extension_decision(problem_id: int):
    """审批延期 (谁交办谁跟踪): approve (the deadline moves) or reject with the reason."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        return _decision_page(problem, ExtensionDecisionForm(formdata=None, data={"version": problem.version}))
    problem = _load_for_post(problem_id)
    form = ExtensionDecisionForm()
    refused = pages.refusal(problem, Action.decide_extension)
    if refused:
        return _decision_page(problem, form, status=refused[0], error=refused[1])
    if not form.validate_on_submit():
        return _decision_page(problem, form)
    approve = form.decision.data == "approve"

    def work():
        ext = handling.decide_extension(problem, current_user, approve=approve, note=form.note.data,
                                        version=form.version.data)
        if approve:
            return _("已同意延期，办理时限改为 %(d)s。", d=ext.new_deadline.isoformat())
        return _("已驳回延期申请，办理时限仍为 %(d)s。", d=ext.old_deadline.isoformat())

    def rerender(p, **kw):
        if kw.get("status") == 409:
            form.version.data = p.version
        return _decision_page(p, form, **kw)

    return pages.perform(problem_id, work, rerender, action=Action.decide_extension)


# ---------------------------------------------------------------- the problem page's panel


def _attachment_url(a) -> str | None:
    return object_url("intake.attachment", attachment_id=a.id, problem_id=a.problem_id, default=a.id)


def panel(user, problem: Problem) -> dict | None:
    """Cooperating parts (status, latest feedback), extensions, the latest progress reports."""
    assignment = problem.current_assignment
    parts = [p for p in assignment.units if p.role == UnitRole.cooperating and p.is_current] if assignment else []
    extensions = _extensions(problem)
    events = [e for e in reversed(problem.events) if e.action in PANEL_EVENTS]
    if not parts and not extensions and not events:
        return None
    files: dict[int, list] = {}
    for a in problem.attachments:
        if a.event_id is not None:
            files.setdefault(a.event_id, []).append((a, _attachment_url(a)))
    rels = relations(user, problem)
    pending = next((e for e in extensions if e.status == RequestStatus.pending), None)
    return {
        "parts": parts,
        "part_labels": PART_STATUS_LABELS,
        "unit_role_labels": UNIT_ROLE_LABELS,
        "feedback_url": url_for("progress.part_feedback", problem_id=problem.id)
        if may_do(Activity.part_feedback, problem.status, user.role, rels) else None,
        "extensions": extensions,
        "pending": pending,
        "status_labels": EXTENSION_STATUS_LABELS,
        "decide_url": url_for("progress.extension_decision", problem_id=problem.id)
        if pending is not None and may(problem.status, Action.decide_extension, user.role, rels) else None,
        "events": [(e, files.get(e.id, [])) for e in events[:PANEL_EVENT_LIMIT]],
        "more_events": max(0, len(events) - PANEL_EVENT_LIMIT),
        "event_label": event_label,
    }


panels.register("progress", "handling/progress/_panel.html", panel)
