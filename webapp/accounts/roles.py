"""The roles of DOMAIN §3: labels, the unit kinds each may belong to, and the admin split.

This is the one place that says which role exists and where it may sit; views ask the gates
in ``accounts.gates``, never compare role strings of their own.
"""

import enum

from flask_babel import lazy_gettext as _l

from ..org.models import HANDLING, TERRITORIAL, UnitKind


class Role(enum.StrEnum):
    cadre = "cadre"
    group_lead = "group_lead"
    handler = "handler"
    unit_leader = "unit_leader"
    desk = "desk"
    office = "office"
    leader = "leader"
    sysadmin = "sysadmin"
    secadmin = "secadmin"
    auditor = "auditor"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.cadre: _l("走访队员"),
    Role.group_lead: _l("工作组牵头负责人"),
    Role.handler: _l("责任单位经办人"),
    Role.unit_leader: _l("责任领导"),
    Role.desk: _l("12345专席"),
    Role.office: _l("区活动办"),
    Role.leader: _l("领导小组"),
    Role.sysadmin: _l("系统管理员"),
    Role.secadmin: _l("安全管理员"),
    Role.auditor: _l("审计管理员"),
}

# 三员分立: the three admin roles are separate and none of them sees casework.
ADMIN_ROLES = frozenset({Role.sysadmin, Role.secadmin, Role.auditor})
CASEWORK_ROLES = frozenset(Role) - ADMIN_ROLES
# Roles working inside a handling unit (town/street/zone, department, 12345 desk).
UNIT_ROLES = frozenset({Role.handler, Role.unit_leader, Role.desk})

ROLE_UNIT_KINDS: dict[Role, frozenset[UnitKind]] = {
    Role.cadre: frozenset({UnitKind.work_group}),
    Role.group_lead: frozenset({UnitKind.work_group}),
    Role.handler: TERRITORIAL | {UnitKind.department},
    Role.unit_leader: TERRITORIAL | {UnitKind.department, UnitKind.desk},
    Role.desk: frozenset({UnitKind.desk}),
    Role.office: frozenset({UnitKind.office}),
    Role.leader: frozenset({UnitKind.leading_group}),
    Role.sysadmin: frozenset({UnitKind.office, UnitKind.district}),
    Role.secadmin: frozenset({UnitKind.office, UnitKind.district}),
    Role.auditor: frozenset({UnitKind.office, UnitKind.district}),
}

# What each role does, shown on its home page.
ROLE_DUTIES = {
    Role.cadre: _l("记录走访情况，登记群众反映的问题，并在问题办结后向群众回音。"),
    Role.group_lead: _l("研判本工作组登记的问题，交办到镇（街道、功能区）或12345专席，汇总共性问题形成统筹交办清单，并核销所交办的问题。"),
    Role.handler: _l("签收交办的问题，制定任务书、路线图、时间表，报告进展，申请延期和销号。"),
    Role.unit_leader: _l("审核本单位的任务书和销号申请，掌握本单位全部问题的办理情况。"),
    Role.desk: _l("办理转至12345平台大走访专席的问题，并向群众回访。"),
    Role.office: _l("向区级部门交办统筹清单，核销、督办，编制半月调度统计，维护活动设置。"),
    Role.leader: _l("查看全区问题办理情况和调度统计（只读）。"),
    Role.sysadmin: _l("管理单位和用户账号。不接触问题办理。"),
    Role.secadmin: _l("分配用户角色，设置密码和会话安全策略。不接触问题办理。"),
    Role.auditor: _l("查阅和导出审计日志。不接触问题办理。"),
}

assert all(kinds <= frozenset(UnitKind) for kinds in ROLE_UNIT_KINDS.values())
assert HANDLING >= ROLE_UNIT_KINDS[Role.handler]


def role_fits_unit(role: Role, kind: UnitKind) -> bool:
    """Whether a user of ``role`` may belong to a unit of ``kind``."""
    return kind in ROLE_UNIT_KINDS[role]
