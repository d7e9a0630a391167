"""Triage and assignment (研判、转办交办) by the group lead and the office.

The triage page shows one problem and, for each action ``workflow.allowed_actions`` allows the
user, its part of the form; each action posts to its own endpoint and calls the matching
operation of ``cases.operations``. The queue lists the problems waiting for triage and applies
one triage to several of them in one transaction (all or nothing). The printed 问题交办单 is in
``sheet_routes``.
"""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..accounts import nav
from ..accounts.gates import roles_required
from ..accounts.roles import Role
from ..core import clock
from ..core.deadlines import time_left
from ..core.errors import Conflict, Invalid
from ..core.extensions import db
from ..core.render import render
from ..core.settings import get_settings
from ..org.models import Unit
from . import deadlines as case_deadlines
from . import operations as ops
from . import uploads
from .access import get_problem_or_404, relations, scope, shown_phone
from .models import (
    AssignmentUnit,
    Category,
    PartStatus,
    Problem,
    ProblemEvent,
)
from .similar import similar_open_problems
from .triage_forms import (
    BatchForm,
    DepartmentsForm,
    MergeForm,
    NotAcceptForm,
    RemoveForm,
    TriageForm,
)
from .workflow import (
    ENDED,
    TRIAGE,
    Action,
    Kind,
    Level,
    NotAllowed,
    Tier,
    allowed_actions,
    transition,
)

bp = Blueprint("triage", __name__)
triagers = roles_required(Role.group_lead, Role.office)


@bp.record_once
def _menu(_state) -> None:
    # Added when the blueprint is registered (after the queues' 工作台), not on import.
    nav.register("triage.queue", _l("研判交办"))


CHANGED = "cases-changed"  # htmx event: counters refresh themselves
PAGE_SIZE = 25
MAX_EVIDENCE = uploads.MAX_FILES_PER_PROBLEM

# The page's sections, by the workflow action each performs.
SECTIONS = {
    Action.assign_sheet: "assign",
    Action.transfer_desk: "transfer",
    Action.add_to_list: "list",
    Action.resolve_on_spot: "resolve",
    Action.assign_departments: "departments",
    Action.merge: "merge",
    Action.not_accept: "not_accept",
    Action.remove_from_list: "remove",
}
ACTION_OF = {v: k for k, v in SECTIONS.items()}
MAIN_SECTIONS = ("assign", "transfer", "list", "resolve")


# ---------------------------------------------------------------- reads


def returned_parts(problem_ids) -> dict[int, AssignmentUnit]:
    """The latest return (退回) of each of these problems: the unit's reason, who, when."""
    ids = list(problem_ids)
    if not ids:
        return {}
    latest = (select(func.max(AssignmentUnit.id)).where(
        AssignmentUnit.problem_id.in_(ids), AssignmentUnit.status == PartStatus.returned)
        .group_by(AssignmentUnit.problem_id))
    parts = db.session.scalars(
        select(AssignmentUnit).where(AssignmentUnit.id.in_(latest))
        .options(joinedload(AssignmentUnit.unit), joinedload(AssignmentUnit.signed_by))
    ).all()
    return {p.problem_id: p for p in parts}


def merge_candidates(problem: Problem, user, limit: int = 30) -> list[Problem]:
    """Open problems of the same town the user sees (for the merge field's suggestions)."""
    return db.session.scalars(
        select(Problem).where(
            scope(user), Problem.town_id == problem.town_id, Problem.id != problem.id,
            Problem.status.notin_(list(ENDED)),
        ).order_by(Problem.registered_at.desc()).limit(limit)
    ).all()


def likely_duplicates(problem: Problem, user) -> list[tuple]:
    """Open problems of the district that read like this one (``similar``: the town's first), each
    with its page's address when the user sees it (only those may be opened or merged into)."""
    if problem.village is None:
        return []
    found = similar_open_problems(problem.village, problem.title or "", problem.description or "",
                                  exclude=problem.id)
    if not found:
        return []
    visible = set(db.session.scalars(select(Problem.id).where(
        Problem.id.in_([s.id for s in found]), scope(user))))
    return [(s, _problem_url(s.id) if s.id in visible else None) for s in found]


def find_problem_by_number(text: str, user, year: int) -> Problem | None:
    """A visible problem by its full number (贾走访〔2026〕00123号), or by its sequence in ``year``."""
    text = text.strip()
    q = select(Problem).where(scope(user))
    if text.isdigit():
        q = q.where(Problem.year == year, Problem.seq == int(text))
    else:
        q = q.where(Problem.number == text)
    return db.session.scalar(q)


def _units(ids) -> list[Unit] | None:
    """Units by id in the given order; None when one of them does not exist."""
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        return []
    found = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids] if len(found) == len(ids) else None


def deadline_preview(tier: Tier, workdays: int | None = None) -> dict:
    """What the deadline would be if assigned now (one place for the page, the fragment, the lists)."""
    now = clock.now()
    days = case_deadlines.tier_workdays(tier, workdays)
    deadline = case_deadlines.handling_deadline(now, tier, workdays)
    return {
        "tier": tier, "workdays": days, "deadline": deadline, "left": time_left(deadline, now),
        "sign_for": case_deadlines.sign_for_deadline(now), "joint_max": get_settings().tier_joint_max_days,
    }


# ---------------------------------------------------------------- the triage page


def _problem_url(problem_id: int) -> str:
    if "cases.detail" in current_app.view_functions:
        return url_for("cases.detail", problem_id=problem_id)
    return url_for("triage.triage_form", problem_id=problem_id)


def _attachment_url(attachment) -> str | None:
    from .actions import object_url

    return object_url("intake.attachment", attachment_id=attachment.id, problem_id=attachment.problem_id,
                      default=attachment.id)


def _sections(user, problem: Problem) -> list[str]:
    return [SECTIONS[a] for a in allowed_actions(problem.status, user.role, relations(user, problem))
            if a in SECTIONS]


def _tier_of(form) -> tuple[Tier, int | None]:
    try:
        tier = Tier(form.tier.data)
    except ValueError:
        tier = Tier.quick
    workdays = form.workdays.data if tier == Tier.joint and not form.workdays.errors else None
    return tier, workdays


def default_deadline(problem: Problem) -> date:
    """The office's default deadline for district departments: the problem's tier from today."""
    return case_deadlines.handling_deadline(clock.now(), problem.tier or Tier.quick)


def departments_form(problem: Problem, form: DepartmentsForm | None = None) -> DepartmentsForm:
    if form is None:
        form = DepartmentsForm(formdata=None, data={"version": problem.version})
        form.deadline.data = default_deadline(problem)
        form.ensure_token()
    form.load_choices()
    return form


def triage_page(problem: Problem, *, form: TriageForm | None = None, merge_form: MergeForm | None = None,
                not_accept_form: NotAcceptForm | None = None, dept_form: DepartmentsForm | None = None,
                open_section: str | None = None, error: str | None = None, section_error: str | None = None,
                unsaved: list | None = None, status: int = 200):
    """The triage page (also re-rendered, with the user's input, after a refused action)."""
    user = current_user
    sections = _sections(user, problem)
    fresh = {"version": problem.version}
    if form is None:
        form = TriageForm(formdata=None, data=fresh)
        form.load_choices(problem)
        form.fill(problem)
    else:
        form.load_choices(problem)
    form.ensure_token()
    if merge_form is None:
        # "合并到此问题" from a likely duplicate opens the merge form with its number filled in.
        merge_form = MergeForm(formdata=None, data={**fresh, "into": request.args.get("into", "")[:40]})
    merge_form.ensure_token()
    not_accept_form = not_accept_form or NotAcceptForm(formdata=None, data=fresh)
    not_accept_form.ensure_token()
    dept_form = departments_form(problem, dept_form)
    requested = request.args.get("action")
    if open_section is None and requested in Action.__members__ and Action(requested) in SECTIONS:
        open_section = SECTIONS[Action(requested)]
    if open_section not in sections:
        open_section = next((s for s in sections if s in MAIN_SECTIONS), sections[0] if sections else None)
    tier, workdays = _tier_of(form)
    returned = returned_parts([problem.id]).get(problem.id) if problem.status.value == "returned" else None
    ctx = {
        "problem": problem,
        "phone": shown_phone(problem),
        "sections": sections,
        "main_sections": [s for s in sections if s in MAIN_SECTIONS],
        "open_section": open_section,
        "form": form,
        "merge_form": merge_form,
        "not_accept_form": not_accept_form,
        "dept_form": dept_form,
        "remove_form": RemoveForm(formdata=None, data={**fresh, "origin": "problem"}),
        "preview": deadline_preview(tier, workdays),
        "returned": returned,
        "attachments": [(a, _attachment_url(a)) for a in problem.attachments],
        "candidates": merge_candidates(problem, user) if "merge" in sections else [],
        "duplicates": likely_duplicates(problem, user) if problem.status in TRIAGE else [],
        "problem_url": _problem_url(problem.id),
        "error": error,
        "unsaved": unsaved or [],
        "section_error": section_error,
        "max_evidence": MAX_EVIDENCE,
        "in_triage": problem.status in TRIAGE,
        "settings": get_settings(),
        "today": clock.today().isoformat(),
    }
    return render("cases/triage/page.html", status=status, **ctx)


def load_problem(problem_id: int, *, for_update: bool = False) -> Problem:
    if for_update:
        # Row-locked for a write: no outer-joined eager loads (PostgreSQL refuses FOR UPDATE on them).
        return get_problem_or_404(problem_id, current_user, for_update=True)
    return get_problem_or_404(problem_id, current_user, options=[
        joinedload(Problem.village), joinedload(Problem.town), joinedload(Problem.category),
        joinedload(Problem.registered_by), selectinload(Problem.attachments),
    ])


@bp.get("/cases/<int:problem_id>/triage")
@triagers
def triage_form(problem_id: int):
    """研判: the problem, the triage fields, the computed deadline, and the actions allowed now."""
    return triage_page(load_problem(problem_id))


@bp.get("/triage/deadline", endpoint="deadline_preview")
@triagers
def deadline_preview_fragment():
    """htmx: the deadline the chosen tier (and 难事联办's working days) gives if assigned now."""
    try:
        tier = Tier(request.args.get("tier", "quick"))
    except ValueError:
        tier = Tier.quick
    workdays = request.args.get("workdays", type=int)
    if workdays is not None and workdays < 1:
        workdays = None
    return render("cases/triage/_deadline.html", preview=deadline_preview(tier, workdays if tier == Tier.joint else None))


# ---------------------------------------------------------------- acting on one problem


def _reload(problem_id: int) -> Problem | None:
    """The problem after a rollback, as it is now, if the user still sees it."""
    db.session.rollback()
    return db.session.scalar(
        select(Problem).where(Problem.id == problem_id, scope(current_user))
        .options(selectinload(Problem.attachments)).execution_options(populate_existing=True)
    )


UNSAVED_FIELDS = ("requirements", "desk_requirements", "result", "into", "reason", "dept_requirements")


def unsaved_input(forms) -> list[tuple[str, str]]:
    """What the user typed into a refused form, to show when that form cannot be drawn any more."""
    out = []
    for form in forms:
        for name in UNSAVED_FIELDS:
            field = form._fields.get(name) if form is not None else None
            if field is not None and isinstance(field.data, str) and field.data.strip():
                out.append((str(field.label.text), field.data))
    return out


def _refused(problem_id: int, message: str, *, code: int, forms: dict, open_section: str | None):
    """409 (changed meanwhile, or no longer possible): the page as it is now, the user's input kept."""
    problem = _reload(problem_id)
    if problem is None:
        abort(code, description=message)
    for f in forms.values():
        if f is not None:
            f.version.data = problem.version  # they have now seen the current state
    unsaved = [] if open_section in _sections(current_user, problem) else unsaved_input(forms.values())
    return triage_page(problem, error=message, status=code, open_section=open_section, unsaved=unsaved, **forms)


def _not_allowed_code(problem_id: int, action: Action) -> int:
    problem = db.session.get(Problem, problem_id)
    return 409 if problem is None or transition(problem.status, action) is None else 403


def _repeat_of(problem_id: int, action: Action, version) -> bool:
    """A double submit of an action without a client token: this user just did exactly this."""
    db.session.rollback()
    problem = db.session.get(Problem, problem_id)
    last = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == problem_id)
                             .order_by(ProblemEvent.id.desc()).limit(1))
    try:
        older = version is not None and int(version) < problem.version
    except (TypeError, ValueError):
        older = False
    return bool(older and last and last.user_id == current_user.id and last.action == action.value)


def _done(problem_id: int, message: str, category: str = "success"):
    """PRG to the problem page (or the queue when the user no longer sees it), counters refresh."""
    still = db.session.scalar(select(Problem.id).where(Problem.id == problem_id, scope(current_user)))
    flash(message, category)
    response = redirect(_problem_url(problem_id) if still else url_for("triage.queue"))
    response.headers["HX-Trigger"] = CHANGED
    return response


def triage_of(form) -> ops.Triage | None:
    """The triage the form describes, or None with the error on the category field."""
    category = db.session.get(Category, form.category.data) if form.category.data else None
    if category is None or not category.is_active:
        form.category.errors = [*form.category.errors, _("所选问题类别不存在或已停用。")]
        return None
    tier = Tier(form.tier.data)
    return ops.Triage(Kind(form.kind.data), Level(form.level.data), tier, category,
                      form.workdays.data if tier == Tier.joint else None)


def run_action(problem_id: int, action: Action, section: str, work, *, forms: dict, tokened: bool):
    """Call ``work()`` (the operation), commit once, and answer every way it can end."""
    form = next(f for f in forms.values() if f is not None)
    try:
        message = work()
        db.session.commit()
    except (Conflict, StaleDataError) as exc:
        if not tokened and _repeat_of(problem_id, action, form.version.data):
            return _done(problem_id, _("此问题刚刚已由您办理过（可能是重复提交），未再次处理。"), "info")
        msg = str(exc) if isinstance(exc, Conflict) else str(ops.STALE)
        return _refused(problem_id, msg, code=409, forms=forms, open_section=section)
    except NotAllowed as exc:
        db.session.rollback()
        if not tokened and _repeat_of(problem_id, action, form.version.data):
            return _done(problem_id, _("此问题刚刚已由您办理过（可能是重复提交），未再次处理。"), "info")
        return _refused(problem_id, str(exc), code=_not_allowed_code(problem_id, action), forms=forms,
                        open_section=section)
    except (Invalid, uploads.UploadRefused) as exc:
        problem = _reload(problem_id)
        if problem is None:
            abort(404)
        return triage_page(problem, section_error=str(exc), open_section=section, **forms)
    return _done(problem_id, message)


def main_form(problem: Problem, section: str) -> tuple[TriageForm, bool]:
    form = TriageForm()
    form.load_choices(problem)
    return form, form.validate_for(section)


def invalid(problem, section, **forms):
    return triage_page(problem, open_section=section, **forms)


@bp.post("/cases/<int:problem_id>/assign")
@triagers
def assign(problem_id: int):
    """交办: a 问题交办单 to one town/street/zone (lead), with optional cooperating units."""
    problem = load_problem(problem_id, for_update=True)
    form, ok = main_form(problem, "assign")
    lead = cooperating = None
    if ok:
        lead = db.session.get(Unit, form.lead.data)
        cooperating = _units(form.cooperating.data or [])
        if lead is None:
            form.lead.errors = [_("所选单位不存在。")]
        if cooperating is None:
            form.cooperating.errors = [_("所选配合单位不存在。")]
    triage = triage_of(form) if ok else None
    if not ok or triage is None or form.lead.errors or form.cooperating.errors:
        return invalid(problem, "assign", form=form)

    def work():
        a = ops.assign_sheet(problem, current_user, lead=lead, cooperating=cooperating, triage=triage,
                             requirements=form.requirements.data or "", version=form.version.data,
                             token=form.token.data)
        return _("已生成问题交办单 %(number)s，交%(unit)s办理，办理时限 %(day)s。",
                 number=a.number, unit=lead.name, day=a.deadline.isoformat())

    return run_action(problem_id, Action.assign_sheet, "assign", work, forms={"form": form}, tokened=True)


@bp.post("/cases/<int:problem_id>/transfer")
@triagers
def transfer(problem_id: int):
    """转办: hand the problem to the district 12345 platform's campaign desk."""
    problem = load_problem(problem_id, for_update=True)
    form, ok = main_form(problem, "transfer")
    triage = triage_of(form) if ok else None
    if not ok or triage is None:
        return invalid(problem, "transfer", form=form)

    def work():
        a = ops.transfer_to_desk(problem, current_user, triage=triage, requirements=form.desk_requirements.data or "",
                                 version=form.version.data, token=form.token.data)
        return _("已转12345专席（转办单 %(number)s），办理时限 %(day)s。", number=a.number, day=a.deadline.isoformat())

    return run_action(problem_id, Action.transfer_desk, "transfer", work, forms={"form": form}, tokened=True)


@bp.post("/cases/<int:problem_id>/list")
@triagers
def to_list(problem_id: int):
    """列入统筹交办清单: a common problem goes on the group's draft list for the office."""
    problem = load_problem(problem_id, for_update=True)
    form, ok = main_form(problem, "list")
    triage = triage_of(form) if ok else None
    if not ok or triage is None:
        return invalid(problem, "list", form=form)

    def work():
        cl = ops.add_to_list(problem, current_user, triage=triage, version=form.version.data)
        return _("已列入“%(title)s”（草稿，共 %(n)d 个问题）。", title=cl.title, n=len(cl.problems))

    return run_action(problem_id, Action.add_to_list, "list", work, forms={"form": form}, tokened=False)


@bp.post("/cases/<int:problem_id>/merge")
@triagers
def merge_into(problem_id: int):
    """合并: a duplicate joins an existing problem (the resident is still owed a reply)."""
    problem = load_problem(problem_id, for_update=True)
    form = MergeForm()
    if not form.validate():
        return invalid(problem, "merge", merge_form=form)
    target = find_problem_by_number(form.into.data, current_user, problem.year)
    if target is None:
        form.into.errors = [_("找不到编号为“%(n)s”的问题（或您无权查看）。", n=form.into.data)]
        return invalid(problem, "merge", merge_form=form)

    def work():
        ops.merge(problem, current_user, into=target, reason=form.reason.data, version=form.version.data)
        return _("已合并到 %(number)s。", number=target.number)

    return run_action(problem_id, Action.merge, "merge", work, forms={"merge_form": form}, tokened=False)


@bp.post("/cases/<int:problem_id>/not-accept")
@triagers
def decline(problem_id: int):
    """不予受理: with the reason (the resident is still owed a reply)."""
    problem = load_problem(problem_id, for_update=True)
    form = NotAcceptForm()
    if not form.validate():
        return invalid(problem, "not_accept", not_accept_form=form)

    def work():
        ops.not_accept(problem, current_user, reason=form.reason.data, version=form.version.data)
        return _("已标记为不予受理。请记得向群众回音。")

    return run_action(problem_id, Action.not_accept, "not_accept", work, forms={"not_accept_form": form},
                tokened=False)


# ---------------------------------------------------------------- the queue and batch triage


BATCH_ACTIONS = {"assign": Action.assign_sheet, "transfer": Action.transfer_desk, "list": Action.add_to_list}


@dataclass
class QueueRow:
    problem: Problem
    returned: AssignmentUnit | None


def queue_page_data(user, page: int) -> dict:
    conds = [scope(user), Problem.status.in_(list(TRIAGE))]
    total = db.session.scalar(select(func.count()).select_from(Problem).where(*conds))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    items = db.session.scalars(
        select(Problem).where(*conds)
        .options(joinedload(Problem.village), joinedload(Problem.town), joinedload(Problem.category),
                 joinedload(Problem.registered_by))
        .order_by(Problem.registered_at.asc(), Problem.id.asc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    returned = returned_parts(p.id for p in items if p.status.value == "returned")
    return {"rows": [QueueRow(p, returned.get(p.id)) for p in items], "total": total, "page": page,
            "pages": pages}


def _queue(form: BatchForm | None = None, *, selected=(), error: str | None = None, status: int = 200):
    if form is None:
        form = BatchForm(formdata=None, data={"kind": Kind.individual.value, "level": Level.town.value,
                                              "tier": Tier.quick.value})
    form.load_choices()
    form.ensure_token()
    data = queue_page_data(current_user, request.args.get("page", 1, type=int))
    tier, workdays = _tier_of(form)
    # Which batch buttons show: what the workflow allows on at least one of the rows.
    allowed = set()
    for row in data["rows"]:
        allowed.update(allowed_actions(row.problem.status, current_user.role, relations(current_user, row.problem)))
    return render("cases/triage/queue.html", status=status, form=form, selected=set(selected), error=error,
                  preview=deadline_preview(tier, workdays), batch_actions={
                      key for key, a in BATCH_ACTIONS.items() if a in allowed}, **data)


@bp.get("/triage")
@triagers
def queue():
    """The problems waiting for triage (new and returned), oldest first, with batch triage."""
    return _queue()


@bp.post("/triage/batch")
@triagers
def batch():
    """Apply one triage and one action to every selected problem — all of them, or none."""
    form = BatchForm()
    form.load_choices()
    ids = list(dict.fromkeys(i for i in request.form.getlist("ids", type=int) if i))
    if not form.validate_batch():
        return _queue(form, selected=ids)
    if not ids:
        return _queue(form, selected=ids, error=_("请至少勾选一个问题。"))
    category = None
    if form.category.data:
        category = db.session.get(Category, form.category.data)
        if category is None or not category.is_active:
            form.category.errors = [_("所选问题类别不存在或已停用。")]
            return _queue(form, selected=ids)
    lead = db.session.get(Unit, form.lead.data) if form.action.data == "assign" else None
    if form.action.data == "assign" and lead is None:
        form.lead.errors = [_("所选单位不存在。")]
        return _queue(form, selected=ids)
    problems = db.session.scalars(
        select(Problem).where(Problem.id.in_(ids), scope(current_user)).order_by(Problem.id).with_for_update()
    ).all()
    if len(problems) != len(ids):
        db.session.rollback()
        return _queue(form, selected=ids, status=404 if not problems else 200,
                      error=_("所选问题中有不存在或您无权处理的问题，全部未处理。"))
    tier = Tier(form.tier.data)
    action = BATCH_ACTIONS[form.action.data]
    done, repeated = [], 0
    for problem in problems:
        number = problem.number
        version = request.form.get(f"v{problem.id}", type=int)
        triage = ops.Triage(Kind(form.kind.data), Level(form.level.data), tier, category,
                            form.workdays.data if tier == Tier.joint else None)
        token = f"{form.token.data}-{problem.id}" if form.token.data else None
        try:
            if version is None:
                raise Conflict(ops.STALE)
            if action == Action.assign_sheet:
                ops.assign_sheet(problem, current_user, lead=lead, triage=triage,
                                 requirements=form.requirements.data or "", version=version, token=token)
            elif action == Action.transfer_desk:
                ops.transfer_to_desk(problem, current_user, triage=triage,
                                     requirements=form.requirements.data or "", version=version, token=token)
            else:
                ops.add_to_list(problem, current_user, triage=triage, version=version)
        except (Conflict, NotAllowed, Invalid) as exc:
            if action == Action.add_to_list and _is_own_repeat(problem, action, version):
                repeated += 1
                continue
            db.session.rollback()
            code = 409 if isinstance(exc, Conflict) or (
                isinstance(exc, NotAllowed) and transition(problem.status, action) is None) else 200
            return _queue(form, selected=ids, status=code, error=_(
                "问题 %(number)s 未能处理：%(reason)s 所选的 %(n)d 个问题均未处理，请刷新后重新选择。",
                number=number, reason=str(exc), n=len(ids)))
        done.append(number)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _queue(form, selected=ids, status=409, error=_("%(stale)s 所选问题均未处理。", stale=str(ops.STALE)))
    label = action.label
    message = _("已对 %(n)d 个问题执行“%(action)s”：%(numbers)s。", n=len(done), action=label,
                numbers="、".join(done)) if done else _("所选问题此前已由您处理过，未再次处理。")
    if repeated and done:
        message += _("（另有 %(n)d 个问题此前已处理过。）", n=repeated)
    flash(message, "success" if done else "info")
    response = redirect(url_for("triage.queue"))
    response.headers["HX-Trigger"] = CHANGED
    return response


def _is_own_repeat(problem: Problem, action: Action, version) -> bool:
    """In a batch: this problem already had exactly this done by this user (a double submit)."""
    last = db.session.scalar(select(ProblemEvent).where(ProblemEvent.problem_id == problem.id)
                             .order_by(ProblemEvent.id.desc()).limit(1))
    return bool(version is not None and version < problem.version and last is not None
                and last.user_id == current_user.id and last.action == action.value)
