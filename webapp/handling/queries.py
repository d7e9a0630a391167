"""Reads of handling: a problem's task books, closure requests, open cooperating parts, waiting
extension, the actions its rows make moot; and joint meetings (协商会办), always through the one
meeting scope.

A meeting is seen by the members of the unit that convened it and of the units invited to it,
by the office and the leader (all), and by a group lead when one of the problems on its agenda
belongs to the group. Nobody else learns that it exists (404). Lists load a page in a bounded
number of queries whatever the data size.
"""

from dataclasses import dataclass

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import joinedload, selectinload

from ..accounts.roles import Role
from ..cases import panels
from ..cases.access import SEE_ALL, UNIT_ROLES, scope
from ..cases.models import Assignment, PartStatus, Problem, UnitRole
from ..cases.workflow import OWES_REPLY, Action, Activity, Status, may_do
from ..core.extensions import db
from .models import (
    BookStatus,
    Closure,
    ClosureStatus,
    Extension,
    Meeting,
    MeetingDecision,
    MeetingProblem,
    MeetingStatus,
    MeetingUnit,
    RequestStatus,
    TaskBook,
)

# ---------------------------------------------------------------- a problem's handling rows


def books(problem: Problem) -> list[TaskBook]:
    return db.session.scalars(
        select(TaskBook).where(TaskBook.problem_id == problem.id).order_by(TaskBook.revision)).all()


def book_in_force(problem: Problem) -> TaskBook | None:
    """The approved task book (the one whose steps are worked on)."""
    return db.session.scalar(select(TaskBook).where(
        TaskBook.problem_id == problem.id, TaskBook.status == BookStatus.approved))


def book_under_review(problem: Problem) -> TaskBook | None:
    return db.session.scalar(select(TaskBook).where(
        TaskBook.problem_id == problem.id, TaskBook.status == BookStatus.submitted))


def open_closure(problem: Problem, *statuses: ClosureStatus) -> Closure | None:
    return db.session.scalar(select(Closure).where(
        Closure.problem_id == problem.id, Closure.status.in_(statuses)).order_by(Closure.id.desc()))


def open_parts(problem: Problem):
    """Cooperating parts of the current assignment not yet reported done."""
    a = problem.current_assignment
    if a is None:
        return []
    return [p for p in a.units if p.role == UnitRole.cooperating and p.is_current
            and p.status in (PartStatus.pending, PartStatus.accepted)]


def pending_extension(problem: Problem) -> Extension | None:
    return db.session.scalar(select(Extension).where(
        Extension.problem_id == problem.id, Extension.status == RequestStatus.pending))


def moot_actions(problem: Problem) -> set[Action]:
    """Actions the table allows in this status that the rows make moot now (buttons hide them):
    deciding an extension when none waits, requesting one while one waits, replying when no
    reply is owed. ``reply_reopen`` is chosen by the reply form (the verdict), not a button."""
    moot = {Action.reply_reopen}
    if problem.status == Status.in_progress:
        moot.add(Action.request_extension if pending_extension(problem) else Action.decide_extension)
    if problem.status in OWES_REPLY and problem.reply_due is None and problem.replied_at is not None:
        moot.add(Action.reply)
    return moot


panels.register_moot(moot_actions)


# ---------------------------------------------------------------- joint meetings

# Who uses the meetings pages at all (the route gates); the scope narrows further.
VIEW_ROLES = frozenset(UNIT_ROLES | SEE_ALL | {Role.group_lead})
PAGE_SIZE = 20
AGENDA_LIMIT = 50  # candidates offered on the convene page (most recent first)
AGENDA_STATUSES = (Status.accepted, Status.plan_review, Status.in_progress)


def meeting_scope(user):
    """A WHERE clause limiting ``Meeting`` rows to what ``user`` may see."""
    role = user.role
    if role in SEE_ALL:
        return true()
    if role not in VIEW_ROLES:
        return false()
    invited = select(MeetingUnit.meeting_id).where(MeetingUnit.unit_id == user.unit_id)
    conds = [Meeting.convened_by_unit_id == user.unit_id, Meeting.id.in_(invited)]
    if role == Role.group_lead:
        conds.append(Meeting.id.in_(
            select(MeetingProblem.meeting_id).join(Problem, Problem.id == MeetingProblem.problem_id)
            .where(Problem.work_group_id == user.unit_id)))
    return or_(*conds)


def detail_options():
    return (
        joinedload(Meeting.convened_by_unit), joinedload(Meeting.convened_by), joinedload(Meeting.minuted_by),
        selectinload(Meeting.units).joinedload(MeetingUnit.unit),
        selectinload(Meeting.agenda).joinedload(MeetingProblem.problem).joinedload(Problem.lead_unit),
        selectinload(Meeting.decisions).joinedload(MeetingDecision.unit),
        selectinload(Meeting.decisions).joinedload(MeetingDecision.problem),
    )


def get_meeting(meeting_id: int, user, *, for_update: bool = False, options=()) -> Meeting | None:
    """The meeting if the user may see it, else None (the view answers 404)."""
    q = select(Meeting).where(Meeting.id == meeting_id, meeting_scope(user))
    if for_update:
        q = q.with_for_update(of=Meeting)
    else:
        q = q.options(*options)
    return db.session.scalar(q)


def visible_problem_ids(user, problem_ids) -> set[int]:
    """Which of these problems the user's scope holds (links only to those)."""
    ids = list(problem_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Problem.id).where(Problem.id.in_(ids), scope(user))))


# ---------------------------------------------------------------- the list


@dataclass
class MeetingPage:
    items: list
    total: int
    page: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _list_options():
    return (
        joinedload(Meeting.convened_by_unit),
        selectinload(Meeting.units).joinedload(MeetingUnit.unit),
        selectinload(Meeting.agenda).joinedload(MeetingProblem.problem),
    )


def meeting_page(user, *, upcoming: bool, page: int = 1) -> MeetingPage:
    """Planned meetings by time (即将召开), or minuted/cancelled ones newest first: one count,
    one page, and the page's units and agendas eager-loaded."""
    if upcoming:
        conds = [meeting_scope(user), Meeting.status == MeetingStatus.planned]
        order = (Meeting.starts_at.asc(), Meeting.id.asc())
    else:
        conds = [meeting_scope(user), Meeting.status != MeetingStatus.planned]
        order = (Meeting.starts_at.desc(), Meeting.id.desc())
    total = db.session.scalar(select(func.count()).select_from(Meeting).where(*conds))
    page = min(max(1, page), max(1, -(-total // PAGE_SIZE)))
    items = db.session.scalars(
        select(Meeting).where(*conds).options(*_list_options()).order_by(*order)
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return MeetingPage(items=list(items), total=total, page=page)


def meetings_of_problem(user, problem: Problem) -> list[Meeting]:
    """The meetings with this problem on the agenda that the user may see (newest first)."""
    return list(db.session.scalars(
        select(Meeting).join(MeetingProblem, MeetingProblem.meeting_id == Meeting.id)
        .where(MeetingProblem.problem_id == problem.id, meeting_scope(user))
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    ))


# ---------------------------------------------------------------- the convene page


def _agenda_query(user):
    q = select(Problem).where(scope(user), Problem.status.in_(AGENDA_STATUSES))
    if user.role in UNIT_ROLES:
        q = q.where(Problem.lead_unit_id == user.unit_id)  # a unit convenes on its own lead problems
    return q.options(joinedload(Problem.current_assignment).selectinload(Assignment.units),
                     joinedload(Problem.lead_unit))


def may_convene_on(user, problem: Problem) -> bool:
    from ..cases.access import relations

    return may_do(Activity.convene, problem.status, user.role, relations(user, problem))


def agenda_candidates(user, include=()) -> list[Problem]:
    """The problems the user may put on an agenda now: the most recent ``AGENDA_LIMIT`` and
    those in ``include`` (preselected or chosen before a re-render), each allowed by the workflow."""
    recent = list(db.session.scalars(
        _agenda_query(user).order_by(Problem.updated_at.desc(), Problem.id.desc()).limit(AGENDA_LIMIT)
    ).unique())
    have = {p.id for p in recent}
    extra_ids = [i for i in dict.fromkeys(include) if i and i not in have]
    if extra_ids:
        extra = db.session.scalars(_agenda_query(user).where(Problem.id.in_(extra_ids))).unique().all()
        recent = list(extra) + recent
    return [p for p in recent if may_convene_on(user, p)]


def problems_by_id(user, ids) -> tuple[list[Problem], bool]:
    """The visible problems with these ids, in the given order; False when one is unknown or hidden."""
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        return [], True
    found = {p.id: p for p in db.session.scalars(
        select(Problem).where(Problem.id.in_(ids), scope(user))
        .options(joinedload(Problem.current_assignment).selectinload(Assignment.units))
    ).unique()}
    return [found[i] for i in ids if i in found], len(found) == len(ids)


def current_unit_ids(problem: Problem) -> list[int]:
    """The lead and cooperating units of the problem's current assignment (lead first)."""
    a = problem.current_assignment
    if a is None:
        return []
    parts = sorted((p for p in a.units if p.is_current), key=lambda p: (p.role.value != "lead", p.id))
    return [p.unit_id for p in parts]
