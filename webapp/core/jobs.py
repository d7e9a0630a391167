"""Background jobs people follow: one row per job with its status, progress and result.

A job is a task (``core.tasks``) started on someone's behalf; the page ``/jobs/<id>`` (area
``webapp/jobs``) shows it with a progress bar: queued → running → done | failed. Its owner sees
it, the office too unless the kind says otherwise; others get 404.

For areas::

    from webapp.core import jobs

    jobs.register_kind("audit.export", _l("导出审计日志"), office_may_see=False)

    @jobs.job_task(retries=2, retry_delay=30)
    def export_audit_log(run: jobs.JobRun, filter_args: dict) -> dict:
        run.progress(0, total)                       # committed apart: the page sees it now
        for i, row in enumerate(rows, 1):
            ...
            run.progress(i, total)                   # written at most twice a second
        stored = run.save_file("审计日志.xlsx", data)  # the upload store, under jobs/
        run.on_finish(lambda: audit.record(...))     # written in the transaction marking it done
        return {"rows": total, **stored}             # the job's result (JSON)

    # the view: start, commit once, then show the job's page (post/redirect/get)
    job = jobs.start_job("audit.export", current_user, title, export_audit_log, filter_args)
    db.session.commit()
    return redirect(url_for("jobs.detail", job_id=job.id))

Operations: ``start_job`` (adds the row, audits, enqueues after commit), ``finish`` and ``fail``
flush and audit; the caller commits. ``progress`` commits in a short transaction of its own so
that the page sees it while the job runs. ``job_task`` runs a job: marks it running, calls the
function (its transactions read without SQLite's write lock until they write), commits what the
function wrote, then marks the job done in a transaction of its own together with the function's
``on_finish`` writes.

On SQLite (one writer at a time) a job should read and compute, and write at the end
(``on_finish``) or in short transactions it commits itself: while its own transaction holds the
write lock, ``progress`` is skipped rather than waited for.

When a job ends (done or failed), the listeners registered with ``on_end`` run in the
transaction that marks it so (areas above core — notifications — tell the owner; core never
imports them)::

    @jobs.on_end
    def tell_owner(job: jobs.Job) -> None: ...

Failures: ``raise JobError(_("…"))`` fails the job at once with that message (no retry). Any
other exception is retried (``retries``, back-off); meanwhile the page says a retry is coming;
after the last attempt the job fails with a general message and the traceback goes to the log.
Result files older than ``JOB_RESULT_DAYS`` are removed by ``expire_results`` (daily).
"""

import enum
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from . import audit, clock, storage, tasks
from .db import BUSY_TIMEOUT_MS, writing
from .extensions import db
from .types import UTCDateTime

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between two progress writes of a running job
LOCK_WAIT_MS = 200  # a progress write waits this long for a lock, then is skipped
RESULTS = "jobs/"  # where result files live in the upload store
FILE_NAME = re.compile(r"^\d+-[0-9a-f]{16}(\.[a-z0-9]{1,8})?$")
FAILED = "后台任务出错，已自动重试仍未成功。请稍后重新发起；若仍不成功，请联系系统管理员。"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])

    @property
    def active(self) -> bool:
        return self in (JobStatus.queued, JobStatus.running)


STATUS_LABELS = {
    JobStatus.queued: _l("排队中"),
    JobStatus.running: _l("进行中"),
    JobStatus.done: _l("已完成"),
    JobStatus.failed: _l("失败"),
}


class Job(db.Model):
    """A background job started by a user (or by the system: no user)."""

    __tablename__ = "jobs"
    audit_type = "job"
    __table_args__ = (Index("ix_jobs_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))  # stored in the district's language
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16, validate_strings=True), default=JobStatus.queued)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)  # None until the job knows
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # for the user, in Chinese
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def percent(self) -> int | None:
        if not self.total:
            return 100 if self.status == JobStatus.done else None
        return min(100, round(self.done * 100 / self.total))

    @property
    def file(self) -> str | None:
        """The stored name of the result file, if the job left one that is still kept."""
        name = (self.result or {}).get("file")
        return name if isinstance(name, str) and FILE_NAME.match(name) else None


# -- kinds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobKind:
    code: str
    label: object
    office_may_see: bool = True  # False: only the owner (the audit log's exports: 三员分立)


KINDS: dict[str, JobKind] = {}


def register_kind(code: str, label, *, office_may_see: bool = True) -> JobKind:
    """Declare a kind of job (called once by the area's tasks module)."""
    KINDS[code] = JobKind(code, label, office_may_see)
    return KINDS[code]


def kind_of(code: str) -> JobKind:
    return KINDS.get(code) or JobKind(code, code)


def kinds_private() -> list[str]:
    """Kinds only their owner may see."""
    return sorted(code for code, k in KINDS.items() if not k.office_may_see)


# -- listeners ------------------------------------------------------------------------------------

_ON_END: dict[str, Callable[[Job], object]] = {}


def on_end(listener: Callable[[Job], object]) -> Callable[[Job], object]:
    """Register ``listener(job)``, called by ``finish`` and ``fail`` after the job's row is
    written, in the same transaction (it flushes, never commits). Registering a function again
    (same module and name) replaces it."""
    _ON_END[f"{listener.__module__}.{listener.__qualname__}"] = listener
    return listener


def _ended(job: Job) -> None:
    for listener in list(_ON_END.values()):
        listener(job)


# -- operations -----------------------------------------------------------------------------------


def start_job(kind: str, user, title: str, task: tasks.Task, *args) -> Job:
    """Add a queued job for ``user`` and send ``task(job.id, *args)`` once the transaction
    commits (nothing if it rolls back). Audited; flushes."""
    job = Job(kind=kind, title=title[:200], user_id=getattr(user, "id", None),
              status=JobStatus.queued, created_at=clock.now())
    db.session.add(job)
    db.session.flush()
    audit.record("job.started", obj=job, user=user, detail={"kind": kind, "title": job.title})
    tasks.enqueue_after_commit(task, job.id, *args)
    return job


def _apart(stmt, *, wait: bool = True) -> int | None:
    """Run ``stmt`` and commit it in a short transaction of its own; the number of rows changed.

    ``wait=False``: give up (None) when a lock is not had within ``LOCK_WAIT_MS``."""
    with writing(wait), db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        try:
            if not wait:
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
                else:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
            count = conn.execute(stmt).rowcount
            conn.commit()
            return count
        except OperationalError:
            if wait:
                raise
            conn.rollback()
            log.info("progress of a job skipped: its row or the database is locked")
            return None
        finally:
            if not wait and sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                conn.commit()


def progress(job_id: int, done: int, total: int | None = None) -> bool:
    """Record how far a running job is, committed at once in a transaction of its own (the page
    polling the job sees it). False when skipped (the job is not running, or a lock is held)."""
    values = {"done": max(0, int(done)), "version": Job.version + 1}
    if total is not None:
        values["total"] = max(0, int(total))
    stmt = update(Job).where(Job.id == job_id, Job.status == JobStatus.running).values(**values)
    return bool(_apart(stmt, wait=False))


def _fresh(job_id: int) -> Job:
    return db.session.get(Job, job_id, populate_existing=True, with_for_update=True)


def finish(job_id: int, result: dict | None = None) -> Job:
    """Mark the job done with its ``result`` (JSON). Audited; flushes."""
    job = _fresh(job_id)
    job.status = JobStatus.done
    if job.total is not None:
        job.done = job.total
    job.result = result
    job.error = None
    job.finished_at = clock.now()
    db.session.flush()
    audit.record("job.finished", obj=job, user=None, detail={"kind": job.kind, "result": result})
    _ended(job)
    return job


def fail(job_id: int, message: str) -> Job:
    """Mark the job failed with ``message`` for its owner (Chinese). Audited; flushes."""
    job = _fresh(job_id)
    job.status = JobStatus.failed
    job.error = str(message)
    job.finished_at = clock.now()
    db.session.flush()
    audit.record("job.failed", obj=job, user=None, result="failure",
                 detail={"kind": job.kind, "error": job.error, "attempts": job.attempts})
    _ended(job)
    return job


def expire_results(days: int | None = None) -> int:
    """Delete result files of jobs finished more than ``days`` (``JOB_RESULT_DAYS``) ago, and
    files no job points at any more; audited. Returns the number of jobs changed; flushes."""
    days = current_app.config["JOB_RESULT_DAYS"] if days is None else days
    cutoff = clock.now() - timedelta(days=days)
    store = storage.current()
    changed = []
    for job in db.session.scalars(select(Job).where(Job.status == JobStatus.done, Job.finished_at < cutoff)):
        if job.file is None:
            continue
        store.delete(RESULTS + job.file)
        job.result = {k: v for k, v in (job.result or {}).items() if k != "file"} | {"expired": True}
        changed.append(job.id)
    db.session.flush()
    # Files of jobs that failed after saving them, or whose job is gone: by the job's id in the name.
    for name in list(store.names(RESULTS)):
        match = re.match(r"(\d+)-", name.removeprefix(RESULTS))
        job = db.session.get(Job, int(match.group(1))) if match else None
        if job is None or (job.file != name.removeprefix(RESULTS) and job.finished_at is not None
                           and job.finished_at < cutoff):
            store.delete(name)
    if changed:
        audit.record("job.results_expired", object_type=Job.audit_type, user=None,
                     detail={"jobs": changed, "days": days})
    return len(changed)


def result_name(job: Job) -> str | None:
    """The job's result file in the upload store (:mod:`.storage`), if it still exists."""
    if job.status != JobStatus.done or job.file is None or not FILE_NAME.match(job.file):
        return None
    name = RESULTS + job.file
    return name if storage.current().exists(name) else None


def read_result(job: Job) -> bytes | None:
    """The job's result file's bytes, or None when there is none (any more)."""
    name = result_name(job)
    if name is None:
        return None
    try:
        return storage.current().get(name)
    except FileNotFoundError:
        return None


# -- running a job --------------------------------------------------------------------------------


class JobError(Exception):
    """Fail the running job with ``message`` for its owner (Chinese), without retrying."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = str(message)


@dataclass
class JobRun:
    """What a job function gets: the job's identity, progress, files and final writes."""

    job_id: int
    kind: str
    user_id: int | None
    attempt: int
    _written_at: float = field(default=0.0, repr=False)
    _total: int | None = field(default=None, repr=False)
    _finally: list[Callable[[], object]] = field(default_factory=list, repr=False)

    def progress(self, done: int, total: int | None = None) -> bool:
        """Report progress; written at once when the total changes or the job is complete,
        otherwise at most every ``PROGRESS_EVERY`` seconds. True when written."""
        now = time.monotonic()
        total = self._total if total is None else total
        changed = total != self._total
        self._total = total
        if not changed and (total is None or done < total) and now - self._written_at < PROGRESS_EVERY:
            return False
        self._written_at = now
        return progress(self.job_id, done, total)

    def save_file(self, filename: str, data: bytes) -> dict:
        """Keep ``data`` as the job's result file, in the upload store under ``jobs/`` (any app
        host serves it; 0600 in the local folder); returns what the result should
        say about it: ``{"file": stored name, "filename": the download's name, "size": …}``."""
        suffix = Path(filename).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""
        stored = f"{self.job_id}-{secrets.token_hex(8)}{suffix}"
        storage.current().put(RESULTS + stored, data)
        return {"file": stored, "filename": filename, "size": len(data)}

    def on_finish(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` (it writes: an audit entry…) in the transaction marking the job done."""
        self._finally.append(callback)


def _begin(job_id: int) -> JobRun | None:
    """Mark the job running (committed); None when there is nothing to run (gone, or finished
    already: a task delivered twice)."""
    with writing():
        job = _fresh(job_id)
        if job is None or not job.status.active:
            db.session.rollback()
            return None
        job.status = JobStatus.running
        job.started_at = job.started_at or clock.now()
        job.attempts += 1
        job.error = None
        run = JobRun(job.id, job.kind, job.user_id, job.attempts)
        db.session.commit()
    return run


def _retry_later(job_id: int, attempt: tasks.Attempt) -> None:
    with writing():
        job = _fresh(job_id)
        job.status = JobStatus.queued
        job.error = f"第 {job.attempts} 次执行出错，约 {round(attempt.retry_delay)} 秒后自动重试。"
        db.session.commit()


def _failed(job_id: int, message: str) -> None:
    with writing():
        fail(job_id, message)
        db.session.commit()


def job_task(*, retries: int = 2, retry_delay: float = 30, backoff: float = 2.0):
    """Make ``fn(run: JobRun, *args) -> result`` a task that runs a job (see the module doc);
    start it with ``start_job(kind, user, title, the_task, *args)``."""
    def decorate(fn: Callable) -> tasks.Task:
        @wraps(fn)
        def run_job(job_id: int, *args, **kwargs):
            run = _begin(job_id)
            if run is None:
                return None
            try:
                result = fn(run, *args, **kwargs)
                db.session.commit()  # what the job wrote as it went
                with writing():
                    for callback in run._finally:
                        callback()
                    finish(job_id, result)
                    db.session.commit()
                return None
            except JobError as exc:
                db.session.rollback()
                _failed(job_id, exc.message)
                return None
            except Exception:
                db.session.rollback()
                attempt = tasks.current()
                if attempt is not None and not attempt.last:
                    _retry_later(job_id, attempt)
                    raise  # the queue runs it again after the delay (and logs the error)
                log.exception("job %s (%s) failed for good", job_id, fn.__qualname__)
                _failed(job_id, FAILED)
                return None

        return tasks.task(retries=retries, retry_delay=retry_delay, backoff=backoff)(run_job)
    return decorate
