"""The buttons of the problem page: which endpoint performs each workflow action (one mapping).

*Whether* an action shows is never decided here: that is ``workflow.allowed_actions`` with
``access.relations``. This module only maps each action to the endpoint that performs it and
builds the link or button. Endpoints belong to several areas and some screens come later, so
each action names candidate endpoints, and the first one the app has wins; an allowed action
without a screen yet is listed without a link.
"""

import uuid
from dataclasses import dataclass, field

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from . import panels
from .access import relations, unit_part
from .models import PartStatus, UnitRole
from .workflow import Action, Activity, allowed_actions, allowed_activities

# Action → candidate endpoints, in order of preference. Triage happens on one page (研判) whose
# section for the action opens with ``?action=``; removing from a list is a one-click button.
TRIAGE_PAGE = "triage.triage_form"
ENDPOINTS: dict[Action, tuple[str, ...]] = {
    Action.sign_for: ("cases.sign_for",),
    Action.return_: ("cases.return_",),
    Action.assign_sheet: (TRIAGE_PAGE,),
    Action.transfer_desk: (TRIAGE_PAGE,),
    Action.add_to_list: (TRIAGE_PAGE,),
    Action.remove_from_list: ("lists.remove_problem", TRIAGE_PAGE),
    Action.assign_departments: (TRIAGE_PAGE,),
    Action.merge: (TRIAGE_PAGE,),
    Action.resolve_on_spot: (TRIAGE_PAGE,),
    Action.not_accept: (TRIAGE_PAGE,),
    # Handling and closure: each opens its form page (``?action=`` picks approve or reject).
    Action.submit_plan: ("taskbook.edit",),
    Action.revise_plan: ("taskbook.edit",),
    Action.approve_plan: ("taskbook.review",),
    Action.reject_plan: ("taskbook.review",),
    Action.request_extension: ("progress.extension",),
    Action.decide_extension: ("progress.extension_decision",),
    Action.request_signoff: ("closure.request_signoff",),
    Action.approve_signoff: ("closure.leader_review",),
    Action.reject_signoff: ("closure.leader_review",),
    Action.request_cannot_solve: ("closure.cannot_solve",),
    Action.approve_cannot_solve: ("closure.cannot_solve_decision",),
    Action.reject_cannot_solve: ("closure.cannot_solve_decision",),
    Action.verify: ("closure.verify",),
    Action.reject_verification: ("closure.verify",),
    Action.reply: ("replies.record",),
}
# Work that does not move the status (workflow.ACTIVITIES) → its form page.
ACTIVITY_ENDPOINTS: dict[Activity, str] = {
    Activity.progress: "progress.update",
    Activity.note: "progress.note",
    Activity.part_feedback: "progress.part_feedback",
    Activity.convene: "meetings.new",
    Activity.supervise: "notices.new",
    Activity.allow_late_return: "cases.allow_late_return",
}
# Hidden fields a one-click button of another area expects besides version and token.
EXTRA_FIELDS = {"lists.remove_problem": {"origin": "problem"}}

# The timeline's wording for events that are not workflow actions.
EVENT_LABELS = {
    "register": _l("登记问题"),
    "sign_for_part": _l("配合单位签收"),
    "merged_from": _l("合并了重复问题"),
    "list_submitted": _l("统筹清单已上报"),
    "progress": _l("办理进展"),
    "note": _l("内部备注"),
    "tick_step": _l("完成步骤"),
    "part_feedback": _l("配合单位反馈"),
    "meeting_convened": _l("召集协商会办"),
    "meeting_decision": _l("会议决定"),
    "meeting_cancelled": _l("会议取消"),
    "approve_extension": _l("批准延期"),
    "reject_extension": _l("驳回延期"),
    "return_part": _l("退回配合任务"),
    "remind": _l("催办"),
    "notice": _l("通报"),
    "supervise": _l("下发督办单"),
    "allow_late_return": _l("同意逾期退回"),
    "notice_answer": _l("督办单反馈"),
}

PART_STATUS_LABELS = {
    PartStatus.pending: _l("待签收"),
    PartStatus.accepted: _l("已签收"),
    PartStatus.returned: _l("已退回"),
    PartStatus.withdrawn: _l("已撤回"),
    PartStatus.done: _l("已反馈完成"),
}
UNIT_ROLE_LABELS = {UnitRole.lead: _l("牵头单位"), UnitRole.cooperating: _l("配合单位")}


def event_label(action: str) -> str:
    if action in EVENT_LABELS:
        return EVENT_LABELS[action]
    try:
        return Action(action).label
    except ValueError:
        return action


def _rule(endpoint: str):
    if endpoint not in current_app.view_functions:
        return None
    return next(iter(current_app.url_map.iter_rules(endpoint)), None)


def object_url(endpoint: str, *, default=None, **objects) -> str | None:
    """The URL of ``endpoint`` with its path arguments taken from ``objects`` by name.

    ``object_url("intake.attachment", attachment_id=5, problem_id=1)`` fills whichever of the
    two the route declares; a bare ``<int:id>`` takes ``default``. None when the endpoint does
    not exist or needs an argument we do not have.
    """
    rule = _rule(endpoint)
    if rule is None:
        return None
    args = {}
    for name in rule.arguments:
        value = objects.get(name, default if name == "id" else None)
        if value is None:
            return None
        args[name] = value
    extra = {k: v for k, v in objects.items() if k not in rule.arguments and not k.endswith("_id")}
    return url_for(endpoint, **args, **extra)


def endpoint_methods(endpoint: str) -> set[str]:
    rule = _rule(endpoint)
    return set(rule.methods or ()) if rule is not None else set()


@dataclass
class Button:
    """One action on the problem page: a link to a form page, a one-click POST, or the return form."""

    action: Action
    label: str
    kind: str  # "post" | "return" | "page" | "none" (allowed, but no screen yet)
    url: str | None = None
    hidden: dict = field(default_factory=dict)
    htmx: bool = False  # the endpoint answers the problem page's fragment (this area's own actions)


def _button(action: Action, problem, label=None) -> Button:
    label = label or action.label
    for endpoint in ENDPOINTS.get(action, ()):
        page = "GET" in endpoint_methods(endpoint) and not endpoint.startswith("cases.")
        # A page opens at the action's section (``?action=``); a button posts to its own URL.
        url = object_url(endpoint, problem_id=problem.id, default=problem.id,
                         **({"action": action.value} if page else {}))
        if url is None:
            continue
        if action == Action.return_:
            return Button(action, label, "return", url, htmx=True)
        if page:
            return Button(action, label, "page", url)
        hidden = {"version": problem.version, **EXTRA_FIELDS.get(endpoint, {})}
        if not endpoint.startswith("cases."):
            hidden["token"] = uuid.uuid4().hex  # client token: a double submit does the work once
        return Button(action, label, "post", url, hidden=hidden, htmx=endpoint.startswith("cases."))
    return Button(action, label, "none")


def pending_cooperating_part(user, problem):
    """The user's unit's cooperating part still to be signed for (签收（配合）), or None."""
    part = unit_part(user, problem)
    if part is not None and part.is_current and part.role == UnitRole.cooperating \
            and part.status == PartStatus.pending:
        return part
    return None


def buttons(user, problem) -> list[Button]:
    """Exactly the actions ``user`` may take on ``problem`` now, each with where it goes."""
    rels = relations(user, problem)
    # Allowed by the table, moot for the rows right now (e.g. no extension waiting for a decision).
    moot = panels.moot(problem)
    out = [_button(a, problem) for a in allowed_actions(problem.status, user.role, rels) if a not in moot]
    if pending_cooperating_part(user, problem) is not None:
        out.append(_button(Action.sign_for, problem, label=_l("签收（配合）")))
        out.append(_button(Action.return_, problem, label=_l("退回（配合）")))
    return out


@dataclass
class ActivityLink:
    activity: Activity
    label: str
    url: str


def activity_links(user, problem) -> list[ActivityLink]:
    """Links to the work the user may do on the problem without moving its status."""
    rels = relations(user, problem)
    out = []
    for a in allowed_activities(problem.status, user.role, rels):
        endpoint = ACTIVITY_ENDPOINTS.get(a)
        if endpoint in current_app.view_functions:
            # problem_id fills the path (/cases/<id>/progress) or the query (/meetings/new?problem_id=).
            out.append(ActivityLink(a, str(a.label), url_for(endpoint, problem_id=problem.id)))
    return out
