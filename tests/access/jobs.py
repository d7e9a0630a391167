"""Background jobs' pages: any logged-in user reaches them (the gate), but a job exists only for
its owner and, unless its kind is kept for the owner, the office — anyone else gets 404.

The objects: the auditor's audit-log export (done, with its file: the office may not see it,
三员分立) and a job of ``town`` of a kind open to the office (done, with a file)."""

from webapp.core.extensions import db

from . import EVERYONE, Rule
from .objects import LAZY, _user


def _auditor_export():
    from webapp.audit import tasks
    from webapp.core import jobs

    job = jobs.start_job(tasks.KIND, _user("auditor"), "导出审计日志", tasks.export_audit_log, {})
    db.session.commit()  # the export runs now (immediate queue) and leaves its file
    return job


def _town_job():
    from webapp.core import clock, jobs

    job = jobs.Job(kind="sample", title="导入走访记录", user_id=_user("town").id,
                   status=jobs.JobStatus.done, done=3, total=3, created_at=clock.now(),
                   finished_at=clock.now())
    db.session.add(job)
    db.session.flush()
    job.result = jobs.JobRun(job.id, job.kind, job.user_id, 1).save_file("结果.txt", "已导入 3 条".encode())
    db.session.commit()
    return job


LAZY.update({"auditor_job": _auditor_export, "town_job": _town_job})

AUDITOR = {"auditor"}
TOWN_AND_OFFICE = {"town", "office"}

RULES = [
    Rule("jobs.index", "/jobs", EVERYONE),
    Rule("jobs.index", "/jobs?scope=all", EVERYONE, note="all (the office's)"),
    Rule("jobs.detail", lambda o: f"/jobs/{o.auditor_job.id}", AUDITOR, deny=404, note="auditor's export"),
    Rule("jobs.detail", lambda o: f"/jobs/{o.town_job.id}", TOWN_AND_OFFICE, deny=404, note="town's job"),
    Rule("jobs.detail", lambda o: f"/jobs/{o.town_job.id}", TOWN_AND_OFFICE, deny=404, note="status block",
         headers={"HX-Request": "true"}),
    Rule("jobs.detail", "/jobs/999999", set(), deny=404, note="no such job"),
    Rule("jobs.download", lambda o: f"/jobs/{o.auditor_job.id}/download", AUDITOR, deny=404,
         note="auditor's export"),
    Rule("jobs.download", lambda o: f"/jobs/{o.town_job.id}/download", TOWN_AND_OFFICE, deny=404,
         note="town's job"),
]
