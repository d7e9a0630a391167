"""The meeting packet is built by a background job, never inside a request: asking for it only
queues the job; the job's page shows the progress bar; the consumer renders the PDF (a packet of
more than 40 pages here) into the upload store — the local folder or an S3 bucket — and only the
requester (and the office) may download it."""

import re
import time
from datetime import UTC, date, datetime

import time_machine

from tests.cases import factories as f
from tests.handling import factories as hf
from tests.pdfcheck import assert_pdf
from tests.queue import use_sqlite_queue
from webapp.core import storage
from webapp.core.extensions import db
from webapp.core.jobs import Job, JobStatus
from webapp.supervision.models import Agenda, AgendaItem, AgendaKind

PROBLEMS = 20  # the agenda, then a 问题交办单 and a 任务书 for each: more than 40 pages


def _agenda(n: int) -> Agenda:
    """A work group's agenda listing ``n`` problems that each have a sheet and a task book."""
    problems = [hf.in_progress(title=f"第{i + 1}号问题：村道破损需修复") for i in range(n)]
    group = problems[0].work_group
    agenda = Agenda(kind=AgendaKind.group, scope_unit_id=group.id, meeting_on=date(2026, 11, 20),
                    period_start=date(2026, 11, 1), period_end=date(2026, 11, 15),
                    title=f"{group.name}2026年11月上半月调度会议程", created_by_id=f.user("office").id)
    agenda.items = [AgendaItem(problem_id=p.id, seq=i + 1, reasons=["overdue"], detail="超期 3 个工作日")
                    for i, p in enumerate(problems)]
    db.session.add(agenda)
    db.session.commit()
    return agenda


def test_a_40_page_packet_is_a_background_job(app, tmp_path, login_as, store_backend):
    with time_machine.travel(datetime(2026, 11, 19, 2, 0, tzinfo=UTC), tick=False):
        agenda = _agenda(PROBLEMS)
        q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
        lead = login_as("grouplead")
        assert lead.get(f"/supervision/agendas/{agenda.id}").status_code == 200

        started = time.monotonic()
        resp = lead.post(f"/supervision/agendas/{agenda.id}/packet")
        asked = time.monotonic() - started
        assert resp.status_code == 302
        job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        job = db.session.get(Job, job_id)
        # Queued, nothing rendered yet: the request only wrote the job's row.
        assert job.status == JobStatus.queued and job.kind == "supervision.packet" and q.huey.pending_count() == 1
        assert list(storage.current().names("jobs/")) == []
        page = lead.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert "会议材料" in page and "排队中" in page and 'hx-trigger="every 2s"' in page and "<progress" in page
        assert lead.client.get(f"/jobs/{job_id}/download").status_code == 404

        q.huey.execute(q.huey.dequeue())  # the consumer's turn, outside any request
        job = db.session.get(Job, job_id, populate_existing=True)
        assert job.status == JobStatus.done, job.error
        parts = 1 + 2 * PROBLEMS
        assert (job.done, job.total) == (parts, parts)
        part = lead.client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert f"已完成 {parts} / {parts}" in part and f'href="/jobs/{job_id}/download"' in part
        assert re.search(rf"共 {job.result['pages']} 页，含 {parts} 份材料", part)

        # The PDF is in the configured store, not built by the download.
        [stored] = storage.current().names("jobs/")
        assert stored == "jobs/" + job.result["file"]
        resp = lead.client.get(f"/jobs/{job_id}/download")
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        assert resp.data == storage.read_bytes(stored)
        report = assert_pdf(resp.data, [agenda.title, "问题交办单", "任务书", "第20号问题"])
        assert report.pages == job.result["pages"] >= 40

        # The office may fetch it too; another group's lead or a department may not.
        assert login_as("office").client.get(f"/jobs/{job_id}/download").status_code == 200
        for other in ("leader", "dept", "town"):
            assert login_as(other).client.get(f"/jobs/{job_id}/download").status_code == 404
    assert asked < 5  # asking queued the job; the 40 pages were rendered by the consumer


def test_a_packet_job_is_refused_when_its_requester_may_no_longer_read_the_agenda(app, tmp_path, login_as):
    with time_machine.travel(datetime(2026, 11, 19, 2, 0, tzinfo=UTC), tick=False):
        agenda = _agenda(1)
        q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
        lead = login_as("grouplead")
        resp = lead.post(f"/supervision/agendas/{agenda.id}/packet")
        job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        # Moved to another work group before the job ran.
        user = f.user("grouplead")
        user.unit_id = f.unit("青山泉镇工作组").id
        db.session.commit()
        q.huey.execute(q.huey.dequeue())
        job = db.session.get(Job, job_id, populate_existing=True)
        assert job.status == JobStatus.failed and "无权查看该议程" in job.error
        assert list(storage.current().names("jobs/")) == []
