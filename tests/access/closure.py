"""Closure (销号 · 核销 · 暂难解决): the lead unit's handlers ask (its leader passes the role gate
but the workflow refuses: 403), the unit leader reviews, whoever assigned it verifies (the
office too), the office decides 暂难解决; other units meet the problem as 404. The 销号单 prints
for everyone who sees the problem. POSTs by allowed users carry incomplete input: they get the
form back with the messages (200) and nothing changes."""

from webapp.core.extensions import db

from . import CASEWORK, Rule
from .objects import LAZY

SEES_TOWN = {"office", "leader", "cadre", "grouplead", "town", "townlead"}


def _objects() -> None:
    from tests.handling import factories as hf

    LAZY.update({
        # Assigned by grouplead to 潘安湖街道 (town, townlead) / by the office to 区民政局 (dept, deptlead).
        "closure_town_in_progress": lambda: hf.in_progress(),
        "closure_dept_in_progress": lambda: hf.in_progress(dept=True),
        "closure_town_signoff_review": lambda: hf.signoff_review(),
        "closure_dept_signoff_review": lambda: hf.signoff_review(dept=True),
        "closure_town_pending": lambda: hf.pending_verification(),
        "closure_dept_pending": lambda: hf.pending_verification(dept=True),
        "closure_town_cannot_review": lambda: hf.cannot_solve_review(),
        "closure_town_signed_off": lambda: hf.signed_off(),
    })


_objects()


def _fresh(problem):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return problem


def _closure_id(problem) -> int:
    from sqlalchemy import select

    from webapp.handling.models import Closure

    return db.session.scalar(select(Closure.id).where(Closure.problem_id == problem.id).order_by(Closure.id.desc()))


def _version(problem, **extra) -> dict:
    return {"version": str(_fresh(problem).version), **extra}


def _page(endpoint, tail, obj, allow, not_found=frozenset(), data=None, note="") -> list[Rule]:
    """GET and POST of one page on one object."""

    def path(o):
        return f"/cases/{getattr(o, obj).id}/{tail}"

    return [
        Rule(endpoint, path, set(allow), not_found=set(not_found), note=note or obj),
        Rule(endpoint, path, set(allow), method="POST", not_found=set(not_found), note=note or obj,
             data=lambda o: _version(getattr(o, obj), **(data or {}))),
    ]


def _pdf(obj, allow, not_found, note="") -> Rule:
    return Rule("closure.report_pdf", lambda o: f"/cases/{getattr(o, obj).id}/closures/"
                f"{_closure_id(getattr(o, obj))}.pdf", set(allow), not_found=set(not_found), note=note or obj)


RULES = [
    # 申请销号 / 申请暂难解决: the lead unit's handler; townlead is refused by the workflow (403).
    *_page("closure.request_signoff", "sign-off", "closure_town_in_progress", {"town"},
           {"dept", "deptlead", "desk"}),
    *_page("closure.request_signoff", "sign-off", "closure_dept_in_progress", {"dept"},
           {"town", "townlead", "desk"}),
    *_page("closure.cannot_solve", "cannot-solve", "closure_town_in_progress", {"town"},
           {"dept", "deptlead", "desk"}),
    *_page("closure.cannot_solve", "cannot-solve", "closure_dept_in_progress", {"dept"},
           {"town", "townlead", "desk"}),
    # The unit leader's review (sending back without a reason: the form again).
    *_page("closure.leader_review", "sign-off/review", "closure_town_signoff_review", {"townlead"},
           {"deptlead"}, {"action": "reject_signoff"}),
    *_page("closure.leader_review", "sign-off/review", "closure_dept_signoff_review", {"deptlead"},
           {"townlead"}, {"action": "reject_signoff"}),
    # 核销: whoever assigned it (grouplead for the town's sheet, the office for the department) and
    # the office; the group lead sees the department's problem but did not assign it (403).
    *_page("closure.verify", "verification", "closure_town_pending", {"grouplead", "office"},
           data={"action": "reject_verification"}),
    *_page("closure.verify", "verification", "closure_dept_pending", {"office"},
           data={"action": "reject_verification"}),
    # 暂难解决审批: the office only.
    *_page("closure.cannot_solve_decision", "cannot-solve/decision", "closure_town_cannot_review", {"office"},
           data={"action": "reject_cannot_solve"}),
    # 销号单: whoever sees the problem.
    _pdf("closure_town_signed_off", SEES_TOWN, CASEWORK - SEES_TOWN),
    Rule("closure.report_pdf", lambda o: f"/cases/{o.closure_town_signed_off.id}/closures/99999999.pdf", set(),
         not_found=CASEWORK, note="no such closure"),
    Rule("closure.report_pdf", lambda o: f"/cases/{o.closure_town_signed_off.id}/closures/"
         f"{_closure_id(o.closure_dept_pending)}.pdf", set(), not_found=CASEWORK, note="another problem's closure"),
]
