"""调度会议程: generating for the office alone; reading (page and packet) for the office and the
leader, and for a group lead its own group's agendas (another group's or the office's: 404)."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY, unit

READERS = {"office", "leader", "grouplead"}
OFFICE = {"office"}


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
    })


_objects()


def _path(name, suffix=""):
    return lambda o: f"/supervision/agendas/{getattr(o, name).id}{suffix}"


def _create_data(_o):
    from webapp.core import clock

    return {"kind": "office", "meeting_on": clock.today().isoformat(), "again": "y"}


RULES = [
    Rule("agendas.index", "/supervision/agendas", READERS),
    Rule("agendas.new", "/supervision/agendas/new", OFFICE),
    Rule("agendas.new", "/supervision/agendas/new?kind=office&meeting_on=2026-11-20", OFFICE, note="preview"),
    Rule("agendas.create", "/supervision/agendas", OFFICE, method="POST", data=_create_data),
    Rule("agendas.show", _path("own_group_agenda"), READERS, note="own group"),
    Rule("agendas.show", _path("other_group_agenda"), {"office", "leader"}, not_found={"grouplead"},
         note="another group"),
    Rule("agendas.show", _path("office_agenda"), {"office", "leader"}, not_found={"grouplead"}, note="office"),
    Rule("agendas.show", "/supervision/agendas/99999999", set(), not_found=READERS, note="no such agenda"),
    Rule("agendas.packet", _path("own_group_agenda", "/packet.pdf"), READERS, note="own group"),
    Rule("agendas.packet", _path("other_group_agenda", "/packet.pdf"), {"office", "leader"},
         not_found={"grouplead"}, note="another group"),
    Rule("agendas.packet", _path("office_agenda", "/packet.pdf"), {"office", "leader"}, not_found={"grouplead"},
         note="office"),
    Rule("agendas.packet", "/supervision/agendas/99999999/packet.pdf", set(), not_found=READERS,
         note="no such agenda"),
]
