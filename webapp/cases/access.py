"""Who may see which problem, and how the actor stands to it — the one visibility scope.

``scope(user)`` is the only place that decides which problems a user may see; every list,
count, export, download and detail page goes through it (the IDOR defence). ``relations``
tells the workflow how an actor stands to one problem.
"""

from flask import abort
from sqlalchemy import false, select, true

from ..accounts.roles import Role
from ..core.extensions import db
from .models import AssignmentUnit, PartStatus, Problem, UnitRole
from .workflow import Rel

SEE_ALL = frozenset({Role.office, Role.leader})
UNIT_ROLES = frozenset({Role.handler, Role.unit_leader, Role.desk})


def scope(user):
    """A WHERE clause limiting ``Problem`` rows to what ``user`` may see."""
    role = user.role
    if role in SEE_ALL:
        return true()
    if role == Role.cadre:
        return Problem.registered_by_id == user.id
    if role == Role.group_lead:
        return Problem.work_group_id == user.unit_id
    if role in UNIT_ROLES:
        # Lead or cooperating unit of the current assignment.
        return Problem.id.in_(
            select(AssignmentUnit.problem_id).where(
                AssignmentUnit.unit_id == user.unit_id, AssignmentUnit.is_current.is_(True)
            )
        )
    return false()  # admins and role-less accounts see no casework


def visible(user):
    """``select(Problem)`` already limited to the user's scope."""
    return select(Problem).where(scope(user))


def get_problem_or_404(problem_id: int, user, *, for_update: bool = False, options=()) -> Problem:
    """Load a problem the user may see; 404 otherwise (never reveal that it exists).

    ``options``: loader options (e.g. ``queries.detail_options()``) for what the page shows.
    """
    q = select(Problem).where(Problem.id == problem_id, scope(user)).options(*options)
    if for_update:
        # Lock the problem row only: eager-loaded outer joins cannot be locked (PostgreSQL).
        q = q.with_for_update(of=Problem)
    problem = db.session.scalar(q)
    if problem is None:
        abort(404)
    return problem


def unit_part(user, problem: Problem) -> AssignmentUnit | None:
    """The user's unit's part (lead or cooperating) in the problem's current assignment."""
    if user.role not in UNIT_ROLES or problem.current_assignment is None:
        return None
    for part in problem.current_assignment.units:
        if part.unit_id == user.unit_id:
            return part
    return None


def relations(user, problem: Problem) -> frozenset[Rel]:
    """How ``user`` stands to ``problem`` (input to the workflow table)."""
    rels = set()
    role = user.role
    if role == Role.office:
        rels.add(Rel.office)
    if role == Role.cadre and problem.registered_by_id == user.id:
        rels.add(Rel.registrar)
    if role == Role.group_lead and problem.work_group_id == user.unit_id:
        rels.add(Rel.group)
    if role in (Role.group_lead, Role.office) and problem.assigner_unit_id == user.unit_id:
        rels.add(Rel.assigner)
    if role in UNIT_ROLES:
        part = unit_part(user, problem)
        if part is not None and part.is_current:
            if problem.lead_unit_id == user.unit_id and part.role == UnitRole.lead:
                rels.add(Rel.assignee)
            elif part.role == UnitRole.cooperating and part.status in (PartStatus.accepted, PartStatus.done):
                rels.add(Rel.cooperating)
    return frozenset(rels)


def sees_full_contact(user, problem: Problem) -> bool:
    """Registering cadre, the handling units (lead or cooperating) and the office see full numbers."""
    if user.role == Role.office:
        return True
    if user.role == Role.cadre and problem.registered_by_id == user.id:
        return True
    return unit_part(user, problem) is not None


def shown_phone(problem: Problem) -> str:
    """What lists, exports and pages show: always masked. Full numbers only through the
    explicit, audited reveal (``intake.reveal_contact``) for those ``sees_full_contact`` allows."""
    return mask_phone(problem.resident_phone)


def shown_id_number(problem: Problem) -> str:
    return mask_id_number(problem.resident_id_number)


def mask_phone(phone: str | None) -> str:
    """138****1234."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(number: str | None) -> str:
    """320305********1234."""
    if not number:
        return ""
    n = number.strip()
    if len(n) < 10:
        return "*" * len(n)
    return n[:6] + "*" * (len(n) - 10) + n[-4:]
