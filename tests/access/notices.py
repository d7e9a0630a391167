"""督办单: a notice opens for the office and the leader, the work group that issued it and the
unit it is addressed to; any other unit meets it as 404. Group leads and the office issue (the
group lead only on what its group assigned: 403 on what the office assigned, 404 on another
group's problem); only the addressed unit's staff answer (another unit: 404; everyone else is
refused by the gate). Cadres and admins see no notices (403)."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

VIEWERS = {"office", "leader", "grouplead", "town", "townlead", "dept", "deptlead", "desk"}
ISSUERS = {"grouplead", "office"}
UNIT_STAFF = {"town", "townlead", "dept", "deptlead", "desk"}
# Issued by 潘安湖街道工作组 (grouplead) to 潘安湖街道 (town, townlead).
TOWN_NOTICE_SEES = {"office", "leader", "grouplead", "town", "townlead"}
# Issued by the office to 区民政局 (dept, deptlead) on a problem of the 潘安湖街道工作组's own
# coordinated list: its group lead follows it too.
DEPT_NOTICE_SEES = {"office", "leader", "grouplead", "dept", "deptlead"}


def _objects() -> None:
    from tests.cases import factories as f
    from tests.handling import factories as hf
    from webapp.supervision import notices

    def notice(problem, issuer: str):
        n = notices.issue(problem, f.user(issuer), lateness="访问矩阵：已超期", requirement="访问矩阵：限期反馈",
                          reply_by=notices.default_reply_by(), version=None)
        db.session.commit()
        return n

    LAZY.update({
        # 潘安湖街道's problem in progress, assigned by grouplead: grouplead and the office may issue.
        "notices_problem": lambda: hf.in_progress(),
        # The group's problem assigned by the office to 区民政局: only the office may issue.
        "notices_dept_problem": lambda: hf.in_progress(dept=True),
        "notices_town_notice": lambda: notice(hf.in_progress(), "grouplead"),
        "notices_town_answer_notice": lambda: notice(hf.in_progress(), "grouplead"),
        "notices_dept_notice": lambda: notice(hf.accepted(dept=True), "office"),
        "notices_dept_answer_notice": lambda: notice(hf.accepted(dept=True), "office"),
    })


_objects()


def _fresh(obj):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(obj)
    return obj


def _issue(problem) -> dict:
    from webapp.supervision import notices

    return {"lateness": "访问矩阵：已超期", "requirement": "访问矩阵：限期反馈", "token": "",
            "reply_by": notices.default_reply_by().isoformat(), "version": str(_fresh(problem).version)}


def _answer(notice) -> dict:
    return {"answer": "访问矩阵：已办理", "version": str(_fresh(notice).version)}


def _new(obj: str):
    return lambda o: f"/supervision/notices/new?problem_id={getattr(o, obj).id}"


def _n(obj: str, suffix: str = ""):
    return lambda o: f"/supervision/notices/{getattr(o, obj).id}{suffix}"


RULES = [
    Rule("notices.index", "/supervision/notices", VIEWERS),
    Rule("notices.index", "/supervision/notices?tab=all&state=overdue&page=3", VIEWERS, note="tabs, pages"),
    Rule("notices.new", "/supervision/notices/new", ISSUERS, note="no problem: to the list"),
    Rule("notices.new", _new("notices_problem"), ISSUERS, note="assigned by the group"),
    Rule("notices.new", _new("notices_dept_problem"), {"office"}, note="assigned by the office"),
    Rule("notices.new", _new("other_group_problem"), {"office"}, not_found={"grouplead"},
         note="another group's problem"),
    Rule("notices.new", _new("notices_problem"), ISSUERS, method="POST", data=lambda o: _issue(o.notices_problem),
         note="assigned by the group"),
    Rule("notices.new", _new("notices_dept_problem"), {"office"}, method="POST",
         data=lambda o: _issue(o.notices_dept_problem), note="assigned by the office"),
    Rule("notices.show", _n("notices_town_notice"), TOWN_NOTICE_SEES, not_found={"dept", "deptlead", "desk"},
         note="the town's"),
    Rule("notices.show", _n("notices_dept_notice"), DEPT_NOTICE_SEES,
         not_found={"town", "townlead", "desk"}, note="the department's"),
    Rule("notices.show", "/supervision/notices/99999999", set(), not_found=VIEWERS, note="no such notice"),
    # The first allowed user answers (302), the next finds it answered (409).
    Rule("notices.answer", _n("notices_town_answer_notice", "/answer"), {"town", "townlead"}, method="POST",
         data=lambda o: _answer(o.notices_town_answer_notice), not_found={"dept", "deptlead", "desk"},
         note="the town's"),
    Rule("notices.answer", _n("notices_dept_answer_notice", "/answer"), {"dept", "deptlead"}, method="POST",
         data=lambda o: _answer(o.notices_dept_answer_notice), not_found={"town", "townlead", "desk"},
         note="the department's"),
    Rule("notices.answer", "/supervision/notices/99999999/answer", set(), method="POST",
         data={"answer": "访问矩阵", "version": "1"}, not_found=UNIT_STAFF, note="no such notice"),
    Rule("notices.pdf", _n("notices_town_notice", ".pdf"), TOWN_NOTICE_SEES, not_found={"dept", "deptlead", "desk"},
         note="the town's"),
    Rule("notices.pdf", _n("notices_dept_notice", ".pdf"), DEPT_NOTICE_SEES,
         not_found={"town", "townlead", "desk"}, note="the department's"),
    Rule("notices.pdf", "/supervision/notices/99999999.pdf", set(), not_found=VIEWERS, note="no such notice"),
]
