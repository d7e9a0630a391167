"""The one task queue: background tasks, retries with back-off, and the schedule (Huey).

Configuration (``TASK_QUEUE_URL``, from the environment or the app config):

- ``sqlite:///path/tasks.sqlite3`` — SqliteHuey, the embedded default
  (``sqlite:///<instance>/tasks.sqlite3``): one host, no other service to run;
- ``redis://host:port/db`` — RedisHuey, for production with several app hosts (install the
  ``redis`` extra: ``pip install '.[redis]'``);
- ``immediate`` — every task runs at once, in the process that enqueues it: the tests' default
  (and what a ``TESTING`` app gets when nothing is set).

The consumer is ``flask tasks worker`` (``scripts/serve`` starts it beside gunicorn; production
runs it under systemd): the app is built once with ``create_app()``, each task runs in an app
context of its own, and its database session is removed afterwards.

For areas
---------
An area puts its tasks in ``<area>/tasks.py`` and adds that module to ``TASK_MODULES`` in
``webapp/schedule.py``, which the app factory imports: the web processes and the consumer then
know the same tasks. Periodic tasks are defined in ``webapp/schedule.py`` itself (it may import
any area; core never does)::

    from webapp.core import tasks

    @tasks.task(retries=3, retry_delay=10)   # on an exception: again after 10 s, 20 s, 40 s
    def send_notice(notice_id: int) -> None:
        ...                                  # in an app context; commit your work, as a view does
        db.session.commit()

    # In an operation (flush, never commit): sent when, and only if, the transaction commits, so
    # a rolled-back request enqueues nothing and the task never reads rows not committed yet.
    tasks.enqueue_after_commit(send_notice, notice.id)

    @tasks.periodic(tasks.crontab(minute="5", hour="0"), once_per_day=True)  # Asia/Shanghai
    def nightly() -> None: ...

- Arguments must pickle: ids, strings, dicts — never ORM objects. The keyword ``task`` is
  reserved.
- ``writes=True`` makes the task's transactions take SQLite's write lock when they begin (like a
  POST request's): right for short tasks that read and then write. The default lets a
  transaction read without the lock, so a long read does not stop the web app's writers.
- A task that raises is retried ``retries`` times, ``retry_delay`` seconds later, the delay
  multiplied by ``backoff`` (2) each time. ``tasks.current()`` tells a running task its attempt
  and whether another will follow. A task interrupted by the consumer's shutdown is queued again.
- ``once_per_day=True`` (periodic tasks): the task claims its local day in ``scheduled_runs`` in
  its own transaction; a second run that day (another consumer, an hourly catch-up) writes
  nothing. The claim commits with the task's work, so a failed run does not count.
- ``task.enqueue(*args)`` sends now; ``task.run(*args)`` runs here, as the consumer would (the
  CLI, tests).

Background jobs that people follow with a progress bar are built on this in ``core.jobs``.
"""

import contextvars
import datetime as dt
import functools
import logging
import os
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from huey import MemoryHuey, SqliteHuey
from huey import crontab as huey_crontab
from huey import signals as huey_signals
from sqlalchemy import Date, String, UniqueConstraint, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import clock
from .db import writing
from .extensions import db
from .types import UTCDateTime

log = logging.getLogger(__name__)

QUEUE_NAME = "huiyin"
IMMEDIATE = "immediate"
EXTENSION = "huiyin_tasks"
_PENDING = "huiyin_tasks_after_commit"


# -- when periodic tasks run ----------------------------------------------------------------------


class Schedule:
    """A crontab read in a time zone (the district's unless told otherwise).

    Huey's own crontab compares the consumer's clock — UTC here — field by field: "0:05" would
    mean 08:05 in Jiawang. This one converts the instant to ``tz`` first.
    """

    def __init__(self, minute="*", hour="*", day="*", month="*", day_of_week="*",
                 tz: ZoneInfo = clock.LOCAL_TZ):
        self.fields = tuple(str(f) for f in (minute, hour, day, month, day_of_week))
        self.tz = tz
        self._match = huey_crontab(*self.fields, strict=True)

    def matches(self, instant: dt.datetime) -> bool:
        """Whether the schedule fires in the minute of ``instant`` (aware, or naive UTC as the
        consumer passes it)."""
        local = clock.as_utc(instant).astimezone(self.tz).replace(tzinfo=None)
        return self._match(local)

    def __str__(self) -> str:
        return f"{' '.join(self.fields)} ({self.tz.key})"


def crontab(minute="*", hour="*", day="*", month="*", day_of_week="*",
            tz: ZoneInfo = clock.LOCAL_TZ) -> Schedule:
    """A crontab (day of week: 0 = Sunday) in ``tz``, by default Asia/Shanghai."""
    return Schedule(minute, hour, day, month, day_of_week, tz)


class ScheduledRun(db.Model):
    """A periodic task's claim on a local day (``once_per_day``): one row per task and day."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (UniqueConstraint("task", "run_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(200))
    run_on: Mapped[dt.date] = mapped_column(Date)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


# -- tasks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """The running attempt of a task (``current()``)."""

    task: str
    id: str
    retries_left: int
    retry_delay: float  # seconds until the next attempt, should this one fail

    @property
    def last(self) -> bool:
        return self.retries_left <= 0


_current: ContextVar[Attempt | None] = ContextVar("huiyin_task_attempt", default=None)


def current() -> Attempt | None:
    """The attempt being run in this context (None outside tasks)."""
    return _current.get()


class Task:
    """A function the queue knows; ``enqueue`` sends it, a consumer runs it."""

    def __init__(self, func: Callable, *, retries: int, retry_delay: float, backoff: float,
                 writes: bool, schedule: Schedule | None = None, once_per_day: bool = False):
        self.func = func
        self.name = f"{func.__module__}.{func.__qualname__}"
        self.retries = retries
        self.retry_delay = retry_delay
        self.backoff = backoff
        self.writes = writes
        self.schedule = schedule
        self.once_per_day = once_per_day
        functools.update_wrapper(self, func)

    def enqueue(self, *args, **kwargs) -> None:
        """Send the task now (in an operation, ``enqueue_after_commit`` is nearly always right)."""
        queue().enqueue(self, args, kwargs)

    def run(self, *args, **kwargs):
        """Run the task here and now, as the consumer would (own app context and session)."""
        attempt = Attempt(self.name, "local", 0, 0)
        return _execute(current_app._get_current_object(), self, args, kwargs, attempt)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


_TASKS: dict[str, Task] = {}


def _register(task: Task) -> Task:
    if task.name in _TASKS and _TASKS[task.name].func is not task.func:
        raise ValueError(f"a task named {task.name} exists already")
    _TASKS[task.name] = task
    return task


def task(*, retries: int = 0, retry_delay: float = 0, backoff: float = 2.0, writes: bool = False):
    """Make a function a task (see the module docstring)."""
    def decorate(func: Callable) -> Task:
        return _register(Task(func, retries=retries, retry_delay=retry_delay, backoff=backoff,
                              writes=writes))
    return decorate


def periodic(schedule: Schedule, *, once_per_day: bool = False, retries: int = 0,
             retry_delay: float = 0, backoff: float = 2.0, writes: bool = True):
    """Make a function a task the consumer's scheduler starts on ``schedule``."""
    def decorate(func: Callable) -> Task:
        return _register(Task(func, retries=retries, retry_delay=retry_delay, backoff=backoff,
                              writes=writes, schedule=schedule, once_per_day=once_per_day))
    return decorate


def registered() -> list[Task]:
    """Every task known to this process, by name."""
    return [_TASKS[name] for name in sorted(_TASKS)]


def _claim_today(name: str) -> bool:
    """Claim today (local) for ``name`` in the current transaction; False if it is taken."""
    today = clock.today()
    taken = select(ScheduledRun.id).where(ScheduledRun.task == name, ScheduledRun.run_on == today)
    if db.session.scalar(taken) is not None:
        db.session.rollback()
        return False
    db.session.add(ScheduledRun(task=name, run_on=today, started_at=clock.now()))
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent run committed its claim first
        db.session.rollback()
        return False
    return True


def _execute(app: Flask, t: Task, args, kwargs, attempt: Attempt):
    # A fresh context, as a consumer's thread has: run at once inside a request (immediate mode,
    # ``run()``), the task still sees no request, no logged-in user, and its own session.
    return contextvars.Context().run(_execute_here, app, t, args, kwargs, attempt)


def _execute_here(app: Flask, t: Task, args, kwargs, attempt: Attempt):
    _current.set(attempt)
    with app.app_context(), writing(t.writes):
        try:
            if t.once_per_day and not _claim_today(t.name):
                log.info("%s already ran today; nothing to do", t.name)
                return None
            return t.func(*args, **kwargs)
        finally:
            db.session.remove()


# -- the queue of an app ------------------------------------------------------------------------


def _make_huey(url: str):
    if url == IMMEDIATE:
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteHuey(QUEUE_NAME, filename=path, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from huey import RedisHuey  # needs the ``redis`` package (the ``redis`` extra)

        return RedisHuey(QUEUE_NAME, url=url, results=False)
    raise ValueError(f"TASK_QUEUE_URL {url!r}: expected sqlite:///…, redis://… or immediate")


class Queue:
    """One app's queue: its Huey instance (made on first use) and the tasks bound to it."""

    def __init__(self, app: Flask, url: str):
        self.app = app
        self.url = url
        self._huey = None
        self._bound: dict[str, object] = {}

    @property
    def huey(self):
        if self._huey is None:
            self._huey = _make_huey(self.url)
            self._huey.signal(huey_signals.SIGNAL_INTERRUPTED)(self._requeue_interrupted)
        return self._huey

    @property
    def immediate(self) -> bool:
        return self.url == IMMEDIATE

    def _requeue_interrupted(self, _signal, htask, *_args, **_kwargs) -> None:
        # The consumer stopped before the task finished: it runs again at the next start.
        log.warning("task %s interrupted by shutdown; queued again", htask)
        self.huey.enqueue(htask)

    def bound(self, t: Task):
        """The Huey task of ``t`` on this app's queue (registered on first use)."""
        wrapper = self._bound.get(t.name)
        if wrapper is not None:
            return wrapper
        app = self.app

        def run(*args, task, **kwargs):  # ``task``: Huey's task instance (context=True)
            attempt = Attempt(t.name, task.id, task.retries or 0, task.retry_delay or 0)
            return _execute(app, t, args, kwargs, attempt)

        run.__module__ = t.func.__module__
        options = {"retries": t.retries, "retry_delay": t.retry_delay,
                   "retry_backoff": t.backoff if t.retry_delay else 0,
                   "context": True, "name": t.func.__qualname__}
        if t.schedule is not None:
            wrapper = self.huey.periodic_task(t.schedule.matches, **options)(run)
        else:
            wrapper = self.huey.task(**options)(run)
        self._bound[t.name] = wrapper
        return wrapper

    def bind_all(self) -> None:
        for t in registered():
            self.bound(t)

    def enqueue(self, t: Task, args=(), kwargs=None) -> None:
        self.bound(t)(*args, **(kwargs or {}))


def init_app(app: Flask) -> None:
    url = app.config.get("TASK_QUEUE_URL") or (
        IMMEDIATE if app.testing else "sqlite:///" + os.path.join(app.instance_path, "tasks.sqlite3"))
    app.extensions[EXTENSION] = Queue(app, url)


def queue(app: Flask | None = None) -> Queue:
    """The queue of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


# -- enqueue after commit -------------------------------------------------------------------------


def enqueue_after_commit(t: Task, *args, **kwargs) -> None:
    """Send ``t`` once the current transaction commits; nothing if it rolls back.

    Outside a transaction there is nothing to wait for: the task is sent at once. (A savepoint
    rolled back inside the transaction does not cancel: only the whole transaction's end does.)
    """
    session = db.session()
    if not session.in_transaction():
        t.enqueue(*args, **kwargs)
        return
    session.info.setdefault(_PENDING, []).append(
        (current_app._get_current_object(), t, args, kwargs))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for app, t, args, kwargs in session.info.pop(_PENDING, None) or ():
        try:
            queue(app).enqueue(t, args, kwargs)
        except Exception:  # the data is committed: report, do not fail the request
            log.exception("could not enqueue %s after commit", t.name)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:
    # The outermost transaction ended without a commit (a commit sent them already).
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)


# -- the consumer ---------------------------------------------------------------------------------


def run_worker(app: Flask, *, workers: int = 2, periodic_tasks: bool = True,
               max_delay: float = 1.0, shutdown_timeout: float = 30.0) -> None:
    """Consume the app's queue until SIGTERM (finish running tasks, at most
    ``shutdown_timeout`` s) or SIGINT (stop now; interrupted tasks are queued again)."""
    q = queue(app)
    if q.immediate:
        raise click.ClickException(
            "TASK_QUEUE_URL=immediate runs every task where it is enqueued: nothing to consume")
    q.bind_all()
    consumer = q.huey.create_consumer(
        workers=workers, worker_type="thread", periodic=periodic_tasks, max_delay=max_delay,
        graceful_signal="TERM", shutdown_timeout=shutdown_timeout)
    consumer.run()


cli = AppGroup("tasks", help="The task queue: its consumer and the tasks it knows.")


@cli.command("worker")
@click.option("--workers", type=int, default=lambda: int(os.environ.get("TASK_WORKERS", "2")),
              show_default="TASK_WORKERS or 2", help="Worker threads.")
@click.option("--periodic/--no-periodic", default=True,
              help="Also start the periodic tasks (one consumer per deployment is enough).")
def worker_command(workers: int, periodic: bool):
    """Run the queue's consumer (stop: SIGTERM waits for running tasks, Ctrl-C does not)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(threadName)s] %(name)s %(levelname)s: %(message)s")
    app = current_app._get_current_object()
    click.echo(f"task queue {queue(app).url}, {workers} worker(s), periodic tasks {'on' if periodic else 'off'}")
    run_worker(app, workers=workers, periodic_tasks=periodic)


@cli.command("list")
def list_command():
    """The tasks this app knows, with their schedule and retries."""
    for t in registered():
        when = f"  at {t.schedule}{', once a day' if t.once_per_day else ''}" if t.schedule else ""
        click.echo(f"{t.name}  retries {t.retries}{f' after {t.retry_delay:g} s' if t.retries else ''}{when}")
