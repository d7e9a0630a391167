"""调度会议程: generating for the office (any meeting) and a group lead (its own group's meeting;
another group's or the office's: 403); reading (page and packet) for the office and the leader,
and for a group lead its own group's agendas (another group's or the office's: 404)."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY, unit

READERS = {"office", "leader", "grouplead"}
OFFICE = {"office"}
GENERATORS = {"office", "grouplead"}


def _agenda(kind, group=None):
    def build():
        from tests.cases import factories as f
        from webapp.core import clock
        from webapp.supervision import agendas

        agenda = agendas.generate(kind, unit(group) if group else None, clock.today(), f.user("office"))
        db.session.commit()
        return agenda

    return build


def _objects() -> None:
    LAZY.update({
        # The demo group lead's own group (潘安湖街道工作组), another group, and the office's meeting.
        "own_group_agenda": _agenda("group", "潘安湖街道工作组"),
        "other_group_agenda": _agenda("group", "青山泉镇工作组"),
        "office_agenda": _agenda("office"),
        # A group's agenda whose meeting the office holds (a POST writes it: its own object).
        "held_agenda": _agenda("group", "潘安湖街道工作组"),
    })


_objects()


def _path(name, suffix=""):
    return lambda o: f"/supervision/agendas/{getattr(o, name).id}{suffix}"


def _create_data(_o):
    from webapp.core import clock

    return {"kind": "office", "meeting_on": clock.today().isoformat(), "again": "y"}


def _hold_data(_o):
    from webapp.core import clock

    return {"day": clock.today().isoformat(), "time": "09:00", "place": "区活动办会议室", "host": "王明"}


def _group_data(name):
    def data(_o):
        from webapp.core import clock

        return {"kind": "group", "work_group": str(unit(name).id), "meeting_on": clock.today().isoformat(),
                "again": "y"}

    return data


def _preview(name):
    def path(_o):
        return f"/supervision/agendas/new?kind=group&work_group={unit(name).id}&meeting_on=2026-11-20"

    return path


RULES = [
    Rule("agendas.index", "/supervision/agendas", READERS),
    Rule("agendas.proposals", "/supervision/agendas/proposals", READERS),
    Rule("agendas.propose", "/supervision/agendas/proposals", {"grouplead"}, method="POST",
         data={"problem_id": "", "reason": "需要区级部门协调。"}, note="the form, refused without a problem"),
    Rule("agendas.new", "/supervision/agendas/new", GENERATORS),
    Rule("agendas.new", "/supervision/agendas/new?kind=office&meeting_on=2026-11-20", OFFICE, note="preview"),
    Rule("agendas.new", _preview("潘安湖街道工作组"), GENERATORS, note="preview, own group"),
    Rule("agendas.new", _preview("青山泉镇工作组"), OFFICE, note="preview, another group"),
    Rule("agendas.create", "/supervision/agendas", OFFICE, method="POST", data=_create_data),
    Rule("agendas.create", "/supervision/agendas", GENERATORS, method="POST", data=_group_data("潘安湖街道工作组"),
         note="own group"),
    Rule("agendas.create", "/supervision/agendas", OFFICE, method="POST", data=_group_data("青山泉镇工作组"),
         note="another group"),
    Rule("agendas.show", _path("own_group_agenda"), READERS, note="own group"),
    Rule("agendas.show", _path("other_group_agenda"), {"office", "leader"}, not_found={"grouplead"},
         note="another group"),
    Rule("agendas.show", _path("office_agenda"), {"office", "leader"}, not_found={"grouplead"}, note="office"),
    Rule("agendas.show", "/supervision/agendas/99999999", set(), not_found=READERS, note="no such agenda"),
    # The packet is a background job (its file is fetched on /jobs/<id>, owner or office only).
    Rule("agendas.packet", _path("own_group_agenda", "/packet"), READERS, method="POST", note="own group"),
    Rule("agendas.packet", _path("other_group_agenda", "/packet"), {"office", "leader"}, method="POST",
         not_found={"grouplead"}, note="another group"),
    Rule("agendas.packet", _path("office_agenda", "/packet"), {"office", "leader"}, method="POST",
         not_found={"grouplead"}, note="office"),
    Rule("agendas.packet", "/supervision/agendas/99999999/packet", set(), method="POST", not_found=READERS,
         note="no such agenda"),
    # 召开调度会, then its minutes on the meeting's page: the office alone.
    Rule("agendas.hold", _path("own_group_agenda", "/meeting"), OFFICE),
    Rule("agendas.hold", _path("held_agenda", "/meeting"), OFFICE, method="POST", data=_hold_data),
    Rule("agendas.hold", "/supervision/agendas/99999999/meeting", set(), not_found=OFFICE, note="no such agenda"),
]
