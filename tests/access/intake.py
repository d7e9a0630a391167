"""Intake (走访登记): only the cadre records visits and registers problems; visits are read by their
cadre, the group lead (the group's), the office and the leader; a full phone/ID number is revealed
only to the registering cadre, the handling units and the office (group lead and leader never:
403); a photo opens for exactly those who may see its problem (404 for everyone else)."""

import uuid

from webapp.core import clock

from . import Rule
from .objects import unit

CADRE = {"cadre"}
VISIT_READERS = {"cadre", "grouplead", "office", "leader"}


def _visit_fields(o, **extra) -> dict:
    return {
        "token": uuid.uuid4().hex, "visited_on": clock.today().isoformat(), "village": str(unit("权台村").id),
        "household_kind": "household", "household_name": "矩阵户", "visitors": "矩阵", **extra,
    }


def _attach(o) -> dict:
    return _visit_fields(o, **{"attach": "0", "problems-0-resident_name": "矩阵居民",
                               "problems-0-resident_phone": "13800000000", "problems-0-title": "路灯损坏"})


def _similar_path(o) -> str:
    return (f"/cases/visits/new/similar?block=0&village={unit('权台村').id}"
            "&problems-0-title=%E8%B7%AF%E7%81%AF%E6%8D%9F%E5%9D%8F")


RULES = [
    Rule("visits.new_visit", "/cases/visits/new", CADRE),
    Rule("visits.new_visit", "/cases/visits/new", CADRE, method="POST", note="visit without problems",
         data=lambda o: _visit_fields(o, action="visit_only")),
    Rule("visits.block", "/cases/visits/new/block?i=1", CADRE, headers={"HX-Request": "true"}),
    Rule("visits.similar", _similar_path, CADRE, headers={"HX-Request": "true"}),
    Rule("visits.attach", lambda o: f"/cases/visits/new/attach/{o.town_problem.id}", CADRE, method="POST",
         data=_attach, note="open problem of the group's town"),
    Rule("visits.attach", lambda o: f"/cases/visits/new/attach/{o.other_town_open_problem.id}", set(),
         method="POST", data=_attach, not_found=CADRE, note="another town's problem"),
    Rule("visits.receipt", lambda o: f"/cases/visits/{o.intake_visit.id}/receipt", CADRE),
    Rule("visits.index", "/cases/visits", VISIT_READERS),
    Rule("visits.index", "/cases/visits?page=2", VISIT_READERS, headers={"HX-Request": "true"}, note="htmx page"),
    Rule("visits.visit", lambda o: f"/cases/visits/{o.intake_visit.id}", VISIT_READERS, note="own group"),
    Rule("visits.visit", lambda o: f"/cases/visits/{o.other_group_visit.id}", {"office", "leader"},
         not_found={"cadre", "grouplead"}, note="other group"),
    # Reveal: the registering cadre, the handling unit, the office; everyone else outside the
    # problem's scope gets 404, group lead and leader 403 (they see it, but never in full).
    Rule("intake.reveal_contact", lambda o: f"/cases/{o.town_problem.id}/reveal",
         {"cadre", "town", "townlead", "office"}, method="POST", not_found={"dept", "deptlead", "desk"},
         note="town problem"),
    Rule("intake.reveal_contact", lambda o: f"/cases/{o.dept_problem.id}/reveal",
         {"cadre", "dept", "deptlead", "office"}, method="POST", not_found={"town", "townlead", "desk"},
         note="department problem"),
    Rule("intake.reveal_contact", lambda o: f"/cases/{o.other_group_problem.id}/reveal", {"office"},
         method="POST", not_found={"cadre", "town", "townlead", "dept", "deptlead", "desk"},
         note="other group's problem"),
    Rule("intake.attachment", lambda o: f"/attachments/{o.town_photo.id}",
         {"cadre", "grouplead", "town", "townlead", "office", "leader"}, not_found={"dept", "deptlead", "desk"},
         note="town problem's photo"),
    Rule("intake.attachment", lambda o: f"/attachments/{o.dept_photo.id}",
         {"cadre", "grouplead", "dept", "deptlead", "office", "leader"}, not_found={"town", "townlead", "desk"},
         note="department problem's photo"),
    Rule("intake.attachment", lambda o: f"/attachments/{o.other_group_photo.id}", {"office", "leader"},
         not_found={"cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk"},
         note="other group's photo"),
    Rule("intake.thumbnail", lambda o: f"/attachments/{o.town_photo.id}/thumb",
         {"cadre", "grouplead", "town", "townlead", "office", "leader"}, not_found={"dept", "deptlead", "desk"},
         note="town problem's photo"),
    Rule("intake.thumbnail", lambda o: f"/attachments/{o.other_group_photo.id}/thumb", {"office", "leader"},
         not_found={"cadre", "grouplead", "town", "townlead", "dept", "deptlead", "desk"},
         note="other group's photo"),
]
