"""Telling a background job's owner that it ended: an import read in, an export ready, or a
failure with its message. ``core.jobs`` calls the listener in the transaction that marks the job
done or failed (core cannot import this area; it keeps a registry instead)."""

from ..core import jobs
from .emit import notify


@jobs.on_end
def tell_owner(job: jobs.Job) -> None:
    """One inbox row (and the owner's channels for ``job_done``) per job and outcome."""
    if job.user_id is None:
        return
    failed = job.status == jobs.JobStatus.failed
    title = f"{'后台任务失败' if failed else '后台任务完成'}：{job.title}"
    body = (job.error or "") if failed else str(jobs.kind_of(job.kind).label)
    notify([job.user_id], "job_done", title, body, target=("job", job.id),
           dedupe=f"job:{job.id}:{job.status.value}")
