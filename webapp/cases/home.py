"""The casework part of each role's home page: the queue's counts that ask for action, each a
link to its tab, and the next problems to act on, nearest deadline first."""

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..accounts import home
from ..accounts.roles import Role
from ..core import clock
from ..core.deadlines import time_left
from ..core.extensions import db
from .access import scope
from .deadlines import due_soon_cutoff
from .models import Problem
from .queries import counters, tab_conditions
from .workflow import HANDLING, Status

# Per role: the tabs that need the user's action, in the order the home page shows them.
ACTION_TABS = {
    Role.handler: ("to_sign", "due_soon", "overdue"),
    Role.unit_leader: ("to_sign", "to_review", "due_soon", "overdue"),
    Role.desk: ("to_sign", "due_soon", "overdue", "owes_reply"),
    Role.group_lead: ("to_triage", "to_verify", "overdue"),
    Role.cadre: ("owes_reply", "open"),
    Role.office: ("to_verify", "owes_reply", "due_soon", "overdue"),
    Role.leader: ("due_soon", "overdue"),
}
LABELS = {
    "to_sign": _l("待签收"), "to_review": _l("待审批"), "due_soon": _l("即将到期"), "overdue": _l("已超期"),
    "owes_reply": _l("待回音"), "to_triage": _l("待研判"), "to_verify": _l("待核验"), "open": _l("办理中"),
}
ALERT = {"overdue"}
NEXT_STEP_LABELS = {
    Status.assigned: _l("签收"), Status.accepted: _l("制定任务书"), Status.plan_review: _l("审核任务书"),
    Status.in_progress: _l("办理"), Status.signoff_review: _l("审核销号"),
    Status.pending_verification: _l("核验"), Status.registered: _l("研判"), Status.returned: _l("重新研判"),
}


@home.counts
def queue_counts(user) -> list[home.Count]:
    keys = ACTION_TABS.get(user.role, ())
    if not keys:
        return []
    n = counters(user)
    return [home.Count(k, LABELS[k], n.get(k, 0), url_for("cases.queue", tab=k), k in ALERT)
            for k in keys if k in n]


@home.todo
def next_problems(user, limit: int = 8) -> list[home.Todo]:
    """Problems in the user's action tabs, the nearest limit first (sign-for, handling, reply)."""
    keys = [k for k in ACTION_TABS.get(user.role, ()) if k != "open"]
    if not keys:
        return []
    today = clock.today()
    tabs = tab_conditions(user, today, due_soon_cutoff(today))
    conds = [tabs[k] for k in keys if k in tabs]
    if not conds:
        return []
    due = func.coalesce(Problem.sign_for_deadline, Problem.deadline, Problem.reply_due)
    if user.role in (Role.handler, Role.unit_leader, Role.desk):
        due = func.coalesce(Problem.deadline, Problem.reply_due)
    rows = db.session.scalars(select(Problem).where(scope(user), or_(*conds))
                              .order_by(due.is_(None), due, Problem.id).limit(limit))
    out = []
    for p in rows:
        if p.reply_due is not None and p.status not in HANDLING:
            when, label = p.reply_due, _l("回音")
        elif p.status == Status.assigned and p.sign_for_deadline:
            when, label = p.sign_for_deadline, NEXT_STEP_LABELS[Status.assigned]
        else:
            when, label = p.deadline, NEXT_STEP_LABELS.get(p.status, _l("处理"))
        state = time_left(when, today).state if when else "ok"
        out.append(home.Todo(when, label, f"{p.number} {p.title}",
                             url_for("cases.detail", problem_id=p.id), state))
    return out
