"""Status changes pushed to the outside system that sent the problem (a signed webhook).

``cases.operations`` calls :func:`on_problem_event` for every workflow event. When the problem
came from a caller with a webhook URL and the event changed what the caller sees (its status,
or the reply to the resident), the delivery is queued after the commit (``tasks.deliver``).

Each delivery is a POST of JSON with the headers ``X-Huiyin-Timestamp`` (Unix seconds) and
``X-Huiyin-Signature: sha256=<hex>``, the HMAC-SHA256 of ``timestamp + "." + body`` with the
caller's webhook secret. A receiver recomputes it over the raw body and refuses old timestamps.
"""

import json
import secrets

from sqlalchemy import select

from ..cases import operations as case_ops
from ..core import tasks
from ..core.extensions import db
from .models import WorkOrder
from .queries import request_of
from .tasks import deliver

# Events that do not move the status but change what the caller sees.
REPLY_ACTIONS = frozenset({"reply", "reply_reopen"})


def payload(order: WorkOrder, event) -> dict:
    return {
        "event_id": secrets.token_hex(12),
        "event": event.action,
        "from_status": event.from_status.value if event.from_status else None,
        "service_request": request_of(order, look_up_reply=True),
    }


@case_ops.on_event
def on_problem_event(problem, event) -> None:
    """Queue a webhook for a status change (or a reply) of a problem an API caller sent."""
    if event.from_status == event.to_status and event.action not in REPLY_ACTIONS:
        return
    order = db.session.scalar(select(WorkOrder).where(WorkOrder.problem_id == problem.id))
    if order is None or order.client.is_revoked or not order.client.webhook_url:
        return
    db.session.flush()  # the reply row and the new status, for the payload
    body = json.dumps(payload(order, event), ensure_ascii=False, sort_keys=True)
    tasks.enqueue_after_commit(deliver, order.client_id, body)
