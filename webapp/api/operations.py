"""Writes of the API: a 12345 work order becomes a problem in the 12345 desk's queue.

The problem is registered and transferred to the desk through the cases operations — the same
workflow, timeline and audit as a problem any group transfers — by the API's service account
(``keys.service_user``), marked with the source ``12345_api``. One work-order number per caller
makes one problem: a resend returns the problem already made.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..cases import operations as case_ops
from ..cases.models import Category
from ..cases.workflow import Kind, Level, Tier
from ..core import audit, clock
from ..core.extensions import db
from ..org.models import Unit
from .keys import service_user
from .models import ApiClient, WorkOrder

SOURCE = "12345_api"
# How the desk handles what the platform sends: an individual problem of the town level, 实事快办.
TRIAGE = case_ops.Triage(Kind.individual, Level.town, Tier.quick)
ANONYMOUS = "12345来电群众"


@dataclass
class WorkOrderInput:
    work_order_no: str
    category: Category
    village: Unit
    description: str
    title: str
    resident_name: str
    phone: str
    address: str
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


def find_work_order(client: ApiClient, work_order_no: str) -> WorkOrder | None:
    return db.session.scalar(select(WorkOrder).where(
        WorkOrder.client_id == client.id, WorkOrder.work_order_no == work_order_no))


def receive_work_order(client: ApiClient, data: WorkOrderInput) -> tuple[WorkOrder, bool]:
    """Register the work order as a problem and transfer it to the 12345 desk; a resend of the
    same work-order number returns the first problem (created=False)."""
    existing = find_work_order(client, data.work_order_no)
    if existing is not None:
        return existing, False
    actor = service_user()
    problem, _created = case_ops.register_problem(actor, case_ops.ProblemInput(
        resident_name=data.resident_name or ANONYMOUS, resident_phone=data.phone or "",
        resident_id_number=None, village=data.village, address=data.address, category=data.category,
        title=data.title, description=data.description,
    ), client_token=f"api:{client.id}:{data.work_order_no}", source=SOURCE)
    case_ops.transfer_to_desk(problem, actor, triage=TRIAGE, requirements=str(
        _l("12345平台工单 %(no)s（来自“%(name)s”），请按来电问题办理并回访。",
           no=data.work_order_no, name=client.name)))
    order = WorkOrder(client_id=client.id, work_order_no=data.work_order_no, problem_id=problem.id,
                      lat=data.lat, long=data.long, media_url=data.media_url, created_at=clock.now())
    db.session.add(order)
    db.session.flush()
    audit.record("api.work_order", obj=problem, user=actor, detail={
        "client": client.name, "work_order_no": data.work_order_no, "number": problem.number})
    return order, True
