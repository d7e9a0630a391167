"""Reading the work queue and the problem page the way a person sees them (tests only)."""

import html
import io
import re
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from openpyxl import load_workbook

from webapp.core.extensions import db

NUMBER_RE = re.compile(r'class="muted case-number">([^<]+)</span>')
TAB_RE = re.compile(r'data-tab="(\w+)">[^<]*(?:<span class="count[^"]*">(\d+)</span>)?')
ACTION_RE = re.compile(r'<li data-action="(\w+)">')

# Monday 2 March 2026, 10:00 in Jiawang; the week has no holiday.
MON = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
WED = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
FRI = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def numbers(resp) -> list[str]:
    """The problem numbers a queue page lists, in order."""
    return [html.unescape(n) for n in NUMBER_RE.findall(text(resp))]


def tabs(resp) -> dict[str, int | None]:
    """The tabs of a queue page (or the counters fragment) with their counters."""
    return {key: (int(n) if n else None) for key, n in TAB_RE.findall(text(resp))}


def actions(resp) -> list[str]:
    """The actions the problem page offers (``data-action`` of each button)."""
    return ACTION_RE.findall(text(resp))


def sheet_rows(resp) -> list[list]:
    """The rows of an exported workbook, header first, cells as text."""
    wb = load_workbook(io.BytesIO(resp.data), read_only=True)
    rows = [["" if v is None else str(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


@contextmanager
def counted_queries():
    """Count the SQL statements sent to the database inside the block: ``with … as n: …; n[0]``."""
    count = [0]

    def listener(conn, cursor, statement, parameters, context, executemany):
        count[0] += 1

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield count
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)
