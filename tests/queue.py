"""Test helpers for the task queue: a real (SQLite file) queue for an app, a consumer running in
threads of the test process, and running what a queue's schedule holds."""

import datetime as dt
import time
from contextlib import contextmanager

from huey.utils import utcnow

from webapp.core import tasks


def use_sqlite_queue(app, path) -> tasks.Queue:
    """Give ``app`` a real queue in the SQLite file ``path`` (tasks wait there for a consumer)."""
    app.config["TASK_QUEUE_URL"] = f"sqlite:///{path}"
    tasks.init_app(app)
    return tasks.queue(app)


@contextmanager
def consumer_threads(app, workers: int = 1):
    """The app's consumer in threads of this process (no signal handlers), stopped afterwards."""
    q = tasks.queue(app)
    q.bind_all()
    consumer = q.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                      max_delay=0.2, check_worker_health=False)
    consumer._set_signal_handlers = lambda: None  # the test process keeps its own
    consumer.start()
    try:
        yield consumer
    finally:
        consumer.stop(graceful=True)


def run_scheduled(q: tasks.Queue, *, ahead: dt.timedelta = dt.timedelta(hours=1)) -> int:
    """Run (immediate queue) the tasks its schedule holds within ``ahead``: the retries."""
    due = q.huey.read_schedule(utcnow() + ahead)
    for htask in due:
        q.huey.execute(htask, timestamp=utcnow() + ahead)
    return len(due)


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(every)
