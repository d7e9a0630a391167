"""Joint meetings (协商会办): a meeting opens for the units that convened it or were invited, the
office and the leader, and the group lead of a problem on its agenda; any other unit meets it as
404. Only the convening unit and the office record the minutes or cancel it (an invited unit:
403); handlers, unit leaders, the desk and the office convene; the leader, group leads and
cadres convene nothing; admins see no casework. The printed 会议纪要 exists only once minuted."""

from webapp.core.extensions import db

from . import CASEWORK, Rule
from .objects import LAZY

VIEWERS = CASEWORK - {"cadre"}
CONVENERS = {"town", "townlead", "dept", "deptlead", "desk", "office"}
# The town's meeting: convened by 潘安湖街道 on its problem (潘安湖街道工作组's), 区民政局 invited.
TOWN_MEETING_SEES = {"office", "leader", "grouplead", "town", "townlead", "dept", "deptlead"}
TOWN_MANAGERS = {"town", "townlead", "office"}


def _objects() -> None:
    from datetime import timedelta

    from tests.cases import factories as f
    from tests.handling import factories as hf
    from webapp.core import clock
    from webapp.handling.meetings import convene_meeting, record_minutes
    from webapp.handling.models import MeetingKind

    def meeting(problem, convener: str, units: list[str], *, minuted=False):
        user = f.user(convener)
        m = convene_meeting(user, kind=MeetingKind.consultation, title="访问矩阵协商会",
                              starts_at=clock.now() + timedelta(days=1), place="会议室", host="王明",
                              units=[f.unit(u) for u in units], problems=[problem])
        if minuted:
            record_minutes(m, user, summary="访问矩阵纪要", attendance={}, decisions=[])
        db.session.commit()
        return m

    LAZY.update({
        # 潘安湖街道's problem in progress, 区民政局 cooperating (the convene page's preselection).
        "meetings_problem": lambda: hf.in_progress(cooperating=("区民政局",)),
        # A town problem no department cooperates on: 区民政局 does not see it.
        "meetings_town_only_problem": lambda: hf.accepted(),
        "meetings_town_meeting": lambda: meeting(hf.accepted(), "town", ["潘安湖街道", "区民政局"]),
        "meetings_minuted_meeting": lambda: meeting(hf.accepted(), "town", ["潘安湖街道", "区民政局"],
                                                    minuted=True),
        # 区民政局's own meeting on its own problem, nobody else invited: 潘安湖街道 and the desk
        # do not see it; the problem's work group (潘安湖街道工作组) does.
        "meetings_dept_meeting": lambda: meeting(hf.accepted(dept=True), "dept", ["区民政局"]),
    })


_objects()


def _fresh(obj):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(obj)
    return obj


def _convene(problem) -> dict:
    from tests.cases import factories as f

    return {"kind": "joint", "title": "访问矩阵会办会", "day": "2031-05-06", "time": "15:00", "place": "会议室",
            "host": "王明", "token": "", "problem_ids": [str(problem.id)],
            "unit_ids": [str(f.unit("潘安湖街道").id), str(f.unit("区民政局").id)]}


def _minutes(meeting) -> dict:
    meeting = _fresh(meeting)
    data = {"version": str(meeting.version), "summary": "访问矩阵：会议纪要", "save": "1"}
    for i, mu in enumerate(meeting.units):
        data[f"attendance-{i}-unit_id"] = str(mu.unit_id)
        data[f"attendance-{i}-attended"] = "y"
    return data


def _cancel(meeting) -> dict:
    return {"version": str(_fresh(meeting).version), "reason": "访问矩阵：改期"}


def _m(obj: str, suffix: str = ""):
    return lambda o: f"/meetings/{getattr(o, obj).id}{suffix}"


RULES = [
    Rule("meetings.index", "/meetings", VIEWERS),
    Rule("meetings.index", "/meetings?page=2&upcoming_page=3", VIEWERS, note="pages"),
    Rule("meetings.new", "/meetings/new", CONVENERS),
    Rule("meetings.new", lambda o: f"/meetings/new?problem_id={o.meetings_problem.id}", CONVENERS - {"desk"},
         not_found={"desk"}, note="preselected; 区民政局 cooperates"),
    Rule("meetings.new", lambda o: f"/meetings/new?problem_id={o.meetings_town_only_problem.id}",
         {"town", "townlead", "office"}, not_found={"dept", "deptlead", "desk"}, note="another unit's problem"),
    # Everyone who may convene gets an answer: the town and the office convene (302), the other
    # units get the form back with "not yours" at the agenda (200).
    Rule("meetings.new", "/meetings/new", CONVENERS, method="POST",
         data=lambda o: _convene(o.meetings_problem), note="convene"),
    Rule("meetings.show", _m("meetings_town_meeting"), TOWN_MEETING_SEES, not_found={"desk"}, note="town's"),
    Rule("meetings.show", _m("meetings_dept_meeting"), {"office", "leader", "grouplead", "dept", "deptlead"},
         not_found={"town", "townlead", "desk"}, note="department's"),
    Rule("meetings.show", "/meetings/99999999", set(), not_found=VIEWERS, note="no such meeting"),
    Rule("meetings.minutes", _m("meetings_town_meeting", "/minutes"), TOWN_MANAGERS, not_found={"desk"},
         note="town's"),
    Rule("meetings.minutes", _m("meetings_dept_meeting", "/minutes"), {"dept", "deptlead", "office"},
         not_found={"town", "townlead", "desk"}, note="department's"),
    # The first allowed user records the minutes (302), the next finds them recorded (409).
    Rule("meetings.minutes", _m("meetings_town_meeting", "/minutes"), TOWN_MANAGERS, method="POST",
         data=lambda o: _minutes(o.meetings_town_meeting), not_found={"desk"}, note="town's"),
    Rule("meetings.minutes", _m("meetings_dept_meeting", "/minutes"), {"dept", "deptlead", "office"},
         method="POST", data=lambda o: _minutes(o.meetings_dept_meeting), not_found={"town", "townlead", "desk"},
         note="department's"),
    Rule("meetings.cancel", _m("meetings_town_meeting", "/cancel"), TOWN_MANAGERS, method="POST",
         data=lambda o: _cancel(o.meetings_town_meeting), not_found={"desk"}, note="town's"),
    Rule("meetings.cancel", _m("meetings_dept_meeting", "/cancel"), {"dept", "deptlead", "office"}, method="POST",
         data=lambda o: _cancel(o.meetings_dept_meeting), not_found={"town", "townlead", "desk"},
         note="department's"),
    Rule("meetings.pdf", _m("meetings_minuted_meeting", ".pdf"), TOWN_MEETING_SEES, not_found={"desk"},
         note="minuted"),
    Rule("meetings.pdf", _m("meetings_town_meeting", ".pdf"), set(), not_found=VIEWERS, note="not minuted"),
]
