"""报送进展, 内部备注, 配合单位反馈 and 延期 (request, decision).

Progress and extension requests are the lead unit's (extensions: its handlers, not its leader);
a cooperating unit reports on its own part once it signed for it; notes are for every casework
role except the leader, on problems they see and stand in; extensions are decided by whoever
assigned the problem or the office. Users outside the problem's scope meet 404, the role gate
and the workflow refuse the others (403); admins see no casework.
"""

from datetime import timedelta

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

UNIT_USERS = {"town", "townlead", "dept", "deptlead", "desk"}
NOTE_ROLES = {"cadre", "grouplead", "office"} | UNIT_USERS


def _objects() -> None:
    from tests.cases import factories as f
    from tests.handling import factories as hf
    from webapp.cases import operations as ops
    from webapp.handling import operations as h

    def cooperating(signed: bool):
        p = hf.in_progress(cooperating=("区民政局",))
        if signed:
            ops.sign_for(p, f.user("dept"))
            db.session.commit()
        return p

    def pending_extension(**kw):
        p = hf.in_progress(**kw)
        handler, _leader = hf._lead_users(p)
        h.request_extension(p, handler, new_deadline=p.deadline + timedelta(days=14), reason="资金未到位",
                            progress="已完成勘查")
        db.session.commit()
        return p

    LAZY.update({
        # 办理中 at 潘安湖街道 (town, townlead), assigned by grouplead, registered by cadre.
        "progress_town": lambda: hf.in_progress(),
        # The same, with 区民政局 cooperating: signed for its part (dept, deptlead) or not yet.
        "progress_coop": lambda: cooperating(True),
        "progress_coop_pending": lambda: cooperating(False),
        # 办理中 at 区民政局, assigned by the office from the group's list.
        "progress_dept": lambda: hf.in_progress(dept=True),
        # An extension waiting: assigned by grouplead / by the office.
        "progress_town_ext": lambda: pending_extension(),
        "progress_dept_ext": lambda: pending_extension(dept=True),
    })


_objects()


def _fresh(problem):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(problem)
    return problem


def _text(problem) -> dict:
    return {"text": "访问矩阵：情况说明"}


def _extension(problem) -> dict:
    problem = _fresh(problem)
    return {"version": str(problem.version), "new_deadline": (problem.deadline + timedelta(days=10)).isoformat(),
            "reason": "访问矩阵：原因", "progress": "访问矩阵：进展"}


def _decision(problem) -> dict:
    return {"version": str(_fresh(problem).version), "decision": "approve"}


def _rules(endpoint: str, suffix: str, obj: str, allow: set[str], not_found: set[str], data) -> list[Rule]:
    """The page (GET) and its form (POST) on one object."""
    def path(o):
        return f"/cases/{getattr(o, obj).id}/{suffix}"

    return [
        Rule(endpoint, path, set(allow), not_found=set(not_found), note=obj),
        Rule(endpoint, path, set(allow), method="POST", data=lambda o: data(getattr(o, obj)),
             not_found=set(not_found), note=obj),
    ]


def _missing(endpoint: str, suffix: str, gate: set[str]) -> list[Rule]:
    return [
        Rule(endpoint, f"/cases/99999999/{suffix}", set(), not_found=set(gate), note="no such problem"),
        Rule(endpoint, f"/cases/99999999/{suffix}", set(), method="POST", data={"text": "x", "version": "1"},
             not_found=set(gate), note="no such problem"),
    ]


RULES = [
    # 报送进展: the lead unit (handler and leader); a cooperating unit is refused by the workflow.
    *_rules("progress.update", "progress", "progress_town", {"town", "townlead"}, {"dept", "deptlead", "desk"}, _text),
    *_rules("progress.update", "progress", "progress_coop", {"town", "townlead"}, {"desk"}, _text),
    *_rules("progress.update", "progress", "other_town_problem", set(), UNIT_USERS, _text),
    *_missing("progress.update", "progress", UNIT_USERS),
    # 内部备注: whoever stands in the problem; the leader never (role gate).
    *_rules("progress.note", "note", "progress_town", {"cadre", "grouplead", "office", "town", "townlead"},
            {"dept", "deptlead", "desk"}, _text),
    *_rules("progress.note", "note", "progress_coop", {"cadre", "grouplead", "office", "town", "townlead", "dept",
                                                       "deptlead"}, {"desk"}, _text),
    # A cooperating unit that has not signed for its part does not stand in the problem yet (403).
    *_rules("progress.note", "note", "progress_coop_pending", {"cadre", "grouplead", "office", "town", "townlead"},
            {"desk"}, _text),
    # Another group's problem waiting for triage: only the office of those who may write notes sees it.
    *_rules("progress.note", "note", "other_group_problem", {"office"}, NOTE_ROLES - {"office"}, _text),
    *_missing("progress.note", "note", NOTE_ROLES),
    # 配合单位反馈: the cooperating unit after signing for its part; never the lead unit.
    *_rules("progress.part_feedback", "part-feedback", "progress_coop", {"dept", "deptlead"}, {"desk"}, _text),
    *_rules("progress.part_feedback", "part-feedback", "progress_coop_pending", set(), {"desk"}, _text),
    *_rules("progress.part_feedback", "part-feedback", "other_town_problem", set(), UNIT_USERS, _text),
    *_missing("progress.part_feedback", "part-feedback", UNIT_USERS),
    # 申请延期: the lead unit's handlers (not its leader, who approves its plans).
    *_rules("progress.extension", "extension", "progress_town", {"town"}, {"dept", "deptlead", "desk"}, _extension),
    *_rules("progress.extension", "extension", "progress_dept", {"dept"}, {"town", "townlead", "desk"}, _extension),
    *_rules("progress.extension", "extension", "other_town_problem", set(), UNIT_USERS, _extension),
    *_missing("progress.extension", "extension", UNIT_USERS),
    # 审批延期: whoever assigned (grouplead for its sheets) or the office; a group lead may not
    # decide for what the office assigned (403) nor see another group's problem (404).
    *_rules("progress.extension_decision", "extension/decision", "progress_town_ext", {"grouplead", "office"}, set(),
            _decision),
    *_rules("progress.extension_decision", "extension/decision", "progress_dept_ext", {"office"}, set(), _decision),
    *_rules("progress.extension_decision", "extension/decision", "other_group_problem", {"office"}, {"grouplead"},
            _decision),
    *_missing("progress.extension_decision", "extension/decision", {"grouplead", "office"}),
]
