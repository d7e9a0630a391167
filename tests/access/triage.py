"""Triage & assignment (研判、转办交办): only the group lead (its group's problems) and the office
triage; everyone else is refused by role (403), a group lead meets another group's problem as
404; the leader changes nothing; admins see no casework. The 问题交办单 prints for whoever may
see its problem (404 for any other unit)."""

from webapp.core.extensions import db

from . import CASEWORK, Rule

TRIAGERS = {"grouplead", "office"}
READ_ALL = {"office", "leader"}
GROUP = {"cadre", "grouplead"}
UNIT_USERS = {"town", "townlead", "dept", "deptlead", "desk"}
HX = {"HX-Request": "true"}


def _fresh(problem):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return problem


def _triage(problem, **extra) -> dict:
    from tests.cases import factories as f

    problem = _fresh(problem)
    return {"version": str(problem.version), "kind": "individual", "level": "town", "tier": "quick",
            "category": str(problem.category_id), "lead": str(f.unit("潘安湖街道").id), **extra}


def _reasoned(problem) -> dict:
    return {"version": str(_fresh(problem).version), "reason": "访问矩阵：理由"}


def _merge(problem) -> dict:
    # An unknown number: the allowed users get the form back (200); nothing changes.
    return {**_reasoned(problem), "into": "贾走访〔2026〕99999号"}


def _batch(problem) -> dict:
    problem = _fresh(problem)
    return {**_triage(problem), "ids": [str(problem.id)], f"v{problem.id}": str(problem.version),
            "action": "transfer", "token": ""}


def _post(endpoint, action, obj, data, allow=TRIAGERS, not_found=frozenset(), note="") -> Rule:
    return Rule(endpoint, lambda o: f"/cases/{getattr(o, obj).id}/{action}", set(allow), method="POST",
                data=lambda o: data(getattr(o, obj)), not_found=set(not_found), note=note or obj)


def _sheet(obj: str, units: set[str], others: set[str] = GROUP) -> Rule:
    return Rule("sheets.sheet_pdf", lambda o: f"/assignments/{getattr(o, obj).current_assignment_id}/sheet.pdf",
                READ_ALL | others | units, not_found=CASEWORK - READ_ALL - others - units, note=obj)


RULES = [
    Rule("triage.queue", "/triage", TRIAGERS),
    Rule("triage.queue", "/triage?page=2", TRIAGERS, note="page 2"),
    Rule("triage.deadline_preview", "/triage/deadline?tier=joint&workdays=20", TRIAGERS, headers=HX),
    Rule("triage.triage_form", lambda o: f"/cases/{o.triage_problem.id}/triage", TRIAGERS, note="own group"),
    Rule("triage.triage_form", lambda o: f"/cases/{o.other_group_problem.id}/triage", {"office"},
         not_found={"grouplead"}, note="other group"),
    Rule("triage.triage_form", lambda o: f"/cases/{o.town_problem.id}/triage", TRIAGERS, note="assigned already"),
    Rule("triage.triage_form", "/cases/99999999/triage", set(), not_found=TRIAGERS, note="no such problem"),
    # Each action: the first allowed user does it (302), the next finds it changed (409).
    _post("triage.assign", "assign", "triage_problem", _triage),
    _post("triage.assign", "assign", "other_group_problem", _triage, {"office"}, {"grouplead"}),
    _post("triage.transfer", "transfer", "triage_problem", _triage),
    _post("triage.transfer", "transfer", "other_group_problem", _triage, {"office"}, {"grouplead"}),
    # The coordinated list is the group's own: the office is refused by the workflow (403).
    _post("triage.to_list", "list", "triage_problem", lambda p: _triage(p, kind="common", level="district"),
          {"grouplead"}),
    _post("triage.to_list", "list", "other_group_problem", _triage, set(), {"grouplead"}),
    # Without evidence: the allowed users get the form back with the message (200).
    _post("closure.resolve_on_spot", "resolve", "triage_problem", lambda p: _triage(p, result="当场解决")),
    _post("closure.resolve_on_spot", "resolve", "other_group_problem", _triage, {"office"}, {"grouplead"}),
    _post("triage.merge_into", "merge", "triage_problem", _merge),
    _post("triage.merge_into", "merge", "other_group_problem", _merge, {"office"}, {"grouplead"}),
    _post("triage.decline", "not-accept", "triage_problem", _reasoned),
    _post("triage.decline", "not-accept", "other_group_problem", _reasoned, {"office"}, {"grouplead"}),
    Rule("triage.batch", "/triage/batch", TRIAGERS, method="POST", data=lambda o: _batch(o.triage_problem),
         note="own group"),
    Rule("triage.batch", "/triage/batch", {"office"}, method="POST", data=lambda o: _batch(o.other_group_problem),
         not_found={"grouplead"}, note="other group: nothing applied"),
    _sheet("town_problem", {"town", "townlead"}),
    _sheet("other_town_problem", set()),
    _sheet("dept_problem", {"dept", "deptlead"}),
    _sheet("desk_problem", {"desk"}),
    Rule("sheets.sheet_pdf", "/assignments/99999999/sheet.pdf", set(), not_found=CASEWORK, note="no such sheet"),
]
