"""Who sees which households, enterprises and visits: the one scope of the visits area.

A cadre sees the entries in their charge and their work group's; a group lead the group's; the
handlers and leaders of a town, street or zone the entries of its places; the office and the
leading group everything (the leading group reads only); district departments and the 12345 desk
none. Full phone numbers: the responsible cadre, the group and the office, each reveal audited.
"""

from flask import abort
from flask_login import current_user
from sqlalchemy import false, or_, true

from ..accounts.roles import Role
from ..org.models import TERRITORIAL
from .models import Enterprise, Household, Visit

READERS = (Role.cadre, Role.group_lead, Role.handler, Role.unit_leader, Role.office, Role.leader)
EDITORS = (Role.group_lead, Role.office)


def is_town_user(user) -> bool:
    return user.role in (Role.handler, Role.unit_leader) and user.unit is not None and user.unit.kind in TERRITORIAL


def has_register_part(user) -> bool:
    """Whether the registers and coverage concern ``user`` at all (a district department's
    handlers and leaders, of the same roles as a town's, have no part of them)."""
    return user.role not in (Role.handler, Role.unit_leader) or is_town_user(user)


def refuse_departments():
    """``before_request`` of the registers' and coverage pages: a district department's handlers
    and leaders pass the role gate (as a town's do) but have no part of the register (403)."""
    if current_user.is_authenticated and not has_register_part(current_user):
        abort(403)


def register_scope(user, model):
    """The condition on ``Household`` or ``Enterprise`` rows ``user`` may read."""
    if user.role in (Role.office, Role.leader):
        return true()
    if user.role == Role.cadre:
        return or_(model.cadre_id == user.id, model.work_group_id == user.unit_id)
    if user.role == Role.group_lead:
        return model.work_group_id == user.unit_id
    if is_town_user(user):
        return model.town_id == user.unit_id
    return false()


def household_scope(user):
    return register_scope(user, Household)


def enterprise_scope(user):
    return register_scope(user, Enterprise)


def may_edit(user, entry=None) -> bool:
    """The office edits every entry; a group lead the group's."""
    if user.role == Role.office:
        return True
    if user.role == Role.group_lead:
        return entry is None or entry.work_group_id == user.unit_id
    return False


def sees_full_phone(user, entry) -> bool:
    """The responsible cadre, their group (cadres and lead) and the office may reveal a number."""
    if user.role == Role.office:
        return True
    if user.role in (Role.cadre, Role.group_lead):
        return entry.cadre_id == user.id or entry.work_group_id == user.unit_id
    return False


def visit_scope(user):
    """Which visits ``user`` may read: own (cadre), the group's (group lead), the town's (its
    handlers and leaders), all (office, leader)."""
    if user.role in (Role.office, Role.leader):
        return true()
    if user.role == Role.cadre:
        return Visit.created_by_id == user.id
    if user.role == Role.group_lead:
        return Visit.work_group_id == user.unit_id
    if is_town_user(user):
        return Visit.town_id == user.unit_id
    return false()
