"""调度会议程: generate a scheduling meeting's agenda, read it, and print its packet.

The office generates (a work group's half-monthly meeting or its own monthly one), a work group
lead its own group's (asking for another group's or the office's meeting is 403); the office and
the leader read every agenda; a group lead reads the agendas of its own group's meetings
(another group's agenda is 404). The packet is one PDF, built by a background job (the
requester follows it on ``/jobs/<id>`` and downloads it there; it is kept in the upload store): the agenda, then for each problem its
current 问题交办单 and the 任务书 in force, rendered from the same view-models as their own
downloads (``sheet_routes.sheet_context``, ``taskbook_routes.book_context``).
"""

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectChoice

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.models import User
from ..accounts.roles import Role
from ..cases.models import Assignment, AssignmentUnit, Problem
from ..cases.sheet_routes import sheet_context
from ..cases.workflow import NotAllowed
from ..core import clock, jobs
from ..core.clock import LOCAL_TZ
from ..core.errors import Conflict, FieldsInvalid
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import render_documents
from ..handling.models import BookStatus, TaskBook, TaskStep
from ..handling.taskbook_routes import book_context
from ..org.models import Unit, UnitKind
from . import agendas, minutes
from .agenda_forms import AgendaForm, HoldForm, ProposalForm
from .models import Agenda, AgendaItem, AgendaKind

bp = Blueprint("agendas", __name__, url_prefix="/supervision/agendas")
readers = roles_required(Role.office, Role.leader, Role.group_lead)
group_lead = roles_required(Role.group_lead)
holders = roles_required(*minutes.HOLDERS)
generators = roles_required(*agendas.GENERATORS)

HISTORY_SHOWN = 200  # the index lists the newest agendas, at most this many
# The packet adds a sheet and a task book for at most this many problems, the first on the
# agenda (the agenda itself always lists every problem). Measured: 30 problems = 61 documents,
# 64 pages in 9–20 s on two busy cores (0.15–0.3 s a document); built by a background job.
PACKET_PROBLEMS = 30
NUMERALS = "一二三四五六七八九十"
ISSUER = "贾汪区“百千万”集中走访帮扶活动"


@bp.record_once
def _menu(_state) -> None:
    nav.register("agendas.index", _l("调度会议程"))


# ---------------------------------------------------------------- reads


def _visible(q, user):
    """Office and leader: every agenda; a group lead: its own group's meetings."""
    if user.role == Role.group_lead:
        return q.where(Agenda.kind == AgendaKind.group, Agenda.scope_unit_id == user.unit_id)
    return q


def _get_or_404(agenda_id: int) -> Agenda:
    agenda = db.session.scalar(_visible(select(Agenda).where(Agenda.id == agenda_id), current_user).options(
        joinedload(Agenda.scope_unit), joinedload(Agenda.created_by),
        selectinload(Agenda.items).joinedload(AgendaItem.problem)))
    if agenda is None:
        abort(404)
    return agenda


def _work_groups() -> list[Unit]:
    return db.session.scalars(select(Unit).where(Unit.kind == UnitKind.work_group, Unit.is_active.is_(True))
                              .order_by(Unit.id)).all()


def scope_name(agenda: Agenda) -> str:
    return agenda.scope_unit.name if agenda.scope_unit is not None else "全区"


def _reason_labels(codes) -> list[str]:
    return [str(agendas.REASONS[c]) for c in codes if c in agendas.REASONS]


@bp.get("")
@readers
def index():
    """The agendas generated so far, newest meeting first."""
    rows = db.session.scalars(_visible(select(Agenda), current_user).options(
        joinedload(Agenda.scope_unit), joinedload(Agenda.created_by))
        .order_by(Agenda.meeting_on.desc(), Agenda.id.desc()).limit(HISTORY_SHOWN)).all()
    counts = dict(db.session.execute(
        select(AgendaItem.agenda_id, func.count()).where(AgendaItem.agenda_id.in_([a.id for a in rows]))
        .group_by(AgendaItem.agenda_id)).all()) if rows else {}
    return render("supervision/agendas/index.html", agendas=rows, counts=counts, kind_labels=agendas.KIND_LABELS,
                  may_generate=current_user.role in agendas.GENERATORS, shown=HISTORY_SHOWN, scope_name=scope_name,
                  period_label=agendas.period_label)


@bp.get("/<int:agenda_id>")
@readers
def show(agenda_id: int):
    """One agenda: the problems under each reason, with their frozen summary."""
    agenda = _get_or_404(agenda_id)
    return render("supervision/agendas/show.html", agenda=agenda, sections=agendas.sections(agenda.items),
                  kind_label=agendas.KIND_LABELS[agenda.kind], scope=scope_name(agenda),
                  period=agendas.period_label(agenda.period_start, agenda.period_end),
                  may_hold=agenda.meeting_id is None and minutes.may_hold(current_user, agenda),
                  reason_labels=_reason_labels, packet_cap=PACKET_PROBLEMS)


# ---------------------------------------------------------------- generate


def _scope_from(form: AgendaForm) -> agendas.Scope | None:
    """The meeting the form describes; None (with the field's message set) when it cannot be."""
    unit = None
    if form.kind.data == AgendaKind.group.value:
        unit = db.session.get(Unit, form.work_group.data) if form.work_group.data else None
    try:
        return agendas.scope_of(form.kind.data, unit, form.meeting_on.data)
    except agendas.AgendaInvalid as exc:
        getattr(form, exc.field).errors = [*getattr(form, exc.field).errors, str(exc.message)]
        return None


def _new_page(form: AgendaForm, post_form: AgendaForm | None = None, *, status: int = 200):
    """The form; with a valid meeting, the preview of its agenda and the form that generates it."""
    scope = items = previous = None
    meeting_errors = form.kind.errors or form.work_group.errors or form.meeting_on.errors
    if form.kind.data and form.meeting_on.data and not meeting_errors:
        scope = _scope_from(form)
    if scope is not None:
        items = agendas.select_items(scope)
        previous = agendas.existing(scope.kind, scope.unit, scope.meeting_on)
        if post_form is None:
            post_form = AgendaForm(formdata=None, data={
                "kind": scope.kind.value, "work_group": scope.unit.id if scope.unit else None,
                "meeting_on": scope.meeting_on})
    return render("supervision/agendas/new.html", status=status, form=form, post_form=post_form, scope=scope,
                  title=agendas.title_of(scope) if scope else None,
                  period=agendas.period_label(scope.start, scope.end) if scope else None,
                  sections=agendas.sections(items) if items is not None else None, count=len(items or ()),
                  previous=previous, kind_labels=agendas.KIND_LABELS, reason_labels=_reason_labels)


def _choices(form: AgendaForm) -> AgendaForm:
    """The meetings the user may choose: a work group lead its own group's alone, already chosen."""
    if current_user.role == Role.group_lead:
        form.kind.choices = [c for c in form.kind.choices if c.value == AgendaKind.group.value]
        form.work_group.choices = [SelectChoice(current_user.unit_id, current_user.unit.name)]
        form.kind.data = form.kind.data or AgendaKind.group.value
        form.work_group.data = form.work_group.data or current_user.unit_id
        return form
    form.work_group.choices = [SelectChoice("", _("（请选择）"))] + [SelectChoice(u.id, u.name) for u in _work_groups()]
    return form


def _owned_or_403(form: AgendaForm) -> None:
    """A work group lead asking for another group's or the office's meeting is refused."""
    if current_user.role != Role.group_lead:
        return
    kind = form.kind.data or AgendaKind.group.value
    if kind not in {k.value for k in AgendaKind}:
        return  # not a meeting at all: the form's own check names the field
    unit = db.session.get(Unit, form.work_group.data) if form.work_group.data else None
    if not agendas.may_generate(current_user, kind, unit):
        abort(403)


@bp.get("/new")
@generators
def new():
    """Choose the meeting; a GET with the meeting's fields shows what its agenda would hold."""
    if request.args:
        form = _choices(AgendaForm(request.args, meta={"csrf": False}))
        _owned_or_403(form)
        form.validate()
    else:
        form = _choices(AgendaForm(formdata=None, data={"kind": AgendaKind.group.value,
                                                         "meeting_on": clock.today()}, meta={"csrf": False}))
    return _new_page(form)


@bp.post("")
@generators
def create():
    """生成议程: the agenda of the meeting, frozen from now on."""
    form = _choices(AgendaForm())
    _owned_or_403(form)
    if not form.validate_on_submit():
        return _new_page(_choices(AgendaForm(request.form, meta={"csrf": False})), form)
    scope = _scope_from(form)
    if scope is None:
        return _new_page(form, form)
    previous = agendas.existing(scope.kind, scope.unit, scope.meeting_on)
    if previous is not None and not form.again.data:
        form.again.errors = [_("该次会议已于%(at)s生成过议程。如需按现在的情况重新生成，请勾选此项。",
                               at=clock.local(previous.created_at).strftime("%Y-%m-%d %H:%M"))]
        return _new_page(form, form)
    agenda = agendas.generate(scope.kind, scope.unit, scope.meeting_on, current_user, form.note.data)
    db.session.commit()
    flash(_("已生成%(title)s，共 %(n)d 个问题。", title=agenda.title, n=len(agenda.items)), "success")
    return redirect(url_for("agendas.show", agenda_id=agenda.id))


# ---------------------------------------------------------------- the meeting and its minutes


def _hold_page(agenda: Agenda, form: HoldForm, *, error: str | None = None, status: int = 200):
    return render("supervision/agendas/hold.html", status=status, agenda=agenda, form=form, error=error,
                  units=minutes.invited_units(agenda))


@bp.route("/<int:agenda_id>/meeting", methods=["GET", "POST"])
@holders
def hold(agenda_id: int):
    """召开调度会: when, where and who chaired; then the minutes on the meeting's own page
    (attendance, summary, decisions as dated steps) and the numbered 纪要."""
    agenda = _get_or_404(agenda_id)
    if agenda.meeting_id is not None:
        return redirect(url_for("meetings.show", meeting_id=agenda.meeting_id))
    if request.method == "GET":
        return _hold_page(agenda, HoldForm(formdata=None, data={"day": agenda.meeting_on}))
    form = HoldForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return _hold_page(agenda, form, error=_("页面已过期，请刷新后重试。"), status=400)
        return _hold_page(agenda, form)
    starts_at = None
    if form.day.data is not None and form.time.data is not None:
        starts_at = datetime.combine(form.day.data, form.time.data, tzinfo=LOCAL_TZ).astimezone(UTC)
    try:
        meeting = minutes.hold(agenda, current_user, starts_at=starts_at, place=form.place.data, host=form.host.data)
    except FieldsInvalid as exc:
        db.session.rollback()
        fields = {"starts_at": form.day if form.day.data is None else form.time, "place": form.place,
                  "host": form.host}
        for name, message in exc.errors.items():
            fields[name].errors = [*fields[name].errors, str(message)]
        return _hold_page(_get_or_404(agenda_id), form)
    except (Conflict, NotAllowed) as exc:
        db.session.rollback()
        return _hold_page(_get_or_404(agenda_id), form, error=str(exc), status=409)
    db.session.commit()
    flash(_("已记录%(title)s（%(number)s），请填写出席情况和会议决定。", title=meeting.title, number=meeting.number),
          "success")
    return redirect(url_for("meetings.minutes", meeting_id=meeting.id))


# ---------------------------------------------------------------- proposals


def _proposals_page(form: ProposalForm | None, *, status: int = 200):
    if form is not None:
        form.problem_id.choices = [SelectChoice("", _("（请选择）"))] + [
            SelectChoice(p.id, f"{p.number} {p.title[:30]}") for p in agendas.proposable(current_user.unit)]
    return render("supervision/agendas/proposals.html", status=status, form=form,
                  proposals=agendas.proposals_for(current_user), max_reason=agendas.PROPOSAL_REASON_MAX)


@bp.get("/proposals")
@readers
def proposals():
    """提请调度会: a group lead proposes its group's hard cases for the office's next meeting and
    sees what it proposed; the office and the leader see every proposal, open ones first."""
    form = None
    if current_user.role == Role.group_lead:
        form = ProposalForm(formdata=None, data={"problem_id": request.args.get("problem_id", type=int)})
    return _proposals_page(form)


@bp.post("/proposals")
@group_lead
def propose():
    form = ProposalForm()
    if not form.validate_on_submit():
        return _proposals_page(form, status=400)
    problem = db.session.get(Problem, form.problem_id.data) if form.problem_id.data else None
    try:
        prop = agendas.propose(current_user, problem, form.reason.data)
    except agendas.AgendaInvalid as exc:
        db.session.rollback()
        getattr(form, exc.field).errors = [str(exc.message)]
        return _proposals_page(form, status=422)
    db.session.commit()
    flash(_("已提请活动办调度会：%(n)s。", n=prop.problem.number), "success")
    return redirect(url_for("agendas.proposals"))


# ---------------------------------------------------------------- print


def print_context(agenda: Agenda, *, packet: bool = False) -> dict:
    """What the printed agenda shows (Chinese; no resident's contact)."""
    sections = []
    for n, (_code, label, items) in enumerate(agendas.sections(agenda.items)):
        sections.append({"numeral": NUMERALS[n], "label": str(label), "rows": [
            {"seq": i.seq, "number": i.problem.number, "title": i.problem.title, "detail": i.detail} for i in items]})
    return {
        "issuer": ISSUER, "doc_title": agenda.title, "kind": str(agendas.KIND_LABELS[agenda.kind]),
        "meeting_on": agenda.meeting_on, "scope": scope_name(agenda),
        "period": agendas.period_label(agenda.period_start, agenda.period_end), "count": len(agenda.items),
        "note": agenda.note, "sections": sections, "created_by": agenda.created_by.full_name,
        "created_at": agenda.created_at, "packet": packet,
        "attached": min(len(agenda.items), PACKET_PROBLEMS), "capped": len(agenda.items) > PACKET_PROBLEMS,
    }


def packet_parts(agenda: Agenda) -> list[tuple[str, dict]]:
    """The agenda, then per problem (agenda order, at most ``PACKET_PROBLEMS``) its current
    交办单 and the 任务书 in force. Five statements for the documents, whatever their number."""
    ids = [i.problem_id for i in agenda.items][:PACKET_PROBLEMS]
    problems = {p.id: p for p in db.session.scalars(select(Problem).where(Problem.id.in_(ids)).options(
        joinedload(Problem.town), joinedload(Problem.village), joinedload(Problem.category),
        joinedload(Problem.work_group), joinedload(Problem.visit)))} if ids else {}
    current = [p.current_assignment_id for p in problems.values() if p.current_assignment_id]
    sheets = {a.problem_id: a for a in db.session.scalars(select(Assignment).where(Assignment.id.in_(current)).options(
        selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
        selectinload(Assignment.units).joinedload(AssignmentUnit.signed_by),
        joinedload(Assignment.assigner_unit), joinedload(Assignment.assigned_by)))} if current else {}
    books = {b.problem_id: b for b in db.session.scalars(
        select(TaskBook).where(TaskBook.problem_id.in_(ids), TaskBook.status == BookStatus.approved).options(
            joinedload(TaskBook.handler), joinedload(TaskBook.submitted_by), joinedload(TaskBook.decided_by),
            joinedload(TaskBook.unit), selectinload(TaskBook.steps).joinedload(TaskStep.unit),
            selectinload(TaskBook.steps).joinedload(TaskStep.done_by)))} if ids else {}
    parts = [("agenda", print_context(agenda, packet=True))]
    for pid in ids:
        if pid in sheets:
            parts.append(("assignment_sheet", sheet_context(sheets[pid])))
        if pid in books:
            parts.append(("task_book", book_context(problems[pid], books[pid])))
    return parts


PACKET_KIND = "supervision.packet"
jobs.register_kind(PACKET_KIND, _l("会议材料"))


@bp.post("/<int:agenda_id>/packet")
@readers
def packet(agenda_id: int):
    """Start building the meeting's packet in the background; its page shows the progress and
    then the download (the PDF takes tens of seconds: never built inside a request)."""
    agenda = _get_or_404(agenda_id)
    job = jobs.start_job(PACKET_KIND, current_user, f"{agenda.title}（会议材料）"[:200], build_packet, agenda.id)
    db.session.commit()
    return redirect(url_for("jobs.detail", job_id=job.id))


@jobs.job_task(retries=1, retry_delay=30)
def build_packet(run: jobs.JobRun, agenda_id: int) -> dict:
    """The meeting's packet: the agenda with every sheet and task book it refers to, one PDF,
    kept in the upload store as the job's file. Built only if its requester may still read the
    agenda (a group lead moved to another group meanwhile may not)."""
    user = db.session.get(User, run.user_id) if run.user_id else None
    agenda = None
    if user is not None and user.is_active and user.role in (Role.office, Role.leader, Role.group_lead):
        agenda = db.session.scalar(_visible(select(Agenda).where(Agenda.id == agenda_id), user).options(
            joinedload(Agenda.scope_unit), joinedload(Agenda.created_by),
            selectinload(Agenda.items).joinedload(AgendaItem.problem)))
    if agenda is None:
        raise jobs.JobError(_("议程不存在，或您已无权查看该议程。"))
    with force_locale("zh_CN"):  # official documents: Chinese whatever the user's language
        parts = packet_parts(agenda)
        run.progress(0, len(parts))
        result = render_documents(parts, progress=lambda done, total: run.progress(done, total))
    current_app.logger.info("agenda packet %s: %d pages in %.2f s", agenda.id, result.pages, result.seconds)
    stored = run.save_file(f"{agenda.title}（会议材料）.pdf", result.data)
    return {**stored, "pages": result.pages,
            "summary": _("共 %(pages)d 页，含 %(parts)d 份材料。", pages=result.pages, parts=len(parts))}
