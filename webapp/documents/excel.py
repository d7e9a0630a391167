"""Excel in and out: one way to send a workbook and one way to read rows back.

Imports are all-or-nothing: readers return every row with its row number so the caller can
validate all of them and report each bad one before committing anything.
"""

import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import TYPE_STRING, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = PatternFill("solid", fgColor="F0F2F4")
# Text a spreadsheet would read as a formula (or as the start of one, DDE included).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Sheet:
    title: str
    headers: Sequence[str]
    rows: Iterable[Sequence]
    widths: Sequence[int] = field(default_factory=tuple)


def build_workbook(sheets: Sequence[Sheet]) -> bytes:
    """A workbook with a bold, frozen header row per sheet."""
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in sheets:
        ws = wb.create_sheet(title=sheet.title[:31])
        _append_inert(ws, sheet.headers)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(vertical="center")
        for row in sheet.rows:
            _append_inert(ws, row)
        for i, header in enumerate(sheet.headers, start=1):
            width = sheet.widths[i - 1] if i - 1 < len(sheet.widths) else max(10, len(str(header)) * 2 + 2)
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def stream_workbook(sheets: Sequence[Sheet]) -> bytes:
    """The same workbook as ``build_workbook``, written in openpyxl's write-only mode: each row
    goes to the file as it is read from ``rows`` (an iterator), so a long export never holds
    every row in memory, only the finished file."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        ws = wb.create_sheet(title=sheet.title[:31])
        for i, header in enumerate(sheet.headers, start=1):
            width = sheet.widths[i - 1] if i - 1 < len(sheet.widths) else max(10, len(str(header)) * 2 + 2)
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = "A2"
        header_row = []
        for header in sheet.headers:
            cell = WriteOnlyCell(ws, value=str(header))
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(vertical="center")
            header_row.append(cell)
        ws.append(header_row)
        for row in sheet.rows:
            ws.append([_inert_cell(ws, v) for v in row])
    with tempfile.TemporaryFile() as spool:
        wb.save(spool)
        spool.seek(0)
        return spool.read()


def _inert_cell(ws, value):
    """A cell for a write-only row: text a spreadsheet would read as a formula stays text."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        cell = WriteOnlyCell(ws)
        cell._value = value  # the public setter would infer a formula again
        cell.data_type = TYPE_STRING
        return cell
    return value


def _append_inert(ws, values) -> None:
    """Append a row whose every text cell is stored as text, never as a formula.

    openpyxl stores a string starting with ``=`` as a formula; a resident's complaint or a unit's
    name typed as ``=HYPERLINK(...)`` or ``@SUM(...)`` would run in the office's Excel. Such text is
    written as a plain string cell, so it shows exactly what was typed and cannot run.
    """
    values = ["" if v is None else v for v in values]
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        if isinstance(value, str) and value.startswith(FORMULA_LEADS):
            cell._value = value  # the public setter would infer a formula again
            cell.data_type = TYPE_STRING


def xlsx_response(filename: str, sheets: Sequence[Sheet]) -> Response:
    """Send a workbook as a download (UTF-8 file name per RFC 5987)."""
    resp = Response(build_workbook(sheets), mimetype=XLSX_MIME)
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return resp


class WorkbookError(ValueError):
    """The upload is not a readable .xlsx workbook (message in Chinese)."""


# What an import of units or users can reasonably hold; anything larger is refused while reading.
MAX_ROWS = 5000
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_RATIO = 200  # a part that unpacks to more than 200× its packed size is a zip bomb


def _check_package(data: bytes) -> None:
    """Refuse, before openpyxl parses anything, a file that is not a zip, that unpacks too far,
    or whose XML declares a DTD (entity expansion, external entities)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise WorkbookError(_("无法读取文件：请上传 .xlsx 格式的 Excel 工作簿。")) from exc
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES or any(
            m.file_size > MAX_RATIO * max(m.compress_size, 1024) for m in members):
        raise WorkbookError(_("文件解压后过大，不像是正常的 Excel 工作簿，已拒绝。"))
    for member in members:
        if not member.filename.endswith((".xml", ".rels", ".vml")):
            continue
        try:
            with archive.open(member) as part:
                prolog = _prolog(part)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
            raise WorkbookError(_("无法读取文件：请上传 .xlsx 格式的 Excel 工作簿。")) from exc
        if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
            raise WorkbookError(_("文件中含有文档类型声明（DTD），出于安全原因已拒绝。"))


_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")


def _prolog(part, limit: int = 1024 * 1024) -> bytes:
    """What comes before the root element (where a DTD would be), read in chunks."""
    seen = b""
    while len(seen) < limit:
        chunk = part.read(65536)
        if not chunk:
            return seen
        seen += chunk
        found = _ROOT_ELEMENT.search(seen)
        if found:
            return seen[:found.start()]
    return seen


def read_rows(data: bytes, expected_headers: Sequence[str]) -> list[tuple[int, dict]]:
    """Rows of the first sheet as ``(row_number, {header: value})``; blank rows skipped.

    Raises ``WorkbookError`` when the file is not a workbook or a required header is missing.
    """
    _check_package(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb.worksheets[0]
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
        raise WorkbookError(_("无法读取文件：请上传 .xlsx 格式的 Excel 工作簿。")) from exc
    try:
        return _rows(ws, expected_headers)
    except WorkbookError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet fails while it is read
        raise WorkbookError(_("无法读取文件：请上传 .xlsx 格式的 Excel 工作簿。")) from exc
    finally:
        wb.close()


def _rows(ws, expected_headers: Sequence[str]) -> list[tuple[int, dict]]:
    rows = ws.iter_rows(values_only=True)
    try:
        header = [("" if h is None else str(h).strip()) for h in next(rows)]
    except StopIteration as exc:
        raise WorkbookError(_("工作表是空的。")) from exc
    missing = [h for h in expected_headers if h not in header]
    if missing:
        raise WorkbookError(_("缺少列：%(columns)s", columns="、".join(missing)))
    out = []
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS + 1:
            raise WorkbookError(_("一次最多导入 %(max)d 行，请分批导入。", max=MAX_ROWS))
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        record = {h: ("" if v is None else str(v).strip()) for h, v in zip(header, values, strict=False) if h}
        out.append((number, record))
    return out
