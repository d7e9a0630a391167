"""Coordinated lists (统筹交办问题清单): the group lead compiles and submits, the office assigns.

A work group's draft list collects its common problems (``triage.add_to_list``); the group lead
removes items and submits it to the office, which numbers it. The office assigns each item to
district departments (one lead, any cooperating) with a deadline; the list becomes "assigned"
when every item is. The office also assigns a returned district-level problem again from here.
The printed list is for the group and the office (and the leading group) only.
"""

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core import clock
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.render import render
from ..documents.pdf import pdf_response, render_pdf
from ..org.models import Unit
from . import operations as ops
from .access import get_problem_or_404, relations, scope, shown_phone
from .models import Assignment, AssignmentUnit, CoordinatedList, ListStatus, Problem, ProblemEvent
from .triage_forms import DepartmentsForm, RemoveForm, SubmitListForm
from .triage_routes import CHANGED, departments_form, triage_page
from .workflow import Action, Level, NotAllowed, Status, allowed_actions, transition

bp = Blueprint("lists", __name__)
readers = roles_required(Role.group_lead, Role.office, Role.leader)
group_lead = roles_required(Role.group_lead)
office = roles_required(Role.office)



@bp.record_once
def _menu(_state) -> None:
    # Added when the blueprint is registered (after the queues' 工作台), not on import.
    nav.register("lists.index", _l("统筹清单"))


LIST_STATUS_LABELS = {
    ListStatus.draft: _l("草稿"),
    ListStatus.submitted: _l("已上报待交办"),
    ListStatus.assigned: _l("已交办"),
}


# ---------------------------------------------------------------- reads


def list_scope(user):
    """Which lists ``user`` may see: the group lead its group's; office and leader every submitted one."""
    if user.role == Role.group_lead:
        return CoordinatedList.work_group_id == user.unit_id
    if user.role in (Role.office, Role.leader):
        return CoordinatedList.status != ListStatus.draft
    return CoordinatedList.id.is_(None)


def get_list_or_404(list_id: int, user, *, for_update: bool = False) -> CoordinatedList:
    q = select(CoordinatedList).where(CoordinatedList.id == list_id, list_scope(user))
    if for_update:
        q = q.with_for_update()
    cl = db.session.scalar(q)
    if cl is None:
        abort(404)
    return cl


def list_problems(cl: CoordinatedList) -> list[Problem]:
    """The list's problems with what the list page and the PDF show (bounded queries)."""
    return db.session.scalars(
        select(Problem).where(Problem.coordinated_list_id == cl.id).order_by(Problem.id).options(
            joinedload(Problem.village), joinedload(Problem.town), joinedload(Problem.category),
            joinedload(Problem.current_assignment).selectinload(Assignment.units).joinedload(AssignmentUnit.unit),
        )
    ).unique().all()


def _problem_url(problem_id: int) -> str:
    if "cases.detail" in current_app.view_functions:
        return url_for("cases.detail", problem_id=problem_id)
    return url_for("triage.triage_form", problem_id=problem_id)


# ---------------------------------------------------------------- pages


@bp.get("/lists")
@readers
def index():
    """The group lead's lists (draft first); the office's inbox of submitted lists."""
    user = current_user
    order = case((CoordinatedList.status == ListStatus.draft, 0),
                 (CoordinatedList.status == ListStatus.submitted, 1), else_=2)
    counts = (select(Problem.coordinated_list_id, func.count().label("n"))
              .group_by(Problem.coordinated_list_id).subquery())
    rows = db.session.execute(
        select(CoordinatedList, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.coordinated_list_id == CoordinatedList.id)
        .where(list_scope(user)).options(joinedload(CoordinatedList.work_group))
        .order_by(order, CoordinatedList.submitted_at.desc(), CoordinatedList.id.desc()).limit(200)
    ).all()
    returned = []
    if user.role in (Role.office, Role.leader):
        # District-level problems a department sent back: the office assigns them again.
        returned = db.session.scalars(
            select(Problem).where(scope(user), Problem.status == Status.returned, Problem.level == Level.district)
            .options(joinedload(Problem.village), joinedload(Problem.town))
            .order_by(Problem.updated_at.desc()).limit(100)
        ).all()
    return render("cases/lists/index.html", rows=rows, returned=returned, labels=LIST_STATUS_LABELS,
                  is_office=user.role == Role.office)


def _item_forms(cl, problems, *, failed: Problem | None = None, failed_form: DepartmentsForm | None = None):
    forms = {}
    for p in problems:
        if failed is not None and p.id == failed.id and failed_form is not None:
            forms[p.id] = departments_form(p, failed_form)
        else:
            forms[p.id] = departments_form(p)
    return forms


def list_page(cl: CoordinatedList, *, failed: Problem | None = None, failed_form: DepartmentsForm | None = None,
              error: str | None = None, item_error: str | None = None, status: int = 200):
    user = current_user
    problems = list_problems(cl)
    actions = {p.id: allowed_actions(p.status, user.role, relations(user, p)) for p in problems}
    return render(
        "cases/lists/detail.html", status=status, cl=cl, problems=problems, actions=actions,
        Action=Action, labels=LIST_STATUS_LABELS,
        phone=shown_phone,
        forms=_item_forms(cl, problems, failed=failed, failed_form=failed_form),
        remove_forms={p.id: RemoveForm(formdata=None, data={"version": p.version, "origin": "list"}) for p in problems},
        submit_form=SubmitListForm(formdata=None, data={"version": cl.version}),
        failed_id=failed.id if failed is not None else None, error=error, item_error=item_error,
        today=clock.today().isoformat(),
        problem_url=_problem_url, may_submit=user.role == Role.group_lead and cl.status == ListStatus.draft
        and cl.work_group_id == user.unit_id,
    )


@bp.get("/lists/<int:list_id>")
@readers
def detail(list_id: int):
    """One list: its problems; the group lead removes and submits; the office assigns each item."""
    return list_page(get_list_or_404(list_id, current_user))


@bp.post("/lists/<int:list_id>/submit")
@group_lead
def submit(list_id: int):
    """上报: the draft list goes to the office and gets its number."""
    cl = get_list_or_404(list_id, current_user, for_update=True)
    form = SubmitListForm()
    if not form.validate():
        abort(400)
    try:
        ops.submit_list(cl, current_user, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        db.session.rollback()
        cl = get_list_or_404(list_id, current_user)
        if cl.status != ListStatus.draft and _last_submitted_by_me(cl):
            flash(_("清单已上报（%(number)s），未重复上报。", number=cl.number), "info")
            return redirect(url_for("lists.detail", list_id=cl.id))
        message = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return list_page(cl, error=message, status=409)
    except Invalid as exc:
        db.session.rollback()
        cl = get_list_or_404(list_id, current_user)
        return list_page(cl, error=str(exc), status=409 if cl.status != ListStatus.draft else 200)
    flash(_("已上报区活动办，清单编号 %(number)s。", number=cl.number), "success")
    response = redirect(url_for("lists.detail", list_id=cl.id))
    response.headers["HX-Trigger"] = CHANGED
    return response


def _last_submitted_by_me(cl: CoordinatedList) -> bool:
    from ..core.audit import AuditEvent

    last = db.session.scalar(select(AuditEvent).where(
        AuditEvent.event == "list.submit", AuditEvent.object_type == CoordinatedList.audit_type,
        AuditEvent.object_id == str(cl.id)).order_by(AuditEvent.id.desc()).limit(1))
    return last is not None and last.user_id == current_user.id


@bp.post("/cases/<int:problem_id>/remove-from-list")
@group_lead
def remove_problem(problem_id: int):
    """移出统筹清单 (draft lists only): the problem waits for triage again."""
    problem = get_problem_or_404(problem_id, current_user, for_update=True)
    form = RemoveForm()
    if not form.validate():
        abort(400)
    cl = problem.coordinated_list
    back = url_for("lists.detail", list_id=cl.id) if cl is not None and form.origin.data == "list" \
        else _problem_url(problem_id)
    try:
        ops.remove_from_list(problem, current_user, version=form.version.data)
        db.session.commit()
    except (Conflict, StaleDataError, NotAllowed, Invalid) as exc:
        db.session.rollback()
        if isinstance(exc, StaleDataError):
            exc = ops.STALE
        problem = db.session.get(Problem, problem_id)
        if problem.status == Status.registered and _last_event_is(problem, "remove_from_list"):
            flash(_("%(number)s 已移出清单。", number=problem.number), "info")
            return redirect(back)
        code = 200 if isinstance(exc, Invalid) else 409
        if cl is not None and cl.work_group_id == current_user.unit_id:
            return list_page(cl, error=_("%(number)s：%(reason)s", number=problem.number, reason=str(exc)),
                             status=code)
        abort(code, description=str(exc))
    flash(_("已将 %(number)s 移出清单，问题回到待研判。", number=problem.number), "success")
    response = redirect(back)
    response.headers["HX-Trigger"] = CHANGED
    return response


def _last_event_is(problem: Problem, action: str) -> bool:
    last = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                             .order_by(ProblemEvent.id.desc()).limit(1))
    return last is not None and last.user_id == current_user.id and last.action == action


def _departments(form: DepartmentsForm):
    lead = db.session.get(Unit, form.dept_lead.data) if form.dept_lead.data else None
    ids = list(dict.fromkeys(form.dept_cooperating.data or []))
    coop = db.session.scalars(select(Unit).where(Unit.id.in_(ids))).all() if ids else []
    if lead is None:
        form.dept_lead.errors = [*form.dept_lead.errors, _("所选部门不存在。")]
    if len(coop) != len(ids):
        form.dept_cooperating.errors = [_("所选配合部门不存在。")]
    return lead, sorted(coop, key=lambda u: ids.index(u.id))


def _rerender(problem_id: int, form: DepartmentsForm, *, error: str | None = None, status: int = 200):
    """The page the office assigned from: the list for a listed problem, the triage page otherwise."""
    db.session.rollback()
    problem = get_problem_or_404(problem_id, current_user)
    form.version.data = problem.version if status == 409 else form.version.data
    cl = problem.coordinated_list
    if cl is not None and (problem.status == Status.listed or request.form.get("origin") == "list"):
        return list_page(cl, failed=problem, failed_form=form, item_error=error, status=status)
    return triage_page(problem, dept_form=form, open_section="departments", section_error=error
                       if status != 409 else None, error=error if status == 409 else None, status=status)


@bp.post("/cases/<int:problem_id>/departments")
@office
def assign_problem(problem_id: int):
    """交办区级部门: one lead department, any cooperating ones, a deadline not before today."""
    problem = get_problem_or_404(problem_id, current_user, for_update=True)
    form = DepartmentsForm()
    form.load_choices()
    if not form.validate():
        return _rerender(problem_id, form)
    lead, cooperating = _departments(form)
    if form.dept_lead.errors or form.dept_cooperating.errors:
        return _rerender(problem_id, form)
    deadline: date = form.deadline.data
    try:
        a = ops.assign_departments(problem, current_user, lead=lead, cooperating=cooperating, deadline=deadline,
                                   requirements=form.dept_requirements.data or "", version=form.version.data,
                                   token=form.token.data)
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        return _rerender(problem_id, form, status=409,
                         error=str(exc) if isinstance(exc, Conflict) else str(ops.STALE))
    except NotAllowed as exc:
        db.session.rollback()
        current = db.session.get(Problem, problem_id)
        code = 409 if transition(current.status, Action.assign_departments) is None else 403
        return _rerender(problem_id, form, status=code, error=str(exc))
    except Invalid as exc:
        return _rerender(problem_id, form, error=str(exc))
    cl = problem.coordinated_list
    flash(_("已交办 %(number)s：牵头部门 %(lead)s，办理时限 %(day)s（交办单 %(sheet)s）。", number=problem.number,
            lead=lead.name, day=a.deadline.isoformat(), sheet=a.number), "success")
    target = url_for("lists.detail", list_id=cl.id) if cl is not None and request.form.get("origin") == "list" \
        else _problem_url(problem_id)
    response = redirect(target)
    response.headers["HX-Trigger"] = CHANGED
    return response


# ---------------------------------------------------------------- printed: 统筹交办问题清单


def list_context(cl: CoordinatedList, problems: list[Problem]) -> dict:
    rows = []
    for i, p in enumerate(problems, 1):
        a = p.current_assignment if p.current_assignment and p.current_assignment.channel.value == "office" else None
        lead = next((u.unit.name for u in a.units if u.role.value == "lead"), "") if a else ""
        coop = [u.unit.name for u in a.units if u.role.value == "cooperating"] if a else []
        rows.append({
            "n": i, "number": p.number, "place": f"{p.town.name}{p.village.name}", "resident": p.resident_name,
            "phone": shown_phone(p), "category": p.category.name, "title": p.title,
            "description": p.description, "tier": p.tier.label if p.tier else "",
            "lead": lead, "cooperating": "、".join(coop), "deadline": a.deadline if a else None,
        })
    submitted = clock.local(cl.submitted_at).date() if cl.submitted_at else None
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动"),
        "doc_number": cl.number,
        "doc_title": _("统筹交办问题清单"),
        "group": cl.work_group.name,
        "submitted_on": submitted,
        "printed_on": clock.today(),
        "rows": rows,
        "count": len(rows),
    }


@bp.get("/lists/<int:list_id>/list.pdf")
@readers
def list_pdf(list_id: int):
    """统筹交办问题清单 (submitted lists): the group lead of the group, the office and the leader."""
    cl = get_list_or_404(list_id, current_user)
    if cl.status == ListStatus.draft:
        abort(404)
    with force_locale("zh_CN"):  # an official document: Chinese whatever the user's language
        data = render_pdf("coordinated_list", **list_context(cl, list_problems(cl)))
    return pdf_response(data, f"统筹交办问题清单-{cl.number}.pdf")
