"""Work queues and the problem page: every casework role reads its own queue; a problem opens
only for those whose scope holds it (404 for the others, never a hint that it exists); only the
unit it is assigned to signs for or returns it; the leader changes nothing; admins see no casework."""

from webapp.core.extensions import db

from . import CASEWORK, Rule

UNIT_USERS = {"town", "townlead", "dept", "deptlead", "desk"}
READ_ALL = {"office", "leader"}
GROUP = {"cadre", "grouplead"}  # the demo cadre registered every object problem but one


def _version(problem) -> dict:
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return {"version": str(problem.version)}


def _return(problem) -> dict:
    # A reason too short: the allowed users get the form back (200), nothing changes between users.
    return {**_version(problem), "reason": "不归"}


def _detail(obj: str, units: set[str], others: set[str] = GROUP) -> Rule:
    return Rule("cases.detail", lambda o: f"/cases/{getattr(o, obj).id}", READ_ALL | others | units,
                not_found=(CASEWORK - READ_ALL - others - units), note=obj)


def _post(endpoint: str, action: str, obj: str, units: set[str], data) -> Rule:
    return Rule(endpoint, lambda o: f"/cases/{getattr(o, obj).id}/{action}", units, method="POST",
                data=lambda o: data(getattr(o, obj)), not_found=UNIT_USERS - units, note=obj)


RULES = [
    Rule("cases.queue", "/cases", CASEWORK),
    Rule("cases.queue", "/cases?tab=overdue&q=%E6%B5%8B%E8%AF%95&sort=deadline", CASEWORK,
         headers={"HX-Request": "true"}, note="htmx search"),
    Rule("cases.counters", "/cases/counters", CASEWORK),
    Rule("cases.export", "/cases/export.xlsx", CASEWORK),
    _detail("town_problem", {"town", "townlead"}),
    _detail("other_town_problem", set()),
    _detail("dept_problem", {"dept", "deptlead"}),
    _detail("desk_problem", {"desk"}),
    _detail("other_group_problem", set(), others=set()),
    Rule("cases.detail", "/cases/99999999", set(), not_found=CASEWORK, note="no such problem"),
    # Sign for: the unit's own problem goes through (the second user finds it signed: 409).
    _post("cases.sign_for", "sign-for", "town_problem", {"town", "townlead"}, _version),
    _post("cases.sign_for", "sign-for", "dept_problem", {"dept", "deptlead"}, _version),
    _post("cases.sign_for", "sign-for", "desk_problem", {"desk"}, _version),
    _post("cases.sign_for", "sign-for", "other_town_problem", set(), _version),
    _post("cases.return_", "return", "town_problem", {"town", "townlead"}, _return),
    _post("cases.return_", "return", "dept_problem", {"dept", "deptlead"}, _return),
    _post("cases.return_", "return", "other_town_problem", set(), _return),
    # The office's consent to a return past its limit (an empty reason: the form again).
    Rule("cases.allow_late_return", lambda o: f"/cases/{o.town_problem.id}/allow-late-return", {"office"}),
    Rule("cases.allow_late_return", lambda o: f"/cases/{o.town_problem.id}/allow-late-return", {"office"},
         method="POST", data=lambda o: {**_version(o.town_problem), "reason": ""}),
]
