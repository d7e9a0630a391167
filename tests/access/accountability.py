"""问责记录: the office records; the record — list, page and printed decision — is read by the
office, the leader and the audit admin alone; everybody else is refused (403), the staff of the
unit held to account included. The office's POST with incomplete input gets the form back with
the messages (200) and records nothing."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

READERS = {"office", "leader", "auditor"}
OFFICE = {"office"}


def _record(unit_name: str, dept: bool):
    from tests.cases import factories as f
    from tests.handling import factories as hf
    from webapp.core import clock
    from webapp.integrity import accountability as acc
    from webapp.integrity.models import Measure

    problem = hf.in_progress(dept=dept)
    record = acc.create(f.user("office"), unit=f.unit(unit_name), measure=Measure.talk, facts="超期未办。",
                        decided_on=clock.today(), decided_by="区活动领导小组", problem_ids=[problem.id], flag_ids=[])
    db.session.commit()
    return record


def _objects() -> None:
    LAZY.update({
        "accountability_town": lambda: _record("潘安湖街道", dept=False),  # town, townlead
        "accountability_dept": lambda: _record("区民政局", dept=True),  # dept, deptlead
    })


_objects()


def _town_unit_id(o):
    return {"unit_id": str(o.own_town.id), "measure": "talk", "facts": "", "decided_by": ""}


RULES = [
    Rule("accountability.index", "/integrity/accountability", READERS),
    Rule("accountability.new", "/integrity/accountability/new", OFFICE),
    Rule("accountability.new", "/integrity/accountability/new", OFFICE, method="POST", data=_town_unit_id,
         note="incomplete: the form again"),
    # The unit held to account does not read the record (403 like everybody outside READERS).
    Rule("accountability.show", lambda o: f"/integrity/accountability/{o.accountability_town.id}", READERS,
         note="town"),
    Rule("accountability.show", lambda o: f"/integrity/accountability/{o.accountability_dept.id}", READERS,
         note="department"),
    Rule("accountability.show", "/integrity/accountability/99999999", set(), not_found=READERS,
         note="no such record"),
    Rule("accountability.decision", lambda o: f"/integrity/accountability/{o.accountability_town.id}/decision.pdf",
         READERS, note="town"),
    Rule("accountability.decision", "/integrity/accountability/99999999/decision.pdf", set(), not_found=READERS,
         note="no such record"),
]
