"""The scheduled work (webapp/schedule.py): the daily sweep, scan and expiry run on the queue's
scheduler at the intended minutes of the district's day, once per local day: run twice, the
second run writes nothing."""

from datetime import UTC, date, datetime

import time_machine
from sqlalchemy import func, select

from tests.handling import factories as hf
from tests.queue import use_sqlite_queue
from webapp import schedule
from webapp.cases.models import ProblemEvent
from webapp.core import clock, tasks
from webapp.core.audit import AuditEvent
from webapp.core.extensions import db
from webapp.core.tasks import ScheduledRun
from webapp.integrity.models import Flag

DAILY = [schedule.daily_supervision_sweep, schedule.daily_integrity_scan, schedule.daily_job_results_expiry,
         schedule.daily_audit_anchor, schedule.daily_time_limits]
HELD = "webapp.schedule.send_held_notifications"


def local(y, m, d, hh, mm) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=clock.LOCAL_TZ)


def at(when: datetime):
    return time_machine.travel(when, tick=False)


def snapshot() -> dict[str, int]:
    """Rows in every table."""
    db.session.rollback()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_daily_tasks_start_at_their_minute_of_the_district_day(app, tmp_path):
    for t in DAILY:
        assert t in tasks.registered() and t.once_per_day and t.retries == 2
    q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
    q.bind_all()

    def every(when: datetime) -> list[str]:
        """What the consumer's scheduler enqueues in that minute (it passes naive UTC)."""
        naive_utc = when.astimezone(UTC).replace(tzinfo=None)
        return sorted(q.huey._registry.task_to_string(type(t)) for t in q.huey.read_periodic(naive_utc))

    def starting(when: datetime) -> list[str]:
        """The same, less the minutely release of held notifications."""
        return [name for name in every(when) if name != HELD]

    assert starting(local(2026, 3, 2, 0, 5)) == ["webapp.schedule.daily_supervision_sweep"]
    assert starting(local(2026, 3, 2, 0, 15)) == ["webapp.schedule.daily_integrity_scan"]
    assert starting(local(2026, 3, 2, 0, 35)) == ["webapp.schedule.daily_job_results_expiry"]
    assert starting(local(2026, 3, 2, 0, 45)) == ["webapp.schedule.daily_audit_anchor"]
    assert starting(local(2026, 3, 2, 0, 6)) == []
    assert every(local(2026, 3, 2, 0, 6)) == [HELD]  # held SMS go out as soon as they may
    # The time-limit sweep from 08:20 (reminders arrive in office hours), hourly catch-up until 23:20.
    assert starting(local(2026, 3, 2, 8, 20)) == ["webapp.schedule.daily_time_limits"]
    assert starting(local(2026, 3, 2, 7, 20)) == []
    # Offered again each hour (a consumer down at 00:05 catches up); once a day is the claim's job.
    assert starting(local(2026, 3, 2, 9, 5)) == ["webapp.schedule.daily_supervision_sweep"]
    # 00:05 UTC is 08:05 in Jiawang: the sweep's chance of that hour, not a second schedule.
    assert starting(datetime(2026, 3, 2, 0, 5, tzinfo=UTC)) == starting(local(2026, 3, 2, 8, 5))


def overdue_problem():
    """A problem being handled whose deadline was Friday 20 March 2026."""
    with at(local(2026, 3, 2, 10, 0)):
        p = hf.in_progress()
    p.deadline = date(2026, 3, 20)
    db.session.commit()
    return p


def test_the_sweep_task_twice_in_a_minute_writes_nothing_the_second_time(app):
    p = overdue_problem()
    with at(local(2026, 3, 24, 0, 5)):  # Tuesday: two working days overdue, 催办 due
        schedule.daily_supervision_sweep.enqueue()  # through the queue (immediate here)
        assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "remind") == 1
        assert count(ScheduledRun, ScheduledRun.run_on == date(2026, 3, 24)) == 1
        [run] = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "supervision.sweep")).all()
        assert '"source": "schedule"' in run.detail and run.user_id is None
        before = snapshot()
        schedule.daily_supervision_sweep.enqueue()
        assert snapshot() == before
    with at(local(2026, 3, 25, 0, 5)):  # the next day runs again, and adds no second 催办
        schedule.daily_supervision_sweep.enqueue()
        assert count(AuditEvent, AuditEvent.event == "supervision.sweep") == 2
        assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "remind") == 1
    with at(local(2026, 3, 27, 9, 5)):  # five working days overdue: 通报, at the hourly catch-up
        schedule.daily_supervision_sweep.enqueue()
        assert count(ProblemEvent, ProblemEvent.problem_id == p.id, ProblemEvent.action == "notice") == 1


def test_the_scan_task_twice_in_a_minute_writes_nothing_the_second_time(app):
    with at(local(2026, 3, 2, 10, 0)):
        p = hf.signed_off()  # verified without any evidence file: a 销号无佐证材料 flag
    with at(local(2026, 3, 3, 0, 15)):
        schedule.daily_integrity_scan.enqueue()
        assert count(Flag, Flag.problem_id == p.id) >= 1
        before = snapshot()
        schedule.daily_integrity_scan.enqueue()
        assert snapshot() == before
    assert count(ScheduledRun, ScheduledRun.task == "webapp.schedule.daily_integrity_scan") == 1


def test_a_failed_run_does_not_take_the_day(app, monkeypatch):
    from webapp.supervision import sweep

    def broken(**_kw):
        raise RuntimeError("the database went away")

    with at(local(2026, 3, 24, 0, 5)):
        monkeypatch.setattr(sweep, "run", broken)
        schedule.daily_supervision_sweep.enqueue()  # fails (and is scheduled again)
        assert count(ScheduledRun) == 0
        monkeypatch.undo()
        schedule.daily_supervision_sweep.run()
        assert count(ScheduledRun) == 1 and count(AuditEvent, AuditEvent.event == "supervision.sweep") == 1
