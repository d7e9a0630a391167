"""抽查回访: the office draws and records callbacks, the leader reads the draws and samples;
every other role is refused by the gate (403). A draw or item that does not exist is 404.

The objects: a problem signed off in the last ended half month and that period's draw (every
sign-off sampled, so the problem is in it); for the draw route, a problem signed off in the
half month before, which has no draw yet."""

from datetime import UTC, datetime, time

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

READERS = {"office", "leader"}
OFFICE = {"office"}


def _period(back: int):
    from webapp.core import clock
    from webapp.core.periods import Period

    p = Period.of(clock.today())
    for _i in range(back):
        p = p.previous()
    return p


def _signed_off_in(period):
    """A problem signed off (verified) on a working day of ``period``, 10:00 local time."""
    import time_machine

    from tests.handling import factories as hf
    from webapp.core import calendar, clock

    day = calendar.add_workdays(period.start, 1)
    when = datetime.combine(day, time(10), clock.LOCAL_TZ).astimezone(UTC)
    with time_machine.travel(when, tick=False):
        return hf.signed_off()


def _draw():
    from tests.cases import factories as f
    from webapp.integrity import spotchecks as sc

    period = _period(1)
    problem = _signed_off_in(period)
    check = sc.draw(period, f.user("office"), rate=100)
    db.session.commit()
    return next(i for i in check.items if i.problem_id == problem.id)


def _drawable():
    period = _period(2)
    _signed_off_in(period)
    return period


def _objects() -> None:
    LAZY.update({
        "spot_item": _draw,  # an item of the last ended half month's draw
        "spot_drawable": _drawable,  # the half month before it: signed-off problems, no draw
    })


_objects()


def _record_data(o):
    from webapp.core import clock
    from webapp.integrity.models import SpotCheckItem

    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    item = db.session.get(SpotCheckItem, o.spot_item.id)
    db.session.refresh(item)
    return {"result": "confirmed", "method": "phone", "note": "群众确认已解决。",
            "called_at": clock.local(clock.now()).strftime("%Y-%m-%dT%H:%M"), "version": str(item.version)}


RULES = [
    Rule("spotchecks.index", "/integrity/spot-checks", READERS),
    Rule("spotchecks.draw", "/integrity/spot-checks", OFFICE, method="POST",
         data=lambda o: {"period": o.spot_drawable.start.isoformat(), "rate": "10"}),
    Rule("spotchecks.show", lambda o: f"/integrity/spot-checks/{o.spot_item.spot_check_id}", READERS),
    Rule("spotchecks.show", "/integrity/spot-checks/99999999", set(), not_found=READERS, note="no such draw"),
    Rule("spotchecks.record", lambda o: f"/integrity/spot-checks/items/{o.spot_item.id}", OFFICE),
    Rule("spotchecks.record", lambda o: f"/integrity/spot-checks/items/{o.spot_item.id}", OFFICE, method="POST",
         data=_record_data),
    Rule("spotchecks.record", "/integrity/spot-checks/items/99999999", set(), not_found=OFFICE,
         note="no such item"),
    Rule("spotchecks.record", "/integrity/spot-checks/items/99999999", set(), method="POST", not_found=OFFICE,
         data={"result": "confirmed", "method": "phone", "called_at": "2026-01-01T10:00", "version": "1"},
         note="no such item"),
]
