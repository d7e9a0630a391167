"""Reads of the API: the services (problem categories), their attributes, and the work orders a
caller sent, as the plain dicts GeoReport v2 describes.

A caller sees only the problems it sent. What leaves is what the spec's fields need: no
resident name, no phone, no ID number, no internal notes — the status, the status in words, the
unit handling it, the dates, the address the caller itself gave, and the reply to the resident.
"""

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..cases.models import Category, Problem
from ..cases.workflow import ENDED, Status
from ..core import clock
from ..core.extensions import db
from ..handling.models import Reply
from ..org.models import TERRITORIAL, Unit, UnitKind
from .models import ApiClient, WorkOrder

DEFAULT_DAYS = 90  # the spec's default window, and the widest a query may ask for
MAX_RESULTS = 1000

# Ended with a text written for the resident: it is the status note.
_REASONED = frozenset({Status.not_accepted, Status.merged})


def w3(value: datetime | None) -> str | None:
    """ISO 8601 in the district's time with its offset (2026-12-07T10:00:00+08:00)."""
    return None if value is None else clock.local(value).replace(microsecond=0).isoformat()


def services() -> list[dict]:
    rows = db.session.scalars(select(Category).where(Category.is_active.is_(True))
                              .order_by(Category.sort_order, Category.id))
    return [{
        "service_code": str(c.id), "service_name": c.name, "description": c.name,
        "metadata": True, "type": "realtime", "keywords": c.name, "group": "走访帮扶",
    } for c in rows]


def category(code: str) -> Category | None:
    if not code.isdigit() or len(code) > 9:
        return None
    c = db.session.get(Category, int(code))
    return c if c is not None and c.is_active else None


def villages() -> list[Unit]:
    """Villages (communities) of active towns, streets and zones: where a problem is raised."""
    rows = db.session.scalars(select(Unit).options(joinedload(Unit.parent)).where(
        Unit.kind == UnitKind.village, Unit.is_active.is_(True)).order_by(Unit.parent_id, Unit.id))
    return [v for v in rows if v.parent is not None and v.parent.kind in TERRITORIAL and v.parent.is_active]


def village(key: str) -> Unit | None:
    if not key.isdigit() or len(key) > 9:
        return None
    return next((v for v in villages() if v.id == int(key)), None)


def definition(c: Category) -> dict:
    """The attributes a request of this service takes besides the spec's own fields."""
    return {"service_code": str(c.id), "attributes": [
        {"variable": True, "code": "village", "datatype": "singlevaluelist", "required": True,
         "datatype_description": "村（社区）编号", "order": 1,
         "description": "问题所在的村（社区）", "values": [
             {"key": str(v.id), "name": f"{v.parent.name} {v.name}"} for v in villages()]},
        {"variable": True, "code": "title", "datatype": "string", "required": False,
         "datatype_description": "不超过 80 个字；不填时取描述的开头", "order": 2,
         "description": "问题标题", "values": []},
    ]}


def latest_replies(problem_ids: list[int]) -> dict[int, Reply]:
    """The latest reply (回音) of each problem, in one query."""
    latest = {}
    if problem_ids:
        rows = db.session.scalars(select(Reply).where(Reply.problem_id.in_(problem_ids))
                                  .order_by(Reply.problem_id, Reply.replied_at, Reply.id))
        for reply in rows:
            latest[reply.problem_id] = reply
    return latest


def status_notes(problem: Problem) -> str:
    label = str(problem.status.label)
    if problem.status in _REASONED and problem.end_reason:
        return f"{label}：{problem.end_reason}"
    return label


def requests_of(orders: list[WorkOrder]) -> list[dict]:
    """Service requests as GeoReport v2 shows them (a constant number of queries for any count)."""
    replies = latest_replies([o.problem_id for o in orders])
    return [request_of(o, replies.get(o.problem_id)) for o in orders]


def request_of(order: WorkOrder, reply: Reply | None = None, *, look_up_reply: bool = False) -> dict:
    """One service request as GeoReport v2 shows it, with the work order and the reply added."""
    p = order.problem
    if look_up_reply:
        reply = latest_replies([p.id]).get(p.id)
    expected = None
    if p.deadline is not None and p.status not in ENDED:
        expected = datetime.combine(p.deadline, time(23, 59, 59), clock.LOCAL_TZ)
    return {
        "service_request_id": str(p.id),
        "status": "closed" if p.status in ENDED else "open",
        "status_notes": status_notes(p),
        "service_name": p.category.name,
        "service_code": str(p.category_id),
        "description": p.description,
        "agency_responsible": p.lead_unit.name if p.lead_unit else None,
        "service_notice": None,
        "requested_datetime": w3(p.registered_at),
        "updated_datetime": w3(p.closed_at if p.status == Status.closed and p.closed_at else p.updated_at),
        "expected_datetime": w3(expected),
        "address": p.address or f"{p.town.name}{p.village.name}",
        "address_id": None,
        "zipcode": None,
        "lat": order.lat,
        "long": order.long,
        "media_url": order.media_url,
        # Beside the spec: the caller's own work-order number, and the reply (回音) to the resident.
        "work_order_no": order.work_order_no,
        "detailed_status": p.status.value,
        "reply": reply.content if reply else None,
        "reply_datetime": w3(reply.replied_at) if reply else None,
    }


def _orders(client: ApiClient):
    return (select(WorkOrder).join(Problem, WorkOrder.problem_id == Problem.id)
            .where(WorkOrder.client_id == client.id)
            .options(joinedload(WorkOrder.problem).options(
                joinedload(Problem.category), joinedload(Problem.lead_unit),
                joinedload(Problem.town), joinedload(Problem.village))))


def by_ids(client: ApiClient, ids: list[int]) -> list[WorkOrder]:
    return list(db.session.scalars(_orders(client).where(Problem.id.in_(ids)).order_by(Problem.id)))


def by_token(client: ApiClient, token: str) -> WorkOrder | None:
    return db.session.scalar(_orders(client).where(WorkOrder.work_order_no == token))


def search(client: ApiClient, *, codes: list[int], start: datetime | None, end: datetime | None,
           statuses: set[str]) -> list[WorkOrder]:
    """The spec's filters; without dates, the last 90 days; at most 1,000, newest first."""
    if start is None and end is None:
        end = clock.now()
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    q = _orders(client).where(Problem.registered_at >= start)
    if end is not None:
        q = q.where(Problem.registered_at <= end)
    if codes:
        q = q.where(Problem.category_id.in_(codes))
    if statuses == {"open"}:
        q = q.where(Problem.status.not_in(ENDED))
    elif statuses == {"closed"}:
        q = q.where(Problem.status.in_(ENDED))
    return list(db.session.scalars(q.order_by(Problem.registered_at.desc(), Problem.id.desc()).limit(MAX_RESULTS)))
