"""The work queues of every casework role, the problem page, and the unit's sign for / return.

Every read goes through the one scope (``cases.access``) and ``cases.queries``; which buttons
show comes from ``workflow.allowed_actions`` (``cases.actions`` maps them to endpoints); every
write is one operation of ``cases.operations`` and one commit.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import role_may, roles_required
from ..accounts.roles import CASEWORK_ROLES, UNIT_ROLES, Role
from ..core import audit, clock
from ..core.deadlines import TimeLeft, time_left
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.render import is_htmx, render
from ..documents.excel import Sheet, xlsx_response
from . import actions, home, panels, queries  # noqa: F401 - home: the home page's counts
from . import deadlines as case_deadlines
from . import operations as ops
from .access import get_problem_or_404, scope, sees_full_contact, shown_id_number, shown_phone
from .forms import FilterChoices, LateReturnForm, ReturnForm, SignForForm
from .models import Problem, UnitRole
from .queries import QueueFilter
from .workflow import ENDED, HANDLING, SOLVED, Action, NotAllowed, Status, transition

bp = Blueprint("cases", __name__, url_prefix="/cases")
casework = roles_required(*CASEWORK_ROLES)
unit_staff = roles_required(*UNIT_ROLES)

# On import, before the other casework areas add theirs when registered: 工作台 follows 首页.
nav.register("cases.queue", _l("工作台"))

CHANGED = "cases-changed"  # the htmx event after every action: counters refresh themselves

TAB_LABELS = {
    "all": _l("全部"),
    "to_sign": _l("待签收"),
    "handling": _l("办理中"),
    "due_soon": _l("即将到期"),
    "overdue": _l("已超期"),
    "to_triage": _l("待研判"),
    "listed": _l("清单中"),
    "to_verify": _l("待核销"),
    "open": _l("办理中"),
    "owes_reply": _l("待回音"),
    "to_review": _l("待审核"),
    "done": _l("已办结"),
}


# ---------------------------------------------------------------- rows (screen and Excel alike)


@dataclass
class Row:
    """A problem as one user sees it in a list: contact masked for that user, the limit it runs
    against (办理时限 while handled, 回音时限 while a reply is owed) with the working days left,
    and while it waits to be signed for, the sign-for limit (签收时限) with its own."""

    problem: Problem
    phone: str
    id_number: str
    time_left: TimeLeft | None  # of the handling deadline (the list's and the export's 剩余时间)
    limit_label: str = ""
    limit: object = None
    limit_left: TimeLeft | None = None
    sign_for_left: TimeLeft | None = None
    # What a card prints, resolved once per page (``_cards``) rather than through the ORM's
    # relationship loading and url building for every card.
    url: str = ""
    place: str = ""
    category: str = ""
    lead: str = ""


def _row(user, problem: Problem, now: datetime) -> Row:
    left = time_left(problem.deadline, now) if problem.deadline and problem.status in HANDLING else None
    limit_label, limit, limit_left = "", None, left
    if left is not None:
        limit_label, limit = _("办理时限"), problem.deadline
    elif problem.reply_due:
        limit_label, limit = _("回音时限"), problem.reply_due
        limit_left = time_left(problem.reply_due, now)
    waiting = problem.status == Status.assigned and problem.sign_for_deadline
    return Row(
        problem=problem,
        phone=shown_phone(problem),
        id_number=shown_id_number(problem),
        time_left=left,
        limit_label=limit_label,
        limit=limit,
        limit_left=limit_left,
        sign_for_left=time_left(problem.sign_for_deadline, now) if waiting else None,
    )


def _tabs(counts: dict) -> list[tuple[str, str, int | None]]:
    return [("all", TAB_LABELS["all"], None)] + [(key, TAB_LABELS.get(key, key), n) for key, n in counts.items()]


# ---------------------------------------------------------------- the queue


def _filter() -> QueueFilter:
    return QueueFilter.from_args(request.args, default_tab=queries.action_tab(current_user))


def _queue_context(f: QueueFilter, *, choices: bool = True) -> dict:
    # The filter's choices are drawn with the full page only (htmx swaps the results); loaded
    # first, their categories are the cards' too.
    filter_choices = FilterChoices() if choices else None
    page = queries.queue(current_user, f)  # the page with its tabs' counters
    return {
        "f": f,
        "page": page,
        "rows": _cards(page),
        "tabs": _tabs(page.counters),
        "choices": filter_choices,
    }


def _cards(page) -> list[Row]:
    """The page's rows with the names and the link each card prints: the units and categories
    come from the page's names (``queries._names``) by id, the link from one built
    address — no per-card relationship loads or url building."""
    now = clock.now()
    names = page.names
    base = url_for("cases.detail", problem_id=1)[:-1]  # "/cases/"
    rows = []
    for p in page.items:
        row = _row(current_user, p, now)
        row.url = f"{base}{p.id}"
        row.place = f"{names.get(('Unit', p.village_id), '')} · {names.get(('Unit', p.town_id), '')}"
        row.category = names.get(("Category", p.category_id), "")
        row.lead = names.get(("Unit", p.lead_unit_id), "") if p.lead_unit_id else ""
        rows.append(row)
    return rows


@bp.get("")
@casework
def queue():
    """The user's work queue: opens on what needs the user's action, nearest deadline first;
    tabs with counters, filters, active search, sorting, next page by the last card's key."""
    f = _filter()
    response = render("cases/queue.html", block="results", **_queue_context(f, choices=not is_htmx()))
    if is_htmx():
        # The address bar shows the filter as a clean link (no empty fields) to reload or share.
        response.headers["HX-Push-Url"] = url_for("cases.queue", **f.as_args())
    return response


@bp.get("/counters")
@casework
def counters():
    """The tabs with their counters (refreshed on the ``cases-changed`` event)."""
    f = _filter()
    body = render_block("cases/queue.html", "counters", f=f, tabs=_tabs(queries.counters(current_user)))
    response = make_response(body)
    response.headers["Vary"] = "HX-Request"
    return response


EXPORT_HEADERS = [
    _l("问题编号"), _l("标题"), _l("镇（街道、功能区）"), _l("村（社区）"), _l("类别"), _l("办理方式"),
    _l("状态"), _l("牵头单位"), _l("办理时限"), _l("剩余时间"), _l("登记日期"), _l("群众姓名"),
    _l("联系电话"), _l("身份证号"),
]


def _export_row(row: Row) -> list:
    p = row.problem
    return [
        p.number, p.title, p.town.name, p.village.name, p.category.name, str(p.tier.label) if p.tier else "",
        str(p.status.label), p.lead_unit.name if p.lead_unit else "",
        p.deadline.isoformat() if p.deadline else "", row.time_left.label if row.time_left else "",
        clock.local(p.registered_at).date().isoformat(), p.resident_name, row.phone, row.id_number,
    ]


@bp.get("/export.xlsx")
@casework
def export():
    """Exactly what the filter shows (every page, same order), masked as on screen; audited."""
    f = _filter()
    now = clock.now()
    rows = [_export_row(_row(current_user, p, now)) for p in queries.export_rows(current_user, f)]
    audit.record("cases.exported", user=current_user, detail={"filter": f.as_args(after=""), "rows": len(rows)})
    db.session.commit()
    sheet = Sheet(_("问题清单"), [str(h) for h in EXPORT_HEADERS], rows,
                  widths=(24, 30, 14, 14, 12, 10, 14, 16, 12, 16, 12, 10, 15, 21))
    return xlsx_response(_("问题清单-%(day)s.xlsx", day=clock.today().strftime("%Y%m%d")), [sheet])


# ---------------------------------------------------------------- the problem page


def _detail_context(problem: Problem, **extra) -> dict:
    user = current_user
    now = clock.now()
    # Numbers are always masked; entitled users (access.sees_full_contact) reveal them with an
    # audited click (intake.reveal_contact).
    can_reveal = sees_full_contact(user, problem) and role_may(user.role, "intake.reveal_contact")
    assignment = problem.current_assignment
    files = [
        (a, actions.object_url("intake.attachment", attachment_id=a.id, problem_id=problem.id, default=a.id))
        for a in problem.attachments
    ]
    event_files: dict[int, list] = {}
    for a, url in files:
        if a.event_id is not None:
            event_files.setdefault(a.event_id, []).append((a, url))
    ctx = {
        "problem": problem,
        "row": _row(user, problem, now),
        "phone": shown_phone(problem),
        "id_number": shown_id_number(problem),
        "masked": True,
        "reveal_url": actions.object_url("intake.reveal_contact", problem_id=problem.id, default=problem.id)
        if can_reveal else None,
        # The photos of the registration here; files sent with a progress report, a step or a
        # sign-off beside their timeline entry (and in their panel).
        "attachments": [(a, url) for a, url in files if a.event_id is None and a.closure_id is None],
        "event_files": event_files,
        "visit_url": actions.object_url("visits.visit", visit_id=problem.visit_id, default=problem.visit_id)
        if problem.visit_id else None,
        "sheet_url": actions.object_url("sheets.sheet_pdf", assignment_id=assignment.id, problem_id=problem.id,
                                        default=assignment.id) if assignment else None,
        "sign_for_left": time_left(problem.sign_for_deadline, now)
        if problem.sign_for_deadline and assignment is not None else None,
        "assignment": assignment,
        "buttons": actions.buttons(user, problem),
        "activity_links": actions.activity_links(user, problem),
        "panels": panels.context(user, problem),
        "event_label": actions.event_label,
        "part_labels": actions.PART_STATUS_LABELS,
        # Once the problem is signed off or has ended, the units' parts are done with it.
        "parts_ended": problem.status in SOLVED or problem.status in ENDED,
        "unit_role_labels": actions.UNIT_ROLE_LABELS,
        "return_form": ReturnForm(formdata=None, data={"version": problem.version}),
        "error": None,
        "notice": None,
    }
    ctx.update(extra)
    return ctx


def _detail_page(problem: Problem, *, status: int = 200, trigger: str | None = None, **extra):
    return render("cases/detail.html", block="status", status=status, trigger=trigger,
                  **_detail_context(problem, **extra))


@bp.get("/<int:problem_id>")
@casework
def detail(problem_id: int):
    """Everything about one problem, its timeline, and the actions the user may take."""
    problem = get_problem_or_404(problem_id, current_user, options=queries.detail_options())
    return _detail_page(problem)


def _reload(problem_id: int) -> Problem | None:
    """The problem after a rollback, if the user still sees it."""
    db.session.rollback()
    return db.session.scalar(
        select(Problem).where(Problem.id == problem_id, scope(current_user))
        .options(*queries.detail_options()).execution_options(populate_existing=True)
    )


def _refused(problem_id: int, code: int, message: str, **extra):
    """409 (changed meanwhile) or 403: the page as it is now, the message, the user's input kept."""
    problem = _reload(problem_id)
    if problem is None:
        abort(code, description=message)
    form = extra.get("return_form")
    if form is not None:
        form.version.data = problem.version  # they have now seen the current state
    return _detail_page(problem, status=code, error=message, **extra)


def _not_allowed_code(problem: Problem, action: Action) -> int:
    # Not possible in this status any more: someone acted first (409). Otherwise: no right (403).
    return 409 if transition(problem.status, action) is None else 403


def _done(problem_id: int, message: str):
    """After a successful action: the updated fragment (htmx) or a redirect (PRG)."""
    still_visible = db.session.scalar(select(Problem.id).where(Problem.id == problem_id, scope(current_user)))
    target = url_for("cases.detail", problem_id=problem_id) if still_visible else url_for("cases.queue")
    if is_htmx():
        if still_visible:
            problem = get_problem_or_404(problem_id, current_user, options=queries.detail_options())
            return _detail_page(problem, trigger=CHANGED, notice=message)
        flash(message, "success")
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        response.headers["HX-Trigger"] = CHANGED
        return response
    flash(message, "success")
    return redirect(target)


@bp.post("/<int:problem_id>/sign-for")
@unit_staff
def sign_for(problem_id: int):
    """签收: the lead unit signs for the problem, a cooperating unit for its own part."""
    problem = get_problem_or_404(problem_id, current_user, for_update=True)
    form = SignForForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        part = ops.sign_for(problem, current_user, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        return _refused(problem_id, 409, str(exc) if isinstance(exc, Conflict) else str(ops.STALE))
    except NotAllowed as exc:
        return _refused(problem_id, _not_allowed_code(problem, Action.sign_for), str(exc))
    return _done(problem_id, _("已签收（配合）。") if part.role == UnitRole.cooperating else _("已签收。"))


@bp.post("/<int:problem_id>/return")
@unit_staff
def return_(problem_id: int):
    """退回: send a misrouted problem back to whoever assigned it, with a reason."""
    problem = get_problem_or_404(problem_id, current_user, for_update=True)
    form = ReturnForm()
    if not form.validate_on_submit():
        if form.version.errors:
            abort(400)
        return _detail_page(problem, status=422 if is_htmx() else 200, return_form=form)
    cooperating = actions.pending_cooperating_part(current_user, problem) is not None
    try:
        if cooperating:
            ops.return_part(problem, current_user, reason=form.reason.data, version=form.version.data)
        else:
            ops.return_problem(problem, current_user, reason=form.reason.data, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        message = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return _refused(problem_id, 409, message, return_form=form)
    except NotAllowed as exc:
        return _refused(problem_id, _not_allowed_code(problem, Action.return_), str(exc), return_form=form)
    except Invalid as exc:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, str(exc)]
        problem = get_problem_or_404(problem_id, current_user, options=queries.detail_options())
        return _detail_page(problem, status=422 if is_htmx() else 200, return_form=form)
    if cooperating:
        return _done(problem_id, _("已退回配合任务，牵头单位和交办单位可以看到退回理由。"))
    return _done(problem_id, _("已退回交办单位重新研判。"))


@bp.route("/<int:problem_id>/allow-late-return", methods=["GET", "POST"])
@roles_required(Role.office)
def allow_late_return(problem_id: int):
    """The office consents to a return after the return limit (the unit may then return it)."""
    problem = get_problem_or_404(problem_id, current_user, for_update=request.method == "POST")
    form = LateReturnForm(version=problem.version)
    limit = case_deadlines.return_deadline(problem)
    status = 200
    if form.validate_on_submit():
        try:
            ops.allow_late_return(problem, current_user, reason=form.reason.data, version=form.version.data)
            db.session.commit()
        except (Conflict, StaleDataError):
            db.session.rollback()
            form.reason.errors = [str(ops.STALE)]
            status = 409
            problem = get_problem_or_404(problem_id, current_user)
            form.version.data = problem.version
        except (NotAllowed, Invalid) as exc:
            db.session.rollback()
            form.reason.errors = [str(exc)]
            status = 409 if isinstance(exc, NotAllowed) else 200
            problem = get_problem_or_404(problem_id, current_user)
        else:
            return _done(problem_id, _("已同意逾期退回，已通知责任单位。"))
    elif request.method == "POST":
        status = 200
    return render("cases/late_return.html", problem=problem, form=form, limit=limit,
                  late=limit is not None and clock.today() > limit,
                  allowed=ops.late_return_allowed(problem) if problem.assigned_at else False), status
