"""Sending on the task queue: one task per delivery with retries and back-off, and a fan-out
task so that a notice to hundreds of units enqueues one task in the request."""

from ..core import tasks
from . import delivery

RETRIES = 4         # five attempts in all
RETRY_DELAY = 30    # seconds: 30, 60, 120, 240


@tasks.task(retries=RETRIES, retry_delay=RETRY_DELAY, writes=True)
def send_delivery(delivery_id: int) -> str:
    """Send one delivery; a channel failure raises so the queue tries again later."""
    attempt = tasks.current()
    return delivery.send(delivery_id, last_attempt=attempt is None or attempt.last)


@tasks.task(retries=2, retry_delay=10)
def send_deliveries(delivery_ids: list[int]) -> None:
    """Fan out: one ``send_delivery`` per delivery (each with its own retries)."""
    for delivery_id in delivery_ids:
        send_delivery.enqueue(delivery_id)


def release_held() -> int:
    """The held deliveries whose time has come go out again (the scheduler, every minute)."""
    ids = delivery.release_held()
    for delivery_id in ids:
        send_delivery.enqueue(delivery_id)
    return len(ids)
