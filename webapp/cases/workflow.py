"""The problem lifecycle of DOMAIN §4 as one table. Pure Python: no Flask, no SQL.

``TRANSITIONS`` maps ``(status, action)`` to the new status and who may take the action: a set
of roles *and* the relation the actor must have to the problem (the registering cadre, the
group that owns it, the unit it is assigned to, whoever assigned it, the office). Views,
templates (which buttons show), exports and tests all ask :func:`allowed_actions` /
:func:`check`; nobody re-implements a rule.
"""

import enum
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


class Status(enum.StrEnum):
    registered = "registered"
    returned = "returned"
    listed = "listed"
    assigned = "assigned"
    accepted = "accepted"
    plan_review = "plan_review"
    in_progress = "in_progress"
    signoff_review = "signoff_review"
    pending_verification = "pending_verification"
    cannot_solve_review = "cannot_solve_review"
    signed_off = "signed_off"
    closed = "closed"
    not_accepted = "not_accepted"
    merged = "merged"
    cannot_solve = "cannot_solve"

    @property
    def label(self):
        return STATUS_LABELS[self]


STATUS_LABELS = {
    Status.registered: _l("待研判"),
    Status.returned: _l("已退回待重新交办"),
    Status.listed: _l("已列入统筹清单"),
    Status.assigned: _l("待签收"),
    Status.accepted: _l("已签收"),
    Status.plan_review: _l("任务书待审核"),
    Status.in_progress: _l("办理中"),
    Status.signoff_review: _l("销号待审核"),
    Status.pending_verification: _l("待核销"),
    Status.cannot_solve_review: _l("暂难解决待审批"),
    Status.signed_off: _l("已销号待回音"),
    Status.closed: _l("已办结"),
    Status.not_accepted: _l("不予受理"),
    Status.merged: _l("已合并"),
    Status.cannot_solve: _l("暂难解决"),
}

# Statuses in which a problem has ended; each of them owes the resident a reply (回音).
ENDED = frozenset({Status.closed, Status.not_accepted, Status.merged, Status.cannot_solve})
OWES_REPLY = frozenset({Status.signed_off, Status.not_accepted, Status.merged, Status.cannot_solve})
# Counted as solved in the figures (DOMAIN §7).
SOLVED = frozenset({Status.signed_off, Status.closed})
# Waiting for the triage of the group (or the office).
TRIAGE = frozenset({Status.registered, Status.returned})
# Held by a handling unit and running against a deadline.
HANDLING = frozenset({
    Status.assigned, Status.accepted, Status.plan_review, Status.in_progress,
    Status.signoff_review, Status.cannot_solve_review,
})


class Action(enum.StrEnum):
    # Triage (转办交办)
    assign_sheet = "assign_sheet"
    transfer_desk = "transfer_desk"
    add_to_list = "add_to_list"
    remove_from_list = "remove_from_list"
    assign_departments = "assign_departments"
    merge = "merge"
    resolve_on_spot = "resolve_on_spot"
    not_accept = "not_accept"
    # The unit (签收 / 退回)
    sign_for = "sign_for"
    return_ = "return"
    # Handling (处置化解)
    submit_plan = "submit_plan"
    approve_plan = "approve_plan"
    reject_plan = "reject_plan"
    revise_plan = "revise_plan"
    request_extension = "request_extension"
    decide_extension = "decide_extension"
    request_signoff = "request_signoff"
    approve_signoff = "approve_signoff"
    reject_signoff = "reject_signoff"
    request_cannot_solve = "request_cannot_solve"
    approve_cannot_solve = "approve_cannot_solve"
    reject_cannot_solve = "reject_cannot_solve"
    # Verification (谁交办谁跟踪) and the reply (回音)
    verify = "verify"
    reject_verification = "reject_verification"
    reply = "reply"
    reply_reopen = "reply_reopen"
    # A problem of the campaign's paper ledger from before the system, handled and answered
    # then: imported as ended, with the result and reply the ledger records.
    ledger_close = "ledger_close"

    @property
    def label(self):
        return ACTION_LABELS[self]


ACTION_LABELS = {
    Action.assign_sheet: _l("交办到镇（街道、功能区）"),
    Action.transfer_desk: _l("转12345专席"),
    Action.add_to_list: _l("列入统筹交办清单"),
    Action.remove_from_list: _l("移出统筹清单"),
    Action.assign_departments: _l("交办区级部门"),
    Action.merge: _l("合并到已有问题"),
    Action.resolve_on_spot: _l("即办（当场解决）"),
    Action.not_accept: _l("不予受理"),
    Action.sign_for: _l("签收"),
    Action.return_: _l("退回"),
    Action.submit_plan: _l("提交任务书"),
    Action.approve_plan: _l("批准任务书"),
    Action.reject_plan: _l("退回任务书"),
    Action.revise_plan: _l("修订任务书"),
    Action.request_extension: _l("申请延期"),
    Action.decide_extension: _l("审批延期"),
    Action.request_signoff: _l("申请销号"),
    Action.approve_signoff: _l("同意销号"),
    Action.reject_signoff: _l("退回销号申请"),
    Action.request_cannot_solve: _l("申请暂难解决"),
    Action.approve_cannot_solve: _l("批准暂难解决"),
    Action.reject_cannot_solve: _l("驳回暂难解决"),
    Action.verify: _l("核销通过"),
    Action.reject_verification: _l("退回重办"),
    Action.reply: _l("记录回音"),
    Action.reply_reopen: _l("回音不满意，重新办理"),
    Action.ledger_close: _l("按原走访台账办结（导入）"),
}


class Rel(enum.StrEnum):
    """How the actor stands to the problem (computed by ``cases.access``)."""

    registrar = "registrar"  # the cadre who registered it
    group = "group"  # the lead of the work group that owns it
    assignee = "assignee"  # a member of the lead unit it is assigned to
    cooperating = "cooperating"  # a member of a cooperating unit that signed for its part
    assigner = "assigner"  # a member of the unit that assigned it (谁交办谁跟踪)
    office = "office"  # the activity office (sees and steers everything)


# Roles are strings here to keep this module free of the accounts area.
CADRE, GROUP_LEAD, HANDLER, UNIT_LEADER, DESK, OFFICE = (
    "cadre", "group_lead", "handler", "unit_leader", "desk", "office")
UNIT_STAFF = frozenset({HANDLER, UNIT_LEADER, DESK})


@dataclass(frozen=True)
class Transition:
    target: Status
    roles: frozenset[str]
    rel: frozenset[Rel]
    needs_reason: bool = False
    # Where a refusal leads when the normal target does not apply: a rejected *revision* of an
    # approved task book goes back to 办理中 (the approved book stays in force); a rejected (or, at
    # the reply, reopened) on-the-spot solution (no handling unit) goes back to 待研判. See
    # :func:`target_of`.
    alt_target: Status | None = None


def T(target, roles, rel, needs_reason=False, alt=None):  # noqa: N802 - reads like a table row
    return Transition(target, frozenset(roles), frozenset(rel), needs_reason, alt)


S, A, R = Status, Action, Rel
TRIAGERS = ({GROUP_LEAD, OFFICE}, {R.group, R.office})
GROUP_ONLY = ({GROUP_LEAD}, {R.group})
UNIT = (UNIT_STAFF, {R.assignee})
UNIT_HANDS = ({HANDLER, DESK}, {R.assignee})
UNIT_LEAD = ({UNIT_LEADER}, {R.assignee})
ASSIGNER = ({GROUP_LEAD, OFFICE}, {R.assigner, R.office})
REPLIER = ({CADRE, DESK, OFFICE}, {R.registrar, R.assignee, R.office})

# (status, action) → transition. Read it as the state diagram of DOMAIN §4.
TRANSITIONS: dict[tuple[Status, Action], Transition] = {}
for _source in (S.registered, S.returned):
    TRANSITIONS |= {
        (_source, A.assign_sheet): T(S.assigned, *TRIAGERS),
        (_source, A.transfer_desk): T(S.assigned, *TRIAGERS),
        # The list is the work group's own (operations.add_to_list refuses anyone else).
        (_source, A.add_to_list): T(S.listed, *GROUP_ONLY),
        (_source, A.assign_departments): T(S.assigned, {OFFICE}, {R.office}),
        (_source, A.merge): T(S.merged, *TRIAGERS, needs_reason=True),
        (_source, A.resolve_on_spot): T(S.pending_verification, *TRIAGERS),
        (_source, A.not_accept): T(S.not_accepted, *TRIAGERS, needs_reason=True),
    }
TRANSITIONS |= {
    (S.listed, A.remove_from_list): T(S.registered, *GROUP_ONLY),
    (S.listed, A.assign_departments): T(S.assigned, {OFFICE}, {R.office}),
    (S.assigned, A.sign_for): T(S.accepted, *UNIT),
    (S.assigned, A.return_): T(S.returned, *UNIT, needs_reason=True),
    (S.accepted, A.submit_plan): T(S.plan_review, *UNIT_HANDS),
    (S.plan_review, A.approve_plan): T(S.in_progress, *UNIT_LEAD),
    (S.plan_review, A.reject_plan): T(S.accepted, *UNIT_LEAD, needs_reason=True, alt=S.in_progress),
    (S.in_progress, A.revise_plan): T(S.plan_review, *UNIT_HANDS),
    (S.in_progress, A.request_extension): T(S.in_progress, *UNIT_HANDS, needs_reason=True),
    (S.in_progress, A.decide_extension): T(S.in_progress, *ASSIGNER),
    (S.in_progress, A.request_signoff): T(S.signoff_review, *UNIT_HANDS),
    (S.in_progress, A.request_cannot_solve): T(S.cannot_solve_review, *UNIT_HANDS, needs_reason=True),
    (S.signoff_review, A.approve_signoff): T(S.pending_verification, *UNIT_LEAD),
    (S.signoff_review, A.reject_signoff): T(S.in_progress, *UNIT_LEAD, needs_reason=True),
    (S.cannot_solve_review, A.approve_cannot_solve): T(S.cannot_solve, {OFFICE}, {R.office}),
    (S.cannot_solve_review, A.reject_cannot_solve): T(S.in_progress, {OFFICE}, {R.office}, needs_reason=True),
    (S.pending_verification, A.verify): T(S.signed_off, *ASSIGNER),
    (S.pending_verification, A.reject_verification): T(S.in_progress, *ASSIGNER, needs_reason=True,
                                                       alt=S.registered),
    (S.signed_off, A.reply): T(S.closed, *REPLIER),
    (S.signed_off, A.reply_reopen): T(S.in_progress, *REPLIER, needs_reason=True, alt=S.registered),
    (S.not_accepted, A.reply): T(S.not_accepted, *REPLIER),
    (S.merged, A.reply): T(S.merged, *REPLIER),
    (S.cannot_solve, A.reply): T(S.cannot_solve, *REPLIER),
    # Only the office's import of a historical ledger (``visits.visit_imports``); no screen offers it.
    (S.registered, A.ledger_close): T(S.closed, {OFFICE}, {R.office}, needs_reason=True),
}

# The actions the screens implement (all of the table but the ledger import's).
IMPLEMENTED = frozenset(A) - {A.ledger_close}


def target_of(t: Transition, *, alternative: bool) -> Status:
    """The transition's target; ``alternative`` when the case of ``alt_target`` applies."""
    return t.alt_target if alternative and t.alt_target is not None else t.target


class Activity(enum.StrEnum):
    """Work on a problem that does not change its status (the timeline records each)."""

    progress = "progress"  # 进展情况 (may be told to the resident)
    note = "note"  # 内部备注 (never shown to the resident)
    tick_step = "tick_step"  # 完成路线图步骤
    part_feedback = "part_feedback"  # a cooperating unit's feedback on its part
    convene = "convene"  # put the problem on a joint meeting's agenda
    supervise = "supervise"  # issue a 督办单 to the lead unit (谁交办谁跟踪, or the office)
    allow_late_return = "allow_late_return"  # the office consents to a return after its limit

    @property
    def label(self):
        return ACTIVITY_LABELS[self]


ACTIVITY_LABELS = {
    Activity.progress: _l("报送进展"),
    Activity.note: _l("内部备注"),
    Activity.tick_step: _l("完成步骤"),
    Activity.part_feedback: _l("配合单位反馈"),
    Activity.convene: _l("召集协商会办"),
    Activity.supervise: _l("下发督办单"),
    Activity.allow_late_return: _l("同意逾期退回"),
}


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[Status]
    roles: frozenset[str]
    rel: frozenset[Rel]


WORKING = frozenset({S.accepted, S.plan_review, S.in_progress, S.signoff_review, S.cannot_solve_review})
ALL_CASEWORK = {CADRE, GROUP_LEAD, HANDLER, UNIT_LEADER, DESK, OFFICE}
ACTIVITIES: dict[Activity, Rule] = {
    Activity.progress: Rule(WORKING, frozenset(UNIT_STAFF), frozenset({R.assignee})),
    Activity.note: Rule(frozenset(S), frozenset(ALL_CASEWORK), frozenset(R)),
    # Steps of the task book in force; a meeting's decision may give a step to a cooperating unit.
    Activity.tick_step: Rule(frozenset({S.plan_review, S.in_progress}), frozenset(UNIT_STAFF),
                             frozenset({R.assignee, R.cooperating})),
    Activity.part_feedback: Rule(WORKING, frozenset(UNIT_STAFF), frozenset({R.cooperating})),
    Activity.convene: Rule(frozenset({S.accepted, S.plan_review, S.in_progress}),
                           frozenset({HANDLER, UNIT_LEADER, DESK, OFFICE}), frozenset({R.assignee, R.office})),
    # Whoever assigned the problem, or the office, presses the unit while it is being handled.
    Activity.supervise: Rule(frozenset({S.assigned, S.accepted, S.plan_review, S.in_progress}),
                             frozenset({GROUP_LEAD, OFFICE}), frozenset({R.assigner, R.office})),
    # Past the return limit a unit may still return a misrouted problem, with the office's consent.
    Activity.allow_late_return: Rule(frozenset({S.assigned}), frozenset({OFFICE}), frozenset({R.office})),
}


def may_do(activity: Activity, status, role: str | None, rels) -> bool:
    rule = ACTIVITIES[Activity(activity)]
    return Status(status) in rule.statuses and role in rule.roles and bool(rule.rel & set(rels))


def check_activity(activity: Activity, status, role: str | None, rels) -> None:
    if not may_do(activity, status, role, rels):
        raise NotAllowed(_l("您现在不能对此问题执行“%(a)s”。", a=Activity(activity).label))


def allowed_activities(status, role: str | None, rels) -> list[Activity]:
    return [a for a in Activity if may_do(a, status, role, rels)]


# Joint meetings: who may convene one, record its minutes (the convening unit or the office).
MEETING_CONVENERS = frozenset({HANDLER, UNIT_LEADER, DESK, OFFICE})


class NotAllowed(Exception):
    """The action is not allowed for this actor in this status (message in Chinese)."""


def transition(status: Status, action: Action) -> Transition | None:
    return TRANSITIONS.get((Status(status), Action(action)))


def may(status, action, role: str | None, rels: set[Rel] | frozenset[Rel]) -> bool:
    """Whether an actor with ``role`` standing in ``rels`` to the problem may take ``action``."""
    t = transition(status, action)
    return bool(t and role in t.roles and t.rel & set(rels))


def allowed_actions(status, role: str | None, rels, *, implemented_only: bool = True) -> list[Action]:
    """Every action the actor may take now, in table order (what the buttons show)."""
    return [
        a for (s, a), t in TRANSITIONS.items()
        if s == status and (a in IMPLEMENTED or not implemented_only) and role in t.roles and t.rel & set(rels)
    ]


def check(status, action, role: str | None, rels) -> Transition:
    """The transition, or ``NotAllowed`` with the reason in Chinese."""
    t = transition(status, action)
    if t is None:
        raise NotAllowed(_l("问题当前状态为“%(s)s”，不能执行“%(a)s”。", s=Status(status).label, a=Action(action).label))
    if role not in t.roles or not (t.rel & set(rels)):
        raise NotAllowed(_l("您无权对此问题执行“%(a)s”。", a=Action(action).label))
    return t


class Tier(enum.StrEnum):
    """好事即办、实事快办、难事联办."""

    immediate = "immediate"
    quick = "quick"
    joint = "joint"

    @property
    def label(self):
        return {Tier.immediate: _l("好事即办"), Tier.quick: _l("实事快办"), Tier.joint: _l("难事联办")}[self]


class Kind(enum.StrEnum):
    individual = "individual"
    common = "common"

    @property
    def label(self):
        return {Kind.individual: _l("个性问题"), Kind.common: _l("共性问题")}[self]


class Level(enum.StrEnum):
    town = "town"
    district = "district"

    @property
    def label(self):
        return {Level.town: _l("镇级层面"), Level.district: _l("区级层面")}[self]
