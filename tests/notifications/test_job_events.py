"""A background job's owner is told when it ends (the job-end listeners of ``core.jobs``): done
with a link to the job's page, failed with its message; once per job and outcome."""

from sqlalchemy import select

from webapp.accounts.models import User
from webapp.core import clock, jobs
from webapp.core.extensions import db
from webapp.notifications.models import Notification


def _uid(username):
    return db.session.scalar(select(User.id).where(User.username == username))


def _told(kind="job_done"):
    return db.session.execute(select(Notification.user_id, Notification.title, Notification.body,
                                     Notification.target_type, Notification.target_id)
                              .where(Notification.kind == kind).order_by(Notification.id)).all()


def test_a_finished_export_tells_its_owner_and_links_to_the_job(app, login_as):
    b = login_as("auditor")
    b.get("/audit/")
    resp = b.post("/audit/export", {})  # the immediate queue runs the job at the commit
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert db.session.get(jobs.Job, job_id).status == jobs.JobStatus.done
    [row] = _told()
    assert row.user_id == _uid("auditor") and (row.target_type, row.target_id) == ("job", job_id)
    assert row.title == "后台任务完成：导出审计日志" and row.body == "导出审计日志"
    inbox = b.get("/notifications").get_data(as_text=True)
    assert "后台任务完成：导出审计日志" in inbox
    opened = b.client.get(f"/notifications/{_notification_id(job_id)}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/jobs/{job_id}")


def _notification_id(job_id):
    return db.session.scalar(select(Notification.id).where(
        Notification.target_type == "job", Notification.target_id == job_id))


def test_a_failed_job_tells_the_owner_its_message_and_a_system_job_tells_nobody(app):
    owner = _uid("town")
    job = jobs.Job(kind="visits.import.households", title="导入包户名册：名册.xlsx", user_id=owner,
                   status=jobs.JobStatus.running, created_at=clock.now())
    system = jobs.Job(kind="sample", title="系统任务", user_id=None, status=jobs.JobStatus.running,
                      created_at=clock.now())
    db.session.add_all([job, system])
    db.session.commit()
    jobs.fail(job.id, "第 3 行：户主姓名不能为空。")
    jobs.finish(system.id, {})
    db.session.commit()
    [row] = _told()
    assert row.user_id == owner and row.title == "后台任务失败：导入包户名册：名册.xlsx"
    assert row.body == "第 3 行：户主姓名不能为空。" and row.target_id == job.id
    # Marked again (a task delivered twice): still one.
    jobs.fail(job.id, "第 3 行：户主姓名不能为空。")
    db.session.commit()
    assert len(_told()) == 1


def test_the_listener_runs_in_the_transaction_marking_the_job(app):
    seen = []

    @jobs.on_end
    def record_it(job):
        seen.append((job.id, job.status))

    try:
        job = jobs.Job(kind="sample", title="样例", user_id=_uid("office"), status=jobs.JobStatus.running,
                       created_at=clock.now())
        db.session.add(job)
        db.session.commit()
        jobs.finish(job.id, {"rows": 1})
        db.session.rollback()  # rolled back: the notification goes with the job's mark
        assert seen == [(job.id, jobs.JobStatus.done)]
        assert _told() == []
    finally:
        jobs._ON_END.pop(f"{record_it.__module__}.{record_it.__qualname__}")


