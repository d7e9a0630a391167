"""Background jobs' pages: the owner follows a job (the status block polls itself with htmx
while the job is queued or running, and stops when it is done), fetches its file, lists their
jobs; others are told it does not exist; the office sees everyone's but the audit log's."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.access.jobs import _town_job
from tests.queue import use_sqlite_queue
from webapp.core import clock, jobs
from webapp.core.extensions import db
from webapp.core.jobs import Job, JobStatus

BLOCK = re.compile(r'<section id="job-status"[^>]*>')


def start_export(b) -> int:
    b.get("/audit/")
    resp = b.post("/audit/export", {})
    assert resp.status_code == 302
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def fragment(b, job_id):
    resp = b.client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "HX-Request" in resp.headers["Vary"]
    return resp.get_data(as_text=True)


def set_job(job_id, **values):
    db.session.rollback()
    job = db.session.get(Job, job_id, populate_existing=True)
    for key, value in values.items():
        setattr(job, key, value)
    db.session.commit()


def test_the_owner_follows_a_job_from_queued_to_done(app, tmp_path, login_as):
    q = use_sqlite_queue(app, tmp_path / "queue.sqlite3")
    b = login_as("auditor")
    job_id = start_export(b)

    page = b.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "已开始导出" in page and "导出审计日志" in page and "排队中" in page
    [block] = BLOCK.findall(page)
    assert f'hx-get="/jobs/{job_id}"' in block and 'hx-trigger="every 2s"' in block
    assert 'hx-swap="outerHTML"' in block
    assert f'<a href="/jobs/{job_id}">刷新</a>' in page  # without JavaScript
    assert "<progress" in page and "hx-on" not in page and "style=" not in page

    # The htmx request gets the status block alone, still polling.
    part = fragment(b, job_id)
    assert part.lstrip().startswith('<section id="job-status"') and "<html" not in part
    assert 'hx-trigger="every 2s"' in part

    # While it runs: the bar and the count follow the committed progress.
    set_job(job_id, status=JobStatus.running)
    assert jobs.progress(job_id, 40, 100)
    part = fragment(b, job_id)
    assert "进行中" in part and "已完成 40 / 100" in part
    assert re.search(r'<progress max="100" value="40"', part)
    assert 'hx-trigger="every 2s"' in part

    set_job(job_id, status=JobStatus.queued)
    q.huey.execute(q.huey.dequeue())  # the consumer's turn
    part = fragment(b, job_id)
    job = db.session.get(Job, job_id, populate_existing=True)
    rows = job.result["rows"]
    assert "已完成" in part and f"已完成 {rows} / {rows}" in part and f'value="{rows}"' in part
    assert "hx-trigger" not in part and "hx-get" not in part  # polling stops
    assert f"共导出 {rows} 条记录" in part
    assert f'href="/jobs/{job_id}/download"' in part and "审计日志-" in part

    download = b.client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200 and download.data[:2] == b"PK"
    assert "attachment" in download.headers["Content-Disposition"]
    assert "filename*=UTF-8''%E5%AE%A1%E8%AE%A1%E6%97%A5%E5%BF%97-" in download.headers["Content-Disposition"]


def test_a_failed_job_shows_its_message_and_does_not_poll(app, login_as):
    b = login_as("town")
    job = _town_job()
    set_job(job.id, status=JobStatus.failed, error="后台任务出错，已自动重试仍未成功。", result=None)
    page = b.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "失败" in page and 'role="alert">后台任务出错，已自动重试仍未成功。' in page
    assert "hx-trigger" not in BLOCK.search(page).group(0)
    assert "/download" not in page
    assert b.client.get(f"/jobs/{job.id}/download").status_code == 404


def test_a_job_waiting_for_its_retry_says_so(app, login_as):
    b = login_as("town")
    job = _town_job()
    set_job(job.id, status=JobStatus.queued, error="第 1 次执行出错，约 30 秒后自动重试。", result=None)
    part = fragment(b, job.id)
    assert "第 1 次执行出错，约 30 秒后自动重试。" in part and 'hx-trigger="every 2s"' in part


def test_only_the_owner_and_the_office_see_a_job(app, login_as):
    town_job = _town_job()
    export = start_export(login_as("auditor"))
    office = login_as("office")
    page = office.get(f"/jobs/{town_job.id}").get_data(as_text=True)
    assert "发起人" in page and "（town）" in page
    assert office.client.get(f"/jobs/{export}").status_code == 404  # the audit log: 三员分立
    assert office.client.get(f"/jobs/{export}/download").status_code == 404
    dept = login_as("dept")
    assert dept.client.get(f"/jobs/{town_job.id}").status_code == 404
    assert dept.client.get(f"/jobs/{town_job.id}/download").status_code == 404
    # The owner does not see themselves named as someone else.
    assert "发起人" not in login_as("town").get(f"/jobs/{town_job.id}").get_data(as_text=True)


def test_the_lists(app, login_as):
    town_job = _town_job()
    auditor = login_as("auditor")
    export = start_export(auditor)

    def listed(b, url="/jobs"):
        return {int(n) for n in re.findall(r'<tr data-job="(\d+)"', b.get(url).get_data(as_text=True))}

    assert listed(auditor) == {export}
    assert listed(auditor, "/jobs?scope=all") == {export}  # only the office may ask for all
    town = login_as("town")
    assert listed(town) == {town_job.id}
    office = login_as("office")
    assert listed(office) == set()
    html = office.get("/jobs?scope=all").get_data(as_text=True)
    assert listed(office, "/jobs?scope=all") == {town_job.id}  # not the auditor's export
    assert "全部后台任务" in html and "发起人" in html
    assert "还没有后台任务" in login_as("dept").get("/jobs").get_data(as_text=True)


def test_starting_an_export_needs_the_csrf_token(app, login_as):
    b = login_as("auditor")
    resp = b.client.post("/audit/export", data={})
    assert resp.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_an_expired_result_is_gone_from_the_page(app, login_as):
    b = login_as("town")
    job = _town_job()
    set_job(job.id, finished_at=clock.now() - timedelta(days=30))
    assert jobs.expire_results() == 1
    db.session.commit()
    page = b.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "结果文件已超过保存期限" in page and "/download" not in page
    assert b.client.get(f"/jobs/{job.id}/download").status_code == 404
