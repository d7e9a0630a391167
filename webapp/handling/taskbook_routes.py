"""The task book (任务书) screens: write or revise it, the unit leader's review, ticking a step,
every version, the printed 任务书, and the task-book panel of the problem page.

Every write is one operation of ``handling.operations`` run through ``pages.perform`` (one commit;
409 for a stale form or a problem that moved on, 403 for an actor the workflow table refuses,
the page again with the user's input and the field messages otherwise). Who may do what is
asked of ``workflow`` (``check``/``may_do`` with ``access.relations``); nothing here decides a
role rule of its own.
"""

from flask import Blueprint, abort, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.gates import roles_required
from ..accounts.models import User
from ..accounts.roles import CASEWORK_ROLES, UNIT_ROLES, Role
from ..cases import pages, panels, uploads
from ..cases.access import get_problem_or_404, mask_phone, relations
from ..cases.models import Assignment, AssignmentUnit, AttachmentKind, Problem, UnitRole
from ..cases.workflow import ACTIVITIES, Action, Activity, Status, may, may_do
from ..core import clock
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import cn_date, pdf_response, render_pdf
from . import operations as handling
from .closure_reads import evidence_figures, step_groups
from .models import BookStatus, TaskBook, TaskStep
from .queries import book_in_force, book_under_review
from .taskbook_forms import ReviewForm, StepRow, TaskBookForm, TickForm, padded, read_steps

bp = Blueprint("taskbook", __name__)
unit_staff = roles_required(*UNIT_ROLES)
casework = roles_required(*CASEWORK_ROLES)

BOOK_STATUS_LABELS = {
    BookStatus.draft: _l("草稿"),
    BookStatus.submitted: _l("待审核"),
    BookStatus.approved: _l("执行中"),
    BookStatus.rejected: _l("已退回"),
    BookStatus.superseded: _l("已被修订取代"),
}
BOOK_CLOSED = _l("已办结")


def book_status_label(book: TaskBook) -> str:
    """执行中 while its problem is handled; 已办结 once the problem is signed off or 暂难解决."""
    if book.status == BookStatus.approved and book.closed_at is not None:
        return str(BOOK_CLOSED)
    return str(BOOK_STATUS_LABELS[book.status])


# ---------------------------------------------------------------- reads


def _book_options():
    return [
        joinedload(TaskBook.handler), joinedload(TaskBook.submitted_by), joinedload(TaskBook.decided_by),
        joinedload(TaskBook.unit),
        selectinload(TaskBook.steps).joinedload(TaskStep.unit),
        selectinload(TaskBook.steps).joinedload(TaskStep.done_by),
    ]


def all_books(problem: Problem) -> list[TaskBook]:
    """Every version of the problem's task book, oldest first, with what the screens show."""
    return db.session.scalars(select(TaskBook).where(TaskBook.problem_id == problem.id)
                              .order_by(TaskBook.revision).options(*_book_options())).unique().all()


def handler_choices(problem: Problem) -> list[tuple[int, str]]:
    """Who may be 专人: the lead unit's active handlers, leaders and desk operators."""
    users = db.session.scalars(select(User).where(
        User.unit_id == problem.lead_unit_id, User.is_active_account.is_(True),
        User.role.in_(list(handling.HANDLER_ROLES))).order_by(User.role, User.full_name, User.id)).all()
    return [(u.id, f"{u.full_name}（{u.role.label}）") for u in users]


def _unit_leader_name(problem: Problem) -> str:
    return db.session.scalar(select(User.full_name).where(
        User.unit_id == problem.lead_unit_id, User.is_active_account.is_(True),
        User.role == Role.unit_leader).order_by(User.id).limit(1)) or ""


def may_tick(user, problem: Problem, step: TaskStep, rels=None) -> bool:
    """The workflow's rule for ticking a step, and ``handling.tick_step``'s unit rule: the step's
    own unit, or the lead unit for any step."""
    return handling.may_tick_step(user, problem, step, rels)


def _tick_refusal(problem: Problem, step: TaskStep) -> tuple[int, str] | None:
    rule = ACTIVITIES[Activity.tick_step]
    if problem.status not in rule.statuses:
        return 409, _("问题当前状态为“%(s)s”，不能再完成路线图步骤。", s=problem.status.label)
    if not may_tick(current_user, problem, step):
        if not may_do(Activity.tick_step, problem.status, current_user.role, relations(current_user, problem)):
            return 403, _("您无权对此问题执行“%(a)s”。", a=Activity.tick_step.label)
        return 403, _("这一步由%(unit)s负责。", unit=step.unit.name)
    book = book_in_force(problem)
    if book is None or step.task_book_id != book.id:
        return 409, _("这一步不属于正在执行的任务书（任务书可能已经修订），请回到问题页面查看。")
    return None


def _problem_url(problem_id: int) -> str:
    return url_for("cases.detail", problem_id=problem_id)


def _edit_action(problem: Problem) -> Action:
    return Action.revise_plan if problem.status == Status.in_progress else Action.submit_plan


# ---------------------------------------------------------------- write or revise (提交/修订任务书)


def _prefill(problem: Problem, form: TaskBookForm, source: TaskBook | None, *, carry: bool) -> list[StepRow]:
    """Fill a fresh form from ``source`` (the book in force for a revision, or the rejected book
    being rewritten), or with defaults. ``carry``: rows keep the ids of the steps they carry on."""
    form.version.data = problem.version
    if source is None:
        form.handler_id.data = current_user.id
        form.responsible_leader.data = _unit_leader_name(problem)
        form.deadline.data = problem.deadline
        return []
    form.handler_id.data = source.handler_id
    form.responsible_leader.data = source.responsible_leader
    form.responsible_department.data = source.responsible_department
    form.measures.data = source.measures
    deadline = source.deadline
    if problem.deadline is not None and deadline > problem.deadline:
        deadline = problem.deadline
    form.deadline.data = deadline
    return [StepRow(s.title, s.due_on.isoformat(), s.id if carry else None)
            for s in source.steps if not (carry and s.done_at is not None)]


def _edit_page(problem: Problem, form: TaskBookForm, rows: list[StepRow], *, status: int = 200,
               error: str | None = None, can_act: bool = True, unsaved: bool = False,
               steps_error: str | None = None):
    action = _edit_action(problem)
    books = all_books(problem)
    in_force = next((b for b in books if b.status == BookStatus.approved), None)
    latest = books[-1] if books else None
    form.handler_id.choices = handler_choices(problem)
    if form.handler_id.data not in {c[0] for c in form.handler_id.choices}:
        form.handler_id.choices = [(None, _("（请选择）")), *form.handler_id.choices]
    carried = {s.id: s for s in in_force.steps} if in_force and action == Action.revise_plan else {}
    typed = []
    if unsaved:  # what the user typed, shown when the form cannot be drawn any more
        typed = [(str(f.label.text), f.data) for f in (form.responsible_leader, form.responsible_department,
                                                      form.measures, form.revision_reason)
                 if isinstance(f.data, str) and f.data]
        typed += [(_("第 %(n)s 步", n=i), f"{r.title} {r.due_on}".strip()) for i, r in enumerate(rows, 1) if not r.blank]
    ctx = {
        "problem": problem,
        "form": form,
        "rows": rows,
        "revision": action == Action.revise_plan,
        "action_label": action.label,
        "in_force": in_force,
        "done_steps": [s for s in carried.values() if s.done_at is not None],
        "carried": carried,
        "rejected": latest if latest is not None and latest.status == BookStatus.rejected else None,
        "can_act": can_act,
        "error": error,
        "unsaved": typed,
        "steps_error": steps_error,
        "row_errors": any(r.error for r in rows),
        "today": clock.today(),
        "ceiling": problem.deadline,
        "max_steps": handling.MAX_STEPS,
        "problem_url": _problem_url(problem.id),
        "history_url": url_for("taskbook.history", problem_id=problem.id) if len(books) > 1 else None,
    }
    return render("handling/taskbook/edit.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/task-book", methods=["GET", "POST"])
@unit_staff
def edit(problem_id: int):
    """提交任务书 (accepted, also after a rejection) or 修订任务书 (in progress)."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        refused = pages.refusal(problem, _edit_action(problem))
        if refused and refused[0] == 403:
            abort(403, description=refused[1])
        form = TaskBookForm(formdata=None)
        revision = _edit_action(problem) == Action.revise_plan
        books = all_books(problem)
        if revision:
            source = next((b for b in books if b.status == BookStatus.approved), None)
        else:  # rewriting after a rejection starts from the rejected book
            source = books[-1] if books and books[-1].status == BookStatus.rejected else None
        rows = _prefill(problem, form, source, carry=revision)
        return _edit_page(problem, form, padded(rows), error=refused[1] if refused else None,
                          can_act=refused is None)

    problem = pages.load(problem_id, for_update=True)
    action = _edit_action(problem)
    form = TaskBookForm()
    rows, drawn = read_steps(request.form)
    adding = "add_step" in request.form

    def rerender(p, *, status=200, error=None, field_errors=None):
        for name, message in (field_errors or {}).items():
            if name in form._fields:
                form._fields[name].errors = [str(message)]
        steps_error = (field_errors or {}).get("steps")
        if status == 409:
            form.version.data = p.version  # they have now seen the current state
        can_act = pages.refusal(p, _edit_action(p)) is None
        page_rows = padded(rows, at_least=max(drawn, 5), extra=1 if adding and status == 200 else 0)
        return _edit_page(p, form, page_rows, status=status, error=error, can_act=can_act,
                          unsaved=not can_act, steps_error=steps_error)

    refused = pages.refusal(problem, action)
    if refused:
        return rerender(problem, status=refused[0], error=refused[1])
    if adding:  # 再加一步: the same form with one more row, nothing saved
        return rerender(problem)
    ok = form.validate()
    ok = all([r.check() for r in rows]) and ok
    if not ok:
        return rerender(problem)

    in_force = book_in_force(problem) if action == Action.revise_plan else None
    old = {s.id: s for s in in_force.steps} if in_force else {}
    steps, seen = [], set()
    for r in rows:
        carried = old.get(r.from_step_id) if r.from_step_id not in seen else None
        seen.add(r.from_step_id)
        steps.append(handling.StepInput(r.title, r.date, unit_id=carried.unit_id if carried else None,
                                        from_step_id=carried.id if carried else None))
    handler = db.session.get(User, form.handler_id.data) if form.handler_id.data else None

    def work():
        book = handling.submit_plan(
            problem, current_user, handler=handler, responsible_leader=form.responsible_leader.data or "",
            responsible_department=form.responsible_department.data or "", measures=form.measures.data or "",
            deadline=form.deadline.data, steps=steps, revision_reason=form.revision_reason.data,
            version=form.version.data)
        return _("任务书（第 %(n)d 版）已提交，等待责任领导审核。", n=book.revision)

    return pages.perform(problem_id, work, rerender, action=action)


# ---------------------------------------------------------------- the unit leader's review (审核任务书)


def _changes(old: TaskBook, new: TaskBook) -> list[tuple[str, str, str]]:
    """What a revision changes against the book in force: (label, before, after)."""
    pairs = [
        (_("专人"), old.handler.full_name, new.handler.full_name),
        (_("责任领导"), old.responsible_leader, new.responsible_leader),
        (_("责任科室（部门）"), old.responsible_department, new.responsible_department),
        (_("化解措施"), old.measures, new.measures),
        (_("完成时限"), old.deadline.isoformat(), new.deadline.isoformat()),
    ]
    return [p for p in pairs if p[1] != p[2]]


def _step_marks(old: TaskBook, new: TaskBook) -> tuple[dict[int, str], list[TaskStep]]:
    """Each step of the revision marked 新增 / 时间调整 (unchanged: no mark), and the open steps
    of the book in force that the revision drops."""
    exact = {(s.title, s.due_on, s.unit_id) for s in old.steps}
    titles = {s.title for s in old.steps}
    marks = {}
    for s in new.steps:
        if (s.title, s.due_on, s.unit_id) in exact:
            continue
        marks[s.id] = _("时间调整") if s.title in titles else _("新增")
    new_titles = {s.title for s in new.steps}
    dropped = [s for s in old.steps if s.done_at is None and s.title not in new_titles]
    return marks, dropped


def _review_page(problem: Problem, form: ReviewForm, *, status: int = 200, error: str | None = None,
                 open_section: str | None = None):
    books = all_books(problem)
    book = next((b for b in books if b.status == BookStatus.submitted), None)
    in_force = next((b for b in books if b.status == BookStatus.approved), None)
    can_act = book is not None and pages.refusal(problem, Action.approve_plan) is None
    marks, dropped = _step_marks(in_force, book) if book and in_force else ({}, [])
    if open_section not in ("approve_plan", "reject_plan"):
        open_section = "approve_plan"
    ctx = {
        "problem": problem,
        "form": form,
        "book": book,
        "in_force": in_force,
        "changes": _changes(in_force, book) if book and in_force else [],
        "marks": marks,
        "dropped": dropped,
        "can_act": can_act,
        "error": error,
        "open_section": open_section,
        "today": clock.today(),
        "status_labels": BOOK_STATUS_LABELS,
        "problem_url": _problem_url(problem.id),
        "history_url": url_for("taskbook.history", problem_id=problem.id) if len(books) > 1 else None,
    }
    return render("handling/taskbook/review.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/task-book/review", methods=["GET", "POST"])
@unit_staff
def review(problem_id: int):
    """批准 or 退回 the submitted task book (the unit leader); a revision is shown against the
    book in force."""
    requested = request.values.get("action")
    if request.method == "GET":
        problem = pages.load(problem_id)
        refused = pages.refusal(problem, Action.approve_plan)
        if refused and refused[0] == 403:
            abort(403, description=refused[1])
        form = ReviewForm(formdata=None, data={"version": problem.version})
        error = refused[1] if refused else None
        if error is None and book_under_review(problem) is None:
            error = _("没有待审核的任务书。")
        return _review_page(problem, form, error=error, open_section=requested)

    problem = pages.load(problem_id, for_update=True)
    form = ReviewForm()
    try:
        action = Action(form.action.data)
    except ValueError:
        action = Action.approve_plan

    def rerender(p, *, status=200, error=None, field_errors=None):
        if status == 409:
            form.version.data = p.version
        return _review_page(p, form, status=status, error=error, open_section=action.value)

    refused = pages.refusal(problem, action)
    if refused:
        return rerender(problem, status=refused[0], error=refused[1])
    if not form.validate():
        return rerender(problem)

    def work():
        if action == Action.reject_plan:
            book = handling.reject_plan(problem, current_user, reason=form.reason.data, version=form.version.data)
            return _("任务书（第 %(n)d 版）已退回经办人修改。", n=book.revision)
        book = handling.approve_plan(problem, current_user, note=form.note.data, version=form.version.data)
        return _("任务书（第 %(n)d 版）已批准，办理时限为 %(d)s。", n=book.revision, d=book.deadline.isoformat())

    return pages.perform(problem_id, work, rerender, action=action)


# ---------------------------------------------------------------- ticking a step (完成步骤)


def _load_step(problem: Problem, step_id: int) -> TaskStep:
    step = db.session.get(TaskStep, step_id)
    if step is None or step.problem_id != problem.id:
        abort(404)
    return step


def _tick_page(problem: Problem, step: TaskStep, form: TickForm, *, status: int = 200, error: str | None = None,
               file_errors: list[str] | None = None):
    refused = _tick_refusal(problem, step)
    ctx = {
        "problem": problem,
        "step": step,
        "book": step.task_book,
        "form": form,
        "can_act": refused is None and step.done_at is None,
        "error": error or (refused[1] if refused and status == 200 and step.done_at is None else None),
        "file_errors": file_errors or [],
        "overdue": step.is_overdue(clock.today()),
        "max_files": uploads.MAX_FILES_PER_PROBLEM,
        "problem_url": _problem_url(problem.id),
    }
    return render("handling/taskbook/tick.html", status=status, **ctx)


@bp.route("/cases/<int:problem_id>/steps/<int:step_id>/done", methods=["GET", "POST"])
@unit_staff
def tick(problem_id: int, step_id: int):
    """完成步骤: a step of the book in force is done, with a note and optional files."""
    if request.method == "GET":
        problem = pages.load(problem_id)
        step = _load_step(problem, step_id)
        refused = _tick_refusal(problem, step)
        if refused and refused[0] == 403:
            abort(403, description=refused[1])
        return _tick_page(problem, step, TickForm(formdata=None))

    problem = pages.load(problem_id, for_update=True)
    step = _load_step(problem, step_id)
    form = TickForm()
    written: list[str] = []

    def rerender(p, *, status=200, error=None, field_errors=None, file_errors=None):
        return _tick_page(p, db.session.get(TaskStep, step_id), form, status=status, error=error,
                          file_errors=file_errors)

    refused = _tick_refusal(problem, step)
    if refused:
        return rerender(problem, status=refused[0], error=refused[1])
    ok = form.validate()
    checked, file_errors = pages.check_files(request.files.getlist(form.files.name))
    if not ok or file_errors:
        return rerender(problem, file_errors=file_errors)

    def work():
        event = handling.tick_step(problem, current_user, step, note=form.note.data)
        pages.store_files(problem, current_user, checked, kind=AttachmentKind.progress, written=written,
                          event=event)
        return _("步骤“%(t)s”已标记完成。", t=step.title)

    return pages.perform(problem_id, work, rerender, written=written)


# ---------------------------------------------------------------- every version, and the print


@bp.get("/cases/<int:problem_id>/task-books")
@casework
def history(problem_id: int):
    """Every version of the task book: revision, status, who submitted and decided, steps."""
    problem = pages.load(problem_id)
    books = all_books(problem)
    return render("handling/taskbook/history.html", problem=problem, books=list(reversed(books)),
                  status_labels=BOOK_STATUS_LABELS, today=clock.today(), problem_url=_problem_url(problem.id))


def _step_state(step: TaskStep, today) -> str:
    if step.done_at is not None:
        who = step.done_by.full_name if step.done_by else ""
        return f"已完成（{cn_date(step.done_at)}{'，' + who if who else ''}）"
    return "已逾期" if step.is_overdue(today) else "未完成"


def book_context(problem: Problem, book: TaskBook) -> dict:
    """What the printed 任务书 shows (Chinese whatever the user's language; phone masked)."""
    assignment = db.session.scalar(select(Assignment).where(Assignment.id == book.assignment_id).options(
        selectinload(Assignment.units).joinedload(AssignmentUnit.unit)))
    parts = [u for u in assignment.units if u.is_current] if assignment else []
    lead = book.unit.name
    cooperating = [u.unit.name for u in parts if u.role == UnitRole.cooperating]
    today = clock.today()
    approved = book.status in (BookStatus.approved, BookStatus.superseded)
    return {
        "issuer": "贾汪区“百千万”集中走访帮扶活动",
        "doc_title": "任务书",
        "doc_number": book.number,
        "problem_number": problem.number,
        "title": problem.title,
        "description": problem.description,
        "village": f"{problem.town.name}{problem.village.name}",
        "category": problem.category.name,
        "resident": problem.resident_name,
        "phone": mask_phone(problem.resident_phone),
        "assignment_number": assignment.number if assignment else "",
        "lead": lead,
        "cooperating": cooperating,
        "handler": book.handler.full_name,
        "handler_phone": book.handler.phone or "",
        "responsible_leader": book.responsible_leader,
        "responsible_department": book.responsible_department,
        "measures": book.measures,
        "steps": [{"seq": i, "title": s.title, "due_on": s.due_on, "unit": s.unit.name,
                   "state": _step_state(s, today)} for i, s in enumerate(book.steps, 1)],
        "deadline": book.deadline,
        "tier": problem.tier.label if problem.tier else "",
        "revision": book.revision,
        "revision_reason": book.revision_reason,
        "submitted_by": book.submitted_by.full_name,
        "submitted_at": book.submitted_at,
        "approved": approved,
        "decided_by": book.decided_by.full_name if book.decided_by else "",
        "decided_at": book.decided_at,
        "decision_note": book.decision_note,
        "status": book.status.value,
        "status_label": book_status_label(book),
        "closed": book.closed_at is not None,
        "evidence": evidence_figures(step_groups(problem, list(book.steps))),
    }


@bp.get("/cases/<int:problem_id>/task-books/<int:book_id>.pdf")
@casework
def pdf(problem_id: int, book_id: int):
    """The printed 任务书 of one version, for whoever may see the problem (404 otherwise)."""
    problem = get_problem_or_404(problem_id, current_user, options=[
        joinedload(Problem.town), joinedload(Problem.village), joinedload(Problem.category)])
    book = db.session.scalar(select(TaskBook).where(TaskBook.id == book_id, TaskBook.problem_id == problem.id)
                             .options(*_book_options()))
    if book is None:
        abort(404)
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        ctx = book_context(problem, book)
        data = render_pdf("task_book", **ctx)
    return pdf_response(data, f"任务书-{problem.number}-第{book.revision}版.pdf")


# ---------------------------------------------------------------- the problem page's panel


def panel(user, problem: Problem) -> dict | None:
    """The book in force (steps: date, unit, done or overdue, 完成 links for who may tick), a
    book under review, or the latest rejected one; None for a problem without a task book."""
    books = all_books(problem)
    if not books:
        return None
    in_force = next((b for b in books if b.status == BookStatus.approved), None)
    under_review = next((b for b in books if b.status == BookStatus.submitted), None)
    latest = books[-1]
    rels = relations(user, problem)
    today = clock.today()
    links = {}
    for s in in_force.steps if in_force is not None else ():
        if s.done_at is None and may_tick(user, problem, s, rels):
            links[s.id] = url_for("taskbook.tick", problem_id=problem.id, step_id=s.id)
    shown = in_force or under_review or latest
    return {
        "in_force": in_force,
        "links": links,
        "today": today,
        "under_review": under_review,
        "rejected": latest if latest.status == BookStatus.rejected else None,
        "status_labels": BOOK_STATUS_LABELS,
        "in_force_label": book_status_label(in_force) if in_force is not None else "",
        "pdf_url": url_for("taskbook.pdf", problem_id=problem.id, book_id=shown.id),
        "pdf_label": _("打印任务书") if shown is in_force else _("打印任务书（第 %(n)d 版，%(s)s）", n=shown.revision,
                                                                   s=book_status_label(shown)),
        "history_url": url_for("taskbook.history", problem_id=problem.id) if len(books) > 1 else None,
        "review_url": url_for("taskbook.review", problem_id=problem.id)
        if under_review is not None and may(problem.status, Action.approve_plan, user.role, rels) else None,
    }


panels.register("taskbook", "handling/taskbook/_panel.html", panel)
