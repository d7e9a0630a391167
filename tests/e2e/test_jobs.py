"""A background job in a real browser: the auditor exports the audit log, lands on the job's
page while it waits in the queue, watches the status block (htmx polling every 2 s, no page
reload) reach 已完成 with a full progress bar once a consumer runs, and downloads the workbook.

The server's queue is a SQLite file and the consumer runs in threads of the test process, started
only after the page has shown the queued job, so every state is seen for certain.
"""

import re

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, _serve
from tests.e2e.test_intake_assignment import as_user, read_db
from tests.queue import consumer_threads
from webapp.core.extensions import db
from webapp.core.jobs import Job

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(database_url, tmp_path):
    """This module's server: its own database and a queue file that waits for a consumer."""
    with _serve(database_url, tmp_path, TASK_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}") as served:
        yield served


def test_export_runs_in_the_background_and_the_bar_reaches_done(server, new_context, artifacts, tmp_path):
    page = as_user(new_context, "auditor", DESKTOP)
    page.goto("/audit/")
    page.get_by_role("button", name="导出 Excel").click()

    status = page.locator("#job-status")
    expect(page.get_by_role("heading", name="导出审计日志", level=1)).to_be_visible()
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_have_attribute("hx-trigger", "every 2s")
    expect(status.locator("progress")).to_be_visible()
    expect(status.get_by_role("link", name="刷新")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")  # gone if the page were loaded again
    page.screenshot(path=artifacts / "job-queued.png", full_page=True)

    with consumer_threads(server.app):
        expect(status).to_have_attribute("data-status", "done", timeout=20_000)

    rows = read_db(server, lambda: db.session.scalars(db.select(Job)).one().result["rows"])
    assert rows > 0
    bar = status.locator("progress")
    expect(bar).to_have_attribute("max", str(rows))
    expect(bar).to_have_attribute("value", str(rows))
    expect(status).to_contain_text(f"已完成 {rows} / {rows}")
    expect(status).not_to_have_attribute("hx-trigger", re.compile(".*"))  # polling stopped
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the block in place
    page.screenshot(path=artifacts / "job-done.png", full_page=True)

    with page.expect_download() as info:
        status.get_by_role("link", name=re.compile("^下载 审计日志-")).click()
    download = info.value
    assert re.fullmatch(r"审计日志-\d{8}-\d{6}\.xlsx", download.suggested_filename)
    saved = tmp_path / "export.xlsx"
    download.save_as(saved)
    wb = openpyxl.load_workbook(saved, read_only=True)
    assert wb.sheetnames == ["审计日志", "导出说明"]
    assert sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True)) == rows + 1
    wb.close()
