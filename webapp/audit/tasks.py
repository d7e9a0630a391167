"""The audit log's export as a background job: the auditor follows it on ``/jobs/<id>``.

Up to ``queries.EXPORT_CAP`` (100,000) rows take a while to write into a workbook, so the export
runs on the task queue with a progress bar. The rows are those of the snapshot the auditor's page
showed (``upto``), so the job reads exactly what was asked for whenever it runs. The
``audit.exported`` entry is written in the transaction that marks the job done: the file can
only be fetched (by the auditor alone: 三员分立, the office does not see these jobs) once its
entry is in the log.
"""

import json
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..accounts.models import User
from ..core import audit, clock, jobs
from ..core.extensions import db
from ..documents.excel import Sheet, stream_workbook
from . import queries
from .queries import AuditFilter

KIND = "audit.export"
jobs.register_kind(KIND, _l("导出审计日志"), office_may_see=False)

PROGRESS_ROWS = 500  # report progress every this many rows (the job writes it at most twice a second)


def filter_from(args: dict) -> AuditFilter:
    """The filter back from ``AuditFilter.as_args()`` (what the task was sent)."""
    values = dict(args)
    for key in ("date_from", "date_to"):
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    if values.get("upto") is not None:
        values["upto"] = int(values["upto"])
    return AuditFilter(**values)


@jobs.job_task(retries=2, retry_delay=30)
def export_audit_log(run: jobs.JobRun, filter_args: dict, locale: str = "zh_CN") -> dict:
    """The filtered rows (newest first, at most ``EXPORT_CAP``) as an Excel workbook."""
    flt = filter_from(filter_args)
    user = db.session.get(User, run.user_id)
    total = queries.count(flt)
    rows = min(total, queries.EXPORT_CAP)
    run.progress(0, rows)

    def counted():
        for n, row in enumerate(queries.export_rows(flt, queries.EXPORT_CAP), start=1):
            yield row
            if n % PROGRESS_ROWS == 0:
                run.progress(n)

    now = clock.now()
    with force_locale(locale):
        about = [
            (_("导出时间"), clock.local(now).strftime("%Y-%m-%d %H:%M:%S")),
            (_("导出人"), f"{user.full_name}（{user.username}）"),
            (_("筛选条件"), json.dumps(flt.described(), ensure_ascii=False) if flt.described() else _("无")),
            (_("截至序号"), flt.upto),
            (_("符合条件"), total),
            (_("导出条数"), rows),
        ]
        if total > rows:
            about.append((_("说明"), _("超过导出上限，仅导出最新的 %(n)s 条。", n=queries.EXPORT_CAP)))
        # Written row by row as read (write-only), each event in the sentence the log page shows.
        data = stream_workbook([
            Sheet(_("审计日志"), [str(h) for h in queries.EXPORT_HEADERS], counted(),
                  widths=(8, 20, 60, 16, 36, 8, 12, 10, 20, 16, 24, 12, 10, 40)),
            Sheet(_("导出说明"), [_("项目"), _("内容")], about, widths=(14, 60)),
        ])
        summary = _("共导出 %(rows)s 条记录（符合条件 %(total)s 条）。", rows=rows, total=total)
    run.progress(rows)
    stored = run.save_file(f"审计日志-{clock.local(now):%Y%m%d-%H%M%S}.xlsx", data)
    detail = {"filter": flt.described(), "upto": flt.upto, "rows": rows, "matched": total,
              "job": run.job_id}
    run.on_finish(lambda: audit.record("audit.exported", user=db.session.get(User, run.user_id),
                                       detail=detail))
    return {"rows": rows, "matched": total, "summary": summary, **stored}
