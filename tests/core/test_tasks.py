"""The task queue (core.tasks) and the background jobs built on it (core.jobs).

Most tests use the immediate queue (a task runs when it is enqueued) or a real SqliteHuey file
whose tasks the test runs itself; one starts the real consumer (``flask tasks worker``) in a
subprocess against the test's database and a queue file, and waits for it to finish a job that
a request started.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import Flask, has_request_context
from flask_login import current_user
from huey import RedisHuey, SqliteHuey
from huey.utils import utcnow
from sqlalchemy import select, text

from tests.queue import run_scheduled, use_sqlite_queue, wait_for
from webapp.accounts.models import User
from webapp.core import clock, jobs, storage, tasks
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.core.jobs import Job, JobStatus

ROOT = Path(__file__).resolve().parents[2]
SEEN: list = []  # what the test tasks below saw


@tasks.task()
def note(value):
    """Remember ``value`` and what the task's world looked like."""
    SEEN.append({"value": value, "request": has_request_context(), "session": id(db.session()),
                 "user": current_user.is_authenticated if has_request_context() else None})


@jobs.job_task(retries=0)
def count_to(run: jobs.JobRun, n: int) -> dict:
    """Count to ``n``, reporting each step; note what another connection sees meanwhile."""
    with db.engine.connect() as conn:  # what the job's page would read, outside the job's session
        SEEN.append(("start", conn.execute(text("SELECT status, done FROM jobs WHERE id = :id"),
                                           {"id": run.job_id}).one()))
    for i in range(n + 1):
        run.progress(i, n)
        with db.engine.connect() as conn:
            SEEN.append(("step", conn.execute(text("SELECT status, done, total FROM jobs WHERE id = :id"),
                                              {"id": run.job_id}).one()))
    return {"counted": n}


@jobs.job_task(retries=2, retry_delay=5)
def flaky(run: jobs.JobRun, failures: int) -> dict:
    """Fail the first ``failures`` attempts."""
    SEEN.append(run.attempt)
    if run.attempt <= failures:
        raise RuntimeError("the database went away")
    return {"attempt": run.attempt}


@jobs.job_task(retries=2, retry_delay=5)
def refuses(run: jobs.JobRun) -> dict:
    SEEN.append(run.attempt)
    raise jobs.JobError("筛选条件有误，无法导出。")


@pytest.fixture(autouse=True)
def _clean():
    SEEN.clear()
    yield
    SEEN.clear()


def user(username) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def job_now(job_id) -> Job:
    db.session.rollback()
    return db.session.get(Job, job_id, populate_existing=True)


def audits(event) -> list[AuditEvent]:
    db.session.rollback()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)).all()


# -- configuration --------------------------------------------------------------------------------


def test_queue_url_chooses_the_backend(tmp_path):
    bare = Flask("bare", instance_path=str(tmp_path))
    tasks.init_app(bare)
    assert tasks.queue(bare).url == "sqlite:///" + str(tmp_path / "tasks.sqlite3")
    assert isinstance(tasks.queue(bare).huey, SqliteHuey)
    assert tasks.queue(bare).huey.storage.filename == str(tmp_path / "tasks.sqlite3")

    bare.testing = True
    tasks.init_app(bare)
    assert tasks.queue(bare).immediate and tasks.queue(bare).huey.immediate

    bare.config["TASK_QUEUE_URL"] = "redis://127.0.0.1:6379/3"
    tasks.init_app(bare)
    huey = tasks.queue(bare).huey
    assert isinstance(huey, RedisHuey)
    assert huey.storage.pool.connection_kwargs["db"] == 3  # no connection made yet

    with pytest.raises(ValueError, match="TASK_QUEUE_URL"):
        tasks._make_huey("amqp://elsewhere")


def test_crontab_reads_the_district_time():
    at_0005 = tasks.crontab(minute="5", hour="0")
    # 00:05 in Jiawang is 16:05 UTC the day before.
    assert at_0005.matches(dt.datetime(2026, 3, 1, 16, 5))  # naive UTC, as the consumer passes it
    assert at_0005.matches(dt.datetime(2026, 3, 2, 0, 5, tzinfo=clock.LOCAL_TZ))
    assert not at_0005.matches(dt.datetime(2026, 3, 2, 0, 5))  # 08:05 in Jiawang
    assert not at_0005.matches(dt.datetime(2026, 3, 1, 16, 4))
    assert str(at_0005) == "5 0 * * * (Asia/Shanghai)"
    with pytest.raises(ValueError):
        tasks.crontab(minute="61")


def test_the_worker_refuses_an_immediate_queue(app, runner_factory):
    result = runner_factory().invoke(args=["tasks", "worker"])
    assert result.exit_code != 0
    assert "nothing to consume" in result.output


def test_tasks_list_names_every_task_and_schedule(app, runner_factory):
    out = runner_factory().invoke(args=["tasks", "list"]).output
    assert "webapp.audit.tasks.export_audit_log  retries 2 after 30 s" in out
    assert "webapp.schedule.daily_supervision_sweep  retries 2 after 60 s  at 5 * * * * (Asia/Shanghai), once a day" in out


# -- running tasks --------------------------------------------------------------------------------


def test_a_task_enqueued_in_a_request_runs_apart_from_it(app):
    """Run at once (immediate), the task still sees no request, no user, and its own session."""
    with app.test_request_context("/jobs", method="POST"):
        own_session = id(db.session())
        note.enqueue("x")
    assert SEEN == [{"value": "x", "request": False, "session": SEEN[0]["session"], "user": None}]
    assert SEEN[0]["session"] != own_session


def test_enqueue_after_commit_sends_nothing_when_the_transaction_rolls_back(app, tmp_path):
    q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
    db.session.execute(select(User.id).limit(1))  # a transaction is open
    tasks.enqueue_after_commit(note, "rolled back")
    assert q.huey.pending_count() == 0  # nothing before the commit
    db.session.rollback()
    assert q.huey.pending_count() == 0

    db.session.execute(select(User.id).limit(1))
    tasks.enqueue_after_commit(note, "committed")
    db.session.commit()
    assert q.huey.pending_count() == 1
    db.session.commit()  # a later commit does not send it again
    assert q.huey.pending_count() == 1
    [pending] = q.huey.pending()
    assert pending.args == ("committed",)

    # A session that is closed with the transaction open (a request that failed) sends nothing.
    db.session.execute(select(User.id).limit(1))
    tasks.enqueue_after_commit(note, "closed")
    db.session.close()
    db.session.commit()
    assert q.huey.pending_count() == 1


def test_enqueue_after_commit_in_immediate_mode(app):
    db.session.execute(select(User.id).limit(1))
    tasks.enqueue_after_commit(note, 1)
    db.session.rollback()
    db.session.execute(select(User.id).limit(1))
    tasks.enqueue_after_commit(note, 2)
    assert SEEN == []
    db.session.commit()
    assert [s["value"] for s in SEEN] == [2]


# -- jobs -----------------------------------------------------------------------------------------


def test_a_job_goes_queued_running_done_with_progress_and_result(app, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 0)  # write every step, to watch each one
    q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
    job = jobs.start_job("sample", user("office"), "数一数", count_to, 3)
    db.session.commit()
    job = job_now(job.id)
    assert (job.status, job.done, job.total, job.started_at) == (JobStatus.queued, 0, None, None)
    assert q.huey.pending_count() == 1

    q.huey.execute(q.huey.dequeue())  # what a consumer does

    # From another connection, while the job ran: running from the start, every step committed.
    assert SEEN[0] == ("start", ("running", 0))
    assert [s[1] for s in SEEN[1:]] == [("running", i, 3) for i in range(4)]
    job = job_now(job.id)
    assert job.status == JobStatus.done and (job.done, job.total) == (3, 3)
    assert job.result == {"counted": 3} and job.error is None and job.attempts == 1
    assert job.created_at <= job.started_at <= job.finished_at
    [started] = audits("job.started")
    assert started.username == "office" and started.object_id == str(job.id)
    [finished] = audits("job.finished")
    assert finished.user_id is None and finished.object_id == str(job.id)

    # A task delivered twice does not run a finished job again.
    SEEN.clear()
    count_to.run(job.id, 3)
    assert SEEN == [] and job_now(job.id).attempts == 1


def test_progress_is_throttled_but_the_last_step_always_written(app, monkeypatch):
    written = []
    monkeypatch.setattr(jobs, "progress", lambda job_id, done, total=None: written.append((done, total)) or True)
    run = jobs.JobRun(job_id=1, kind="sample", user_id=None, attempt=1)
    for i in range(1000):
        run.progress(i, 1000)
    run.progress(1000)
    assert written[0] == (0, 1000) and written[-1] == (1000, 1000)
    assert len(written) <= 4  # the loop takes well under a second


def test_a_failing_job_is_retried_with_back_off_then_fails(app):
    q = tasks.queue(app)
    job = jobs.start_job("sample", user("office"), "不稳定", flaky, 99)
    db.session.commit()  # the first attempt runs now (immediate) and fails
    assert SEEN == [1]
    job = job_now(job.id)
    assert job.status == JobStatus.queued and job.error == "第 1 次执行出错，约 5 秒后自动重试。"
    [retry] = q.huey.scheduled()
    assert 4 <= (retry.eta - utcnow()).total_seconds() <= 5

    assert run_scheduled(q) == 1
    assert SEEN == [1, 2]
    assert job_now(job.id).error == "第 2 次执行出错，约 10 秒后自动重试。"  # back-off: twice as long
    [retry] = q.huey.scheduled()
    assert 9 <= (retry.eta - utcnow()).total_seconds() <= 10

    assert run_scheduled(q) == 1
    assert SEEN == [1, 2, 3]
    job = job_now(job.id)
    assert job.status == JobStatus.failed and job.attempts == 3
    assert job.error == jobs.FAILED and "重试" in job.error
    assert run_scheduled(q) == 0  # nothing more
    [failed] = audits("job.failed")
    assert failed.result == "failure" and failed.object_id == str(job.id)


def test_a_job_failing_once_then_succeeding_is_done(app):
    job = jobs.start_job("sample", user("office"), "重试后成功", flaky, 1)
    db.session.commit()
    run_scheduled(tasks.queue(app))
    job = job_now(job.id)
    assert SEEN == [1, 2]
    assert job.status == JobStatus.done and job.result == {"attempt": 2} and job.error is None


def test_a_job_error_fails_at_once_with_its_message(app):
    job = jobs.start_job("sample", user("office"), "拒绝", refuses)
    db.session.commit()
    job = job_now(job.id)
    assert SEEN == [1]
    assert job.status == JobStatus.failed and job.error == "筛选条件有误，无法导出。"
    assert tasks.queue(app).huey.scheduled() == []


def test_progress_is_skipped_not_waited_for_while_the_row_is_locked(app):
    job = Job(kind="sample", title="锁", status=JobStatus.running, created_at=clock.now())
    db.session.add(job)
    db.session.commit()
    with db.engine.connect() as other:  # another writer: the job's row (PostgreSQL), the database (SQLite)
        other.execute(text("UPDATE jobs SET title = title WHERE id = :id"), {"id": job.id})
        started = time.monotonic()
        assert jobs.progress(job.id, 5, 10) is False
        assert time.monotonic() - started < 5
        other.rollback()
    assert jobs.progress(job.id, 5, 10) is True
    assert (job_now(job.id).done, job_now(job.id).total) == (5, 10)


def test_result_files_are_private_and_expire(app, store_backend):
    job = jobs.start_job("sample", None, "文件", count_to, 0)
    db.session.commit()
    run = jobs.JobRun(job.id, "sample", None, 1)
    stored = run.save_file("结果.xlsx", b"data")
    assert stored["filename"] == "结果.xlsx" and stored["file"].endswith(".xlsx")
    name = "jobs/" + stored["file"]
    assert storage.current().get(name) == b"data"
    if store_backend == "local":
        path = Path(app.config["UPLOAD_DIR"]) / name
        assert (path.stat().st_mode & 0o777) == 0o600
    orphan = jobs.JobRun(job.id, "sample", None, 2).save_file("废弃.xlsx", b"old")["file"]
    job = job_now(job.id)
    job.result = {**stored, "summary": "好"}
    db.session.commit()
    assert jobs.result_name(job_now(job.id)) == name
    assert jobs.read_result(job_now(job.id)) == b"data"

    assert jobs.expire_results() == 0  # finished just now: kept
    assert storage.current().exists("jobs/" + orphan)
    job = job_now(job.id)
    job.finished_at = clock.now() - dt.timedelta(days=app.config["JOB_RESULT_DAYS"] + 1)
    db.session.commit()
    assert jobs.expire_results() == 1
    db.session.commit()
    job = job_now(job.id)
    assert list(storage.current().names("jobs/")) == []  # the result and the earlier attempt's file
    assert jobs.result_name(job) is None and jobs.read_result(job) is None
    assert job.result == {"filename": "结果.xlsx", "size": 4, "summary": "好", "expired": True}
    assert audits("job.results_expired")[0].detail.startswith('{"days": 7')


# -- a real consumer ------------------------------------------------------------------------------


def test_a_real_consumer_runs_a_job_started_from_a_request(app, database_url, tmp_path, login_as):
    """``flask tasks worker`` in a subprocess, on the test's database and a queue file: the
    auditor's export, started from the page, is queued, then done, and its file downloads."""
    queue_file = tmp_path / "queue.sqlite3"
    q = use_sqlite_queue(app, queue_file)
    b = login_as("auditor")
    b.get("/audit/")
    resp = b.post("/audit/export", {})
    assert resp.status_code == 302
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert job_now(job_id).status == JobStatus.queued and q.huey.pending_count() == 1
    assert 'hx-trigger="every 2s"' in b.get(f"/jobs/{job_id}").get_data(as_text=True)

    log = tmp_path / "worker.log"
    env = {**os.environ, "FLASK_APP": "webapp", "DATABASE_URL": database_url,
           "TASK_QUEUE_URL": f"sqlite:///{queue_file}", "HUIYIN_INSTANCE": str(tmp_path / "instance"),
           "UPLOAD_DIR": app.config["UPLOAD_DIR"], "SECRET_KEY": "test-secret", "TASK_WORKERS": "1",
           # Every process of a deployment holds the same keys (personal data, the audit chain).
           **{k: app.config[k] for k in ("PII_KEYS", "PII_INDEX_KEY", "AUDIT_HMAC_KEY")}}
    env.pop("HUIYIN_TEST_DATABASE_URL", None)
    with open(log, "w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "tasks", "worker"],  # noqa: S603
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        job = wait_for(lambda: (j := job_now(job_id)).status in (JobStatus.done, JobStatus.failed) and j,
                       timeout=60, every=0.2)
    except AssertionError:
        raise AssertionError(log.read_text()[-3000:]) from None  # the worker's own account
    finally:
        worker.send_signal(signal.SIGTERM)  # graceful: running tasks finish first
        code = worker.wait(timeout=40)
    output = log.read_text()
    assert job.status == JobStatus.done, output
    assert code == 0 and "Consumer exiting" in output, output
    assert job.result["rows"] > 0 and job.done == job.total == job.result["rows"]
    page = b.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "hx-trigger" not in page and f"已完成 {job.total} / {job.total}" in page
    download = b.client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"  # a workbook (zip)
    download.close()
    [exported] = audits("audit.exported")
    assert exported.username == "auditor"
