"""Coordinated lists (统筹交办问题清单): the group lead compiles, removes and submits its own group's
list; the office reads submitted lists and assigns district departments; the leader reads; a
draft is the group's alone (404 for office and leader); another group's list is 404 for a group
lead; units, cadres and admins are refused (403) — a department assigned an item does not get the list."""

from webapp.core.extensions import db

from . import Rule

GROUP_LEAD = {"grouplead"}
OFFICE = {"office"}
READERS = {"grouplead", "office", "leader"}


def _fresh(obj):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(obj)
    return obj


def _list_of(problem):
    return _fresh(problem).coordinated_list


def _list_path(obj: str, suffix: str = ""):
    return lambda o: f"/lists/{getattr(o, obj).coordinated_list_id}{suffix}"


def _submit(problem) -> dict:
    return {"version": str(_list_of(problem).version)}


def _remove(problem) -> dict:
    return {"version": str(_fresh(problem).version), "origin": "list"}


def _departments(problem) -> dict:
    from tests.cases import factories as f
    from webapp.core import clock

    return {"version": str(_fresh(problem).version), "dept_lead": str(f.unit("区民政局").id),
            "dept_cooperating": [str(f.unit("区卫计委").id)], "deadline": clock.today().isoformat(),
            "origin": "list"}


RULES = [
    Rule("lists.index", "/lists", READERS),
    Rule("lists.detail", _list_path("draft_listed_problem"), GROUP_LEAD, not_found={"office", "leader"},
         note="own draft"),
    Rule("lists.detail", _list_path("submitted_listed_problem"), READERS, note="own submitted"),
    Rule("lists.detail", _list_path("other_draft_listed_problem"), set(), not_found=READERS, note="other draft"),
    Rule("lists.detail", _list_path("other_submitted_listed_problem"), {"office", "leader"},
         not_found=GROUP_LEAD, note="other submitted"),
    Rule("lists.detail", "/lists/99999999", set(), not_found=READERS, note="no such list"),
    # Submit: the group lead's own draft (the second try is told it is already submitted).
    Rule("lists.submit", _list_path("draft_listed_problem", "/submit"), GROUP_LEAD, method="POST",
         data=lambda o: _submit(o.draft_listed_problem), note="own draft"),
    Rule("lists.submit", _list_path("other_draft_listed_problem", "/submit"), set(), method="POST",
         data=lambda o: _submit(o.other_draft_listed_problem), not_found=GROUP_LEAD, note="other group"),
    Rule("lists.remove_problem", lambda o: f"/cases/{o.draft_listed_problem.id}/remove-from-list", GROUP_LEAD,
         method="POST", data=lambda o: _remove(o.draft_listed_problem), note="own draft"),
    Rule("lists.remove_problem", lambda o: f"/cases/{o.other_draft_listed_problem.id}/remove-from-list", set(),
         method="POST", data=lambda o: _remove(o.other_draft_listed_problem), not_found=GROUP_LEAD,
         note="other group"),
    Rule("lists.assign_problem", lambda o: f"/cases/{o.submitted_listed_problem.id}/departments", OFFICE,
         method="POST", data=lambda o: _departments(o.submitted_listed_problem), note="submitted item"),
    Rule("lists.assign_problem", lambda o: f"/cases/{o.other_submitted_listed_problem.id}/departments", OFFICE,
         method="POST", data=lambda o: _departments(o.other_submitted_listed_problem), note="other group's item"),
    Rule("lists.list_pdf", _list_path("submitted_listed_problem", "/list.pdf"), READERS, note="own submitted"),
    Rule("lists.list_pdf", _list_path("other_submitted_listed_problem", "/list.pdf"), {"office", "leader"},
         not_found=GROUP_LEAD, note="other submitted"),
    Rule("lists.list_pdf", _list_path("draft_listed_problem", "/list.pdf"), set(), not_found=READERS,
         note="a draft is not printed"),
]
