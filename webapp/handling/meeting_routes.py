"""Joint meetings (协商会办, 难事联办): convene a 协商会/会办会 on problems, record its minutes
(会议纪要: attendance and decisions, each decision a dated step on the problem's task book),
cancel it, and print the minutes.

Every read goes through ``queries.meeting_scope`` (a unit that neither convened nor was
invited gets 404); every write is one operation of ``handling.operations`` and one commit.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..cases import operations as ops
from ..cases import panels
from ..cases.workflow import MEETING_CONVENERS, NotAllowed
from ..core import clock
from ..core.errors import Conflict, FieldsInvalid, Invalid
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..org.models import Unit
from . import queries as mq
from .meeting_forms import (
    INVITABLE,
    MAX_DECISION_ROWS,
    MIN_DECISION_ROWS,
    CancelForm,
    ConveneForm,
    MinutesForm,
)
from .meetings import (
    DecisionInput,
    cancel_meeting,
    convene_meeting,
    may_manage_meeting,
    record_minutes,
)
from .models import Meeting, MeetingKind, MeetingStatus

bp = Blueprint("meetings", __name__)
viewers = roles_required(*mq.VIEW_ROLES)
conveners = roles_required(*(Role(r) for r in MEETING_CONVENERS))

STATUS_LABELS = {
    MeetingStatus.planned: _l("待召开"),
    MeetingStatus.minuted: _l("已召开"),
    MeetingStatus.cancelled: _l("已取消"),
}


@bp.record_once
def _register(_state) -> None:
    # Added when the blueprint is registered (after the queues' 工作台, and the problem page's
    # panels in the order the app registers the handling areas), not on import.
    nav.register("meetings.index", _l("协商会办"))
    panels.register("meetings", "handling/meetings/_panel.html", panel)


def _when(meeting) -> str:
    return clock.local(meeting.starts_at).strftime("%Y-%m-%d %H:%M")


def _common() -> dict:
    return {"status_labels": STATUS_LABELS, "when": _when}


# ---------------------------------------------------------------- the problem page's panel


def panel(user, problem) -> dict | None:
    """The meetings with this problem on the agenda that the user may open (None: no panel)."""
    if user.role not in mq.VIEW_ROLES:
        return None
    meetings = mq.meetings_of_problem(user, problem)
    if not meetings:
        return None
    return {"meetings": meetings, **_common()}


# ---------------------------------------------------------------- the list


@bp.get("/meetings")
@viewers
def index():
    """协商会办: the meetings the user's unit convened or is invited to (office, leader: all)."""
    upcoming = mq.meeting_page(current_user, upcoming=True, page=request.args.get("upcoming_page", 1, type=int))
    past = mq.meeting_page(current_user, upcoming=False, page=request.args.get("page", 1, type=int))

    def page_url(arg: str, n: int) -> str:
        return url_for("meetings.index", **{**request.args.to_dict(), arg: n})

    return render("handling/meetings/index.html", upcoming=upcoming, past=past, now=clock.now(), page_url=page_url,
                  may_convene=current_user.role in MEETING_CONVENERS, **_common())


# ---------------------------------------------------------------- convene


def _convene_page(form: ConveneForm, *, error: str | None = None, status: int = 200):
    form.load_choices()
    form.ensure_token()
    candidates = mq.agenda_candidates(current_user, include=form.problem_ids.data or [])
    return render("handling/meetings/new.html", status=status, form=form, candidates=candidates, error=error,
                  limit=mq.AGENDA_LIMIT)


@bp.route("/meetings/new", methods=["GET", "POST"])
@conveners
def new():
    """召集协商会/会办会: time, place, host, invited units and the problems on the agenda."""
    if request.method == "GET":
        form = ConveneForm(formdata=None)
        problem_id = request.args.get("problem_id", type=int)
        error = None
        if problem_id:
            found, ok = mq.problems_by_id(current_user, [problem_id])
            if not ok:
                abort(404)
            problem = found[0]
            if mq.may_convene_on(current_user, problem):
                form.problem_ids.data = [problem.id]
                form.unit_ids.data = mq.current_unit_ids(problem)
                form.title.data = _("关于“%(title)s”的协商会", title=problem.title)[:128]
            else:
                error = _("问题 %(n)s 现在不能列入会议议题。", n=problem.number)
        return _convene_page(form, error=error)

    form = ConveneForm()
    if not form.validate():
        return _convene_page(form)
    problems, problems_ok = mq.problems_by_id(current_user, form.problem_ids.data)
    units = db.session.scalars(select(Unit).where(Unit.id.in_(form.unit_ids.data))).all()
    if not problems_ok:
        form.problem_ids.errors = [_("所选问题中有不存在或您无权处理的问题。")]
    if len(units) != len(set(form.unit_ids.data)) or any(u.kind not in INVITABLE for u in units):
        form.unit_ids.errors = [_("所选参会单位不存在或不能参会。")]
    if form.problem_ids.errors or form.unit_ids.errors:
        return _convene_page(form)
    by_id = {u.id: u for u in units}
    try:
        meeting = convene_meeting(
            current_user, kind=MeetingKind(form.kind.data), title=form.title.data, starts_at=form.starts_at(),
            place=form.place.data, host=form.host.data, units=[by_id[i] for i in dict.fromkeys(form.unit_ids.data)],
            problems=problems, token=form.token.data or None)
        db.session.commit()
    except FieldsInvalid as exc:
        db.session.rollback()
        form.set_errors(exc.errors)
        return _convene_page(form)
    except NotAllowed as exc:
        db.session.rollback()
        return _convene_page(form, error=str(exc), status=403)
    except (Conflict, StaleDataError) as exc:
        db.session.rollback()
        return _convene_page(form, error=str(exc) if isinstance(exc, Conflict) else str(ops.STALE), status=409)
    except Invalid as exc:
        db.session.rollback()
        return _convene_page(form, error=str(exc))
    except IntegrityError:
        # The same form sent twice at once: the other request convened it (same client token).
        db.session.rollback()
        meeting = db.session.scalar(select(Meeting).where(Meeting.client_token == form.token.data)) \
            if form.token.data else None
        if meeting is None:
            raise
    flash(_("已召集%(kind)s %(number)s，%(when)s 在%(place)s召开。", kind=meeting.kind.label, number=meeting.number,
            when=_when(meeting), place=meeting.place), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


# ---------------------------------------------------------------- the meeting


def _load(meeting_id: int, *, for_update: bool = False):
    if for_update:
        if mq.get_meeting(meeting_id, current_user, for_update=True) is None:
            abort(404)
    meeting = mq.get_meeting(meeting_id, current_user, options=mq.detail_options())
    if meeting is None:
        abort(404)
    return meeting


def _reload(meeting_id: int):
    db.session.rollback()
    meeting = db.session.scalar(
        select(Meeting).where(Meeting.id == meeting_id, mq.meeting_scope(current_user))
        .options(*mq.detail_options()).execution_options(populate_existing=True))
    if meeting is None:
        abort(404)
    return meeting


def _show_page(meeting, *, cancel_form: CancelForm | None = None, error: str | None = None, status: int = 200):
    user = current_user
    manage = may_manage_meeting(user, meeting) and meeting.status == MeetingStatus.planned
    if cancel_form is None:
        cancel_form = CancelForm(formdata=None, data={"version": meeting.version})
    visible = mq.visible_problem_ids(user, [a.problem_id for a in meeting.agenda])
    return render("handling/meetings/show.html", status=status, meeting=meeting, visible=visible, manage=manage,
                  cancel_form=cancel_form, error=error, now=clock.now(), **_common())


@bp.get("/meetings/<int:meeting_id>")
@viewers
def show(meeting_id: int):
    """The meeting: details, invited units, agenda, and once minuted the summary and decisions."""
    return _show_page(_load(meeting_id))


@bp.post("/meetings/<int:meeting_id>/cancel")
@conveners
def cancel(meeting_id: int):
    """取消会议 (the convening unit or the office), with the reason."""
    meeting = _load(meeting_id, for_update=True)
    if not may_manage_meeting(current_user, meeting):
        abort(403)
    form = CancelForm()
    if not form.validate():
        if form.version.errors and not form.reason.errors:
            abort(400)
        return _show_page(meeting, cancel_form=form)
    try:
        cancel_meeting(meeting, current_user, reason=form.reason.data, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        meeting = _reload(meeting_id)
        form.version.data = meeting.version
        msg = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return _show_page(meeting, cancel_form=form, error=msg, status=409)
    except NotAllowed as exc:
        return _show_page(_reload(meeting_id), cancel_form=form, error=str(exc), status=403)
    except Invalid as exc:
        db.session.rollback()
        form.reason.errors = [str(exc)]
        return _show_page(_load(meeting_id), cancel_form=form)
    flash(_("会议 %(number)s 已取消。", number=meeting.number), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id))


# ---------------------------------------------------------------- minutes (会议纪要)


def _agenda_choices(meeting):
    """(problem choices, unit choices, the units of each agenda problem) for the decision rows."""
    problems = [a.problem for a in meeting.agenda]
    units_of = {}
    unit_ids = []
    for p in problems:
        ids = mq.current_unit_ids(p)
        units_of[p.id] = ids
        unit_ids.extend(ids)
    unit_ids = list(dict.fromkeys(unit_ids))
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    problem_choices = [(p.id, f"{p.number} {p.title}") for p in problems]
    unit_choices = [(i, units[i].name) for i in unit_ids if i in units]
    agenda_units = [(label, [units[i].name for i in units_of[pid] if i in units]) for pid, label in problem_choices]
    return problem_choices, unit_choices, agenda_units


def _minutes_form(meeting) -> MinutesForm:
    attendance = [{"unit_id": mu.unit_id, "attended": True, "attendees": ""} for mu in meeting.units]
    return MinutesForm(formdata=None, data={"version": meeting.version, "attendance": attendance})


def _minutes_page(meeting, form: MinutesForm, *, error: str | None = None, decisions_error: str | None = None,
                  status: int = 200):
    problem_choices, unit_choices, agenda_units = _agenda_choices(meeting)
    form.load_choices(problem_choices, unit_choices)
    unit_names = {mu.unit_id: mu.unit.name for mu in meeting.units}
    return render("handling/meetings/minutes.html", status=status, meeting=meeting, form=form, error=error,
                  decisions_error=decisions_error, unit_names=unit_names, agenda_units=agenda_units,
                  can_add=len(form.decisions) < MAX_DECISION_ROWS, today=clock.today().isoformat(), **_common())


def _compacted(form: MinutesForm, *, add: bool = False) -> MinutesForm:
    """The same input with the filled decision rows first (so "第 n 项" names the row shown as n)
    and empty rows up to the minimum; ``add`` (再加一项): one row more than the form had."""
    rows = [e.form for e in form.decisions if not e.form.blank]
    data = {
        "version": form.version.data,
        "summary": form.summary.data,
        "attendance": [{"unit_id": e.form.unit_id.data, "attended": e.form.attended.data,
                        "attendees": e.form.attendees.data} for e in form.attendance],
        "decisions": [{"problem": r.problem.data, "unit": r.unit.data, "text": r.text.data, "due_on": r.due_on.data}
                      for r in rows],
    }
    fresh = MinutesForm(formdata=None, data=data)
    fresh.summary.errors = list(form.summary.errors)
    for new_entry, old in zip(fresh.attendance, form.attendance, strict=False):
        new_entry.form.attendees.errors = list(old.form.attendees.errors)
    # A date the browser sent that did not parse stays as typed, with its message.
    for new_entry, old in zip(fresh.decisions, rows, strict=False):
        new_entry.form.due_on.raw_data = old.due_on.raw_data
        for name in ("problem", "unit", "text", "due_on"):
            new_entry.form[name].errors = list(old[name].errors)
    total = min(MAX_DECISION_ROWS, max(MIN_DECISION_ROWS, len(form.decisions) + 1 if add else len(rows)))
    while len(fresh.decisions) < total:
        fresh.decisions.append_entry()
    return fresh


def _row_errors(form: MinutesForm) -> bool:
    ok = True
    for entry in form.decisions:
        row = entry.form
        if row.blank:
            continue
        for name, message in (("problem", _("请选择问题。")), ("unit", _("请选择责任单位。")),
                              ("text", _("请填写事项。")), ("due_on", _("请填写完成时限。"))):
            if not row[name].data and not row[name].errors:
                row[name].errors = [message]
        if any(row[n].errors for n in ("problem", "unit", "text", "due_on")):
            ok = False
    return ok


@bp.route("/meetings/<int:meeting_id>/minutes", methods=["GET", "POST"])
@conveners
def minutes(meeting_id: int):
    """记录会议纪要: attendance and decisions; each decision becomes a step on the problem's task book."""
    meeting = _load(meeting_id, for_update=request.method == "POST")
    if not may_manage_meeting(current_user, meeting):
        abort(403)
    if request.method == "GET":
        if meeting.status != MeetingStatus.planned:
            flash(_("会议纪要已经记录，或会议已取消。"), "info")
            return redirect(url_for("meetings.show", meeting_id=meeting.id))
        return _minutes_page(meeting, _minutes_form(meeting))

    form = MinutesForm()
    if "add_row" in request.form:  # 再加一项: the same input with one more row; nothing is saved
        return _minutes_page(meeting, _compacted(form, add=True))
    valid = form.validate()
    rows_ok = _row_errors(form)
    if form.version.errors and not valid:
        abort(400)
    if not valid or not rows_ok:
        return _minutes_page(meeting, _compacted(form))
    try:
        attendance, decisions = _minutes_input(meeting, form)
    except _RowError:
        return _minutes_page(meeting, _compacted(form))
    try:
        record_minutes(meeting, current_user, summary=form.summary.data, attendance=attendance,
                                decisions=decisions, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        msg = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return _minutes_page(_reload(meeting_id), _compacted(form), error=msg, status=409)
    except NotAllowed as exc:
        return _minutes_page(_reload(meeting_id), _compacted(form), error=str(exc), status=403)
    except FieldsInvalid as exc:
        meeting = _reload(meeting_id)
        fresh = _compacted(form)
        if "summary" in exc.errors:
            fresh.summary.errors = [str(exc.errors["summary"])]
        message = exc.errors.get("decisions")
        return _minutes_page(meeting, fresh, decisions_error=str(message) if message else None)
    except Invalid as exc:
        return _minutes_page(_reload(meeting_id), _compacted(form), error=str(exc))
    n = len(decisions)
    flash(_("会议纪要已记录；%(n)d 项决定已列入相关问题的任务书。", n=n) if n else _("会议纪要已记录。"), "success")
    return redirect(url_for("meetings.show", meeting_id=meeting_id))


class _RowError(Exception):
    pass


def _minutes_input(meeting, form: MinutesForm):
    """Attendance by unit id and the decisions of the filled rows (unknown problem/unit: row errors)."""
    invited = {mu.unit_id for mu in meeting.units}
    attendance = {}
    for e in form.attendance:
        uid = e.form.unit_id.data
        if uid in invited:
            attendance[uid] = (bool(e.form.attended.data), e.form.attendees.data or "")
    agenda = {a.problem_id: a.problem for a in meeting.agenda}
    rows = [e.form for e in form.decisions if not e.form.blank]
    unit_ids = {r.unit.data for r in rows}
    units = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    decisions, bad = [], False
    for r in rows:
        problem = agenda.get(r.problem.data)
        unit = units.get(r.unit.data)
        if problem is None:
            r.problem.errors = [_("请从会议议题中选择问题。")]
            bad = True
        if unit is None:
            r.unit.errors = [_("请选择责任单位。")]
            bad = True
        if problem is not None and unit is not None:
            decisions.append(DecisionInput(problem=problem, unit=unit, text=r.text.data, due_on=r.due_on.data))
    if bad:
        raise _RowError
    return attendance, decisions


# ---------------------------------------------------------------- printed: 会议纪要


def minutes_context(meeting) -> dict:
    """The minutes as a plain view-model. Paper travels to every invited unit: the agenda names
    each problem by number and title only, never the resident or their contact."""
    present = [mu for mu in meeting.units if mu.attended]
    absent = [mu for mu in meeting.units if not mu.attended]
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动"),
        "doc_number": meeting.number,
        "doc_title": _("会议纪要"),
        "kind": str(meeting.kind.label),
        "title": meeting.title,
        "starts_at": clock.local(meeting.starts_at),
        "place": meeting.place,
        "host": meeting.host,
        "convener": meeting.convened_by_unit.name,
        "present": [{"unit": mu.unit.name, "attendees": mu.attendees} for mu in present],
        "absent": [f"{mu.unit.name}（{mu.attendees}）" if mu.attendees else mu.unit.name for mu in absent],
        "agenda": [{"number": a.problem.number, "title": a.problem.title,
                    "lead": a.problem.lead_unit.name if a.problem.lead_unit else ""} for a in meeting.agenda],
        "summary": meeting.summary or "",
        "decisions": [{"n": i, "problem": d.problem.number, "text": d.text, "unit": d.unit.name, "due_on": d.due_on}
                      for i, d in enumerate(meeting.decisions, 1)],
        "recorder": meeting.minuted_by.full_name if meeting.minuted_by else "",
        "minuted_on": meeting.minuted_at,
    }


@bp.get("/meetings/<int:meeting_id>.pdf")
@viewers
def pdf(meeting_id: int):
    """会议纪要 (A4) of a minuted meeting, for whoever may open the meeting (404 otherwise)."""
    meeting = _load(meeting_id)
    if meeting.status != MeetingStatus.minuted:
        abort(404)
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        ctx = minutes_context(meeting)
        data = render_pdf("meeting_minutes", **ctx)
    return pdf_response(data, f"{ctx['doc_title']}-{meeting.number}.pdf")
