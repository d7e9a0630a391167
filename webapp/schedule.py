"""What the task queue knows: every area's tasks module, and the scheduled work.

The app factory imports this module, so the web processes (which enqueue) and the consumer
(``flask tasks worker``, which runs) know the same tasks. An area with tasks adds its
``<area>/tasks.py`` to the imports below; periodic tasks live here (this module may import any
area; ``core`` never does).

Daily, in the district's time (Asia/Shanghai), each once per local day (``once_per_day``):

- from 00:05 the supervision sweep (催办 and 通报), as ``flask supervision sweep`` does;
- from 00:15 the integrity scan, as ``flask integrity scan`` does;
- from 00:35 the removal of job result files older than ``JOB_RESULT_DAYS``;
- from 00:45 the audit chain's anchor (its head written outside the database), as
  ``flask audit anchor`` does;
- from 08:20 the time-limit sweep (reminders near a limit, who is late, escalation:
  ``supervision.limits``), once per day (each person is told once per limit anyway).

Every minute: held notifications (quiet hours, rate limits) whose time has come are sent.

Each is offered again at the same minute of every later hour of the day, so a consumer that was
down at 00:05 catches up within the hour; once the day's run has committed, the later ones write
nothing. A failed run is retried twice (1 and 2 minutes later) and does not count as the day's.
The CLI commands stay for catching up on another date and for cron-less checks.
"""

from .api import tasks as _api_tasks  # noqa: F401 - webhook deliveries to API callers
from .audit import tasks as _audit_tasks  # noqa: F401 - the audit log's export job
from .core import jobs, tasks
from .core.extensions import db
from .notifications import job_events as _job_events  # noqa: F401 - a job's owner is told when it ends
from .notifications import tasks as notification_tasks

SWEEP_AT = tasks.crontab(minute="5")
SCAN_AT = tasks.crontab(minute="15")
EXPIRE_AT = tasks.crontab(minute="35")
ANCHOR_AT = tasks.crontab(minute="45")
LIMITS_AT = tasks.crontab(minute="20", hour="8-23")
HELD_AT = tasks.crontab()


@tasks.periodic(SWEEP_AT, once_per_day=True, retries=2, retry_delay=60)
def daily_supervision_sweep() -> None:
    """督查督办: today's 催办 and 通报 (idempotent per deadline; audited)."""
    from .supervision import sweep

    sweep.run(source="schedule")
    db.session.commit()


@tasks.periodic(SCAN_AT, once_per_day=True, retries=2, retry_delay=60)
def daily_integrity_scan() -> None:
    """诚信核查: the flags today's data shows (each raised once; audited)."""
    from .integrity.scan import scan

    scan(source="schedule")
    db.session.commit()


@tasks.periodic(EXPIRE_AT, once_per_day=True, retries=2, retry_delay=60)
def daily_job_results_expiry() -> None:
    """Remove background jobs' result files past their keeping time."""
    jobs.expire_results()
    db.session.commit()


@tasks.periodic(ANCHOR_AT, once_per_day=True, retries=2, retry_delay=60)
def daily_audit_anchor() -> None:
    """The audit chain's head, written to the anchor file outside the database (audited)."""
    from .core import anchors

    anchors.write_anchor("schedule")
    db.session.commit()


@tasks.periodic(LIMITS_AT, once_per_day=True, retries=2, retry_delay=60)
def daily_time_limits() -> None:
    """Time limits: remind, tell who is late, escalate (once per person and limit; audited)."""
    from .supervision import limits

    limits.run(source="schedule")
    db.session.commit()


@tasks.periodic(HELD_AT, retries=0)
def send_held_notifications() -> None:
    """Held SMS and rate-limited deliveries go out when their time comes."""
    notification_tasks.release_held()
