"""Statistics (统计分析, 半月调度统计表): the dashboard for every casework role but the cadre (each
sees its own slice, decided by the figures' scope, not by the route); the half-month reports
for the office and the leader (read, PDF, Excel); issuing and correcting a report for the
office alone. A report that does not exist is 404; admins see no casework (403)."""

from webapp.core.extensions import db

from . import Rule
from .objects import LAZY

DASHBOARD = {"office", "leader", "grouplead", "town", "townlead", "dept", "deptlead", "desk"}
READERS = {"office", "leader"}
OFFICE = {"office"}


def _last_period():
    """The last half month that has ended."""
    from webapp.core import clock
    from webapp.core.periods import Period

    return Period.of(clock.today()).previous()


def _report():
    from tests.cases import factories as f
    from webapp.stats import reports as rep

    report = rep.issue(f.user("office"), _last_period())
    db.session.commit()
    return report


def _fresh(report):
    db.session.rollback()  # a fresh snapshot: see what earlier requests committed
    db.session.refresh(report)
    return report


def _objects() -> None:
    LAZY.update({
        # The last ended half month's report, version 1, issued by the office.
        "stats_report": _report,
    })


_objects()


def _report_path(suffix=""):
    return lambda o: f"/stats/reports/{o.stats_report.id}{suffix}"


RULES = [
    Rule("stats.dashboard", "/stats", DASHBOARD),
    Rule("stats.reports", "/stats/reports", READERS),
    Rule("stats.issue", "/stats/reports", OFFICE, method="POST",
         data=lambda o: {"period": _last_period().previous().start.isoformat()}),
    Rule("stats.report", _report_path(), READERS),
    Rule("stats.report", "/stats/reports/99999999", set(), not_found=READERS, note="no such report"),
    Rule("stats.report_pdf", _report_path("/report.pdf"), READERS),
    Rule("stats.report_pdf", "/stats/reports/99999999/report.pdf", set(), not_found=READERS, note="no such report"),
    Rule("stats.report_xlsx", _report_path("/report.xlsx"), READERS),
    Rule("stats.report_xlsx", "/stats/reports/99999999/report.xlsx", set(), not_found=READERS,
         note="no such report"),
    Rule("stats.reissue", _report_path("/reissue"), OFFICE, method="POST",
         data=lambda o: {"reason": "补录漏报问题。", "version": str(_fresh(o.stats_report).version)}),
    Rule("stats.reissue", "/stats/reports/99999999/reissue", set(), method="POST",
         data={"reason": "补录漏报问题。", "version": "1"}, not_found=OFFICE, note="no such report"),
]
