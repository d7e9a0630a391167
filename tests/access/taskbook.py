"""Task book (任务书): the lead unit's handler writes and revises it, its leader reviews it, the
unit's staff tick steps; other casework roles are refused by role (403), a unit outside the
problem's assignment meets 404. Every casework role that sees the problem reads the versions
and prints the 任务书; admins see no casework."""

from webapp.core.extensions import db

from . import CASEWORK, Rule
from .objects import LAZY

READ_ALL = {"office", "leader"}
GROUP = {"cadre", "grouplead"}  # the demo cadre registered the problems, grouplead assigned them
OTHER_UNITS = {"dept", "deptlead", "desk"}
TOWN = {"town", "townlead"}


def _objects() -> None:
    from tests.handling import factories as hf

    LAZY.update({
        "taskbook_accepted": lambda: hf.accepted(),  # 潘安湖街道 signed for it: the book is to write
        "taskbook_review": lambda: hf.plan_review(),  # submitted, waiting for townlead
        "taskbook_progress": lambda: hf.in_progress(),  # approved: steps to tick, a revision to write
    })


_objects()


def _fresh(problem):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return problem


def _step(problem):
    from webapp.handling.queries import book_in_force

    return book_in_force(_fresh(problem)).steps[0]


def _book(problem):
    from webapp.handling.queries import books

    return books(_fresh(problem))[-1]


def _incomplete_book(problem) -> dict:
    # No measures and no steps: the allowed user gets the form back with messages (200), nothing saved.
    return {"version": str(_fresh(problem).version), "responsible_leader": "矩阵", "measures": ""}


def _reject_without_reason(problem) -> dict:
    return {"version": str(_fresh(problem).version), "action": "reject_plan", "reason": ""}


def _tick_url(o) -> str:
    p = o.taskbook_progress
    return f"/cases/{p.id}/steps/{_step(p).id}/done"


RULES = [
    # 提交任务书: the lead unit's handler only (the unit leader approves, 403 by the workflow table).
    Rule("taskbook.edit", lambda o: f"/cases/{o.taskbook_accepted.id}/task-book", {"town"},
         not_found=OTHER_UNITS, note="accepted"),
    Rule("taskbook.edit", lambda o: f"/cases/{o.taskbook_progress.id}/task-book", {"town"},
         not_found=OTHER_UNITS, note="revision"),
    Rule("taskbook.edit", "/cases/99999999/task-book", set(), not_found=TOWN | OTHER_UNITS, note="no such problem"),
    Rule("taskbook.edit", lambda o: f"/cases/{o.taskbook_accepted.id}/task-book", {"town"}, method="POST",
         data=lambda o: _incomplete_book(o.taskbook_accepted), not_found=OTHER_UNITS, note="accepted"),
    Rule("taskbook.edit", lambda o: f"/cases/{o.taskbook_progress.id}/task-book", {"town"}, method="POST",
         data=lambda o: _incomplete_book(o.taskbook_progress), not_found=OTHER_UNITS, note="revision"),
    # 审核任务书: the lead unit's leader only (the handler: 403 by the table).
    Rule("taskbook.review", lambda o: f"/cases/{o.taskbook_review.id}/task-book/review?action=reject_plan",
         {"townlead"}, not_found=OTHER_UNITS),
    Rule("taskbook.review", lambda o: f"/cases/{o.taskbook_review.id}/task-book/review", {"townlead"},
         method="POST", data=lambda o: _reject_without_reason(o.taskbook_review), not_found=OTHER_UNITS),
    # 完成步骤: the unit's staff (an empty note: the form again, 200, nothing ticked).
    Rule("taskbook.tick", _tick_url, TOWN, not_found=OTHER_UNITS),
    Rule("taskbook.tick", _tick_url, TOWN, method="POST", data={"note": ""}, not_found=OTHER_UNITS),
    Rule("taskbook.tick", lambda o: f"/cases/{o.taskbook_progress.id}/steps/99999999/done", set(),
         not_found=TOWN | OTHER_UNITS, note="no such step"),
    # Every version and the printed 任务书: whoever sees the problem.
    Rule("taskbook.history", lambda o: f"/cases/{o.taskbook_progress.id}/task-books", READ_ALL | GROUP | TOWN,
         not_found=CASEWORK - READ_ALL - GROUP - TOWN),
    Rule("taskbook.pdf", lambda o: f"/cases/{o.taskbook_progress.id}/task-books/{_book(o.taskbook_progress).id}.pdf",
         READ_ALL | GROUP | TOWN, not_found=CASEWORK - READ_ALL - GROUP - TOWN),
    Rule("taskbook.pdf", lambda o: f"/cases/{o.taskbook_progress.id}/task-books/99999999.pdf", set(),
         not_found=CASEWORK, note="no such book"),
]
