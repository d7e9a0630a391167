"""The 半月调度统计表 as a document: one layout (title, summary, sections of tables, notes) drawn
by the print template (PDF, WeasyPrint) and written cell for cell into the Excel workbook, so the
two always carry the same table. Everything comes from the report's frozen figures.
"""

import io
from dataclasses import dataclass
from urllib.parse import quote

from flask import Response
from flask_babel import gettext as _
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from ..core.periods import Period
from ..documents.excel import HEADER_FILL, XLSX_MIME
from ..documents.pdf import cn_date
from . import reports
from .reports import HalfMonthReport


def fmt_pct(value) -> str:
    return "—" if value is None else f"{value:.1f}%"


@dataclass(frozen=True)
class Rate:
    """A rate in per cent (63.2): printed as 63.2%, written to Excel as the number 0.632 with a
    percent format, so that a clerk can sort and sum the column."""

    value: float | None

    def __str__(self) -> str:
        return fmt_pct(self.value)


@dataclass(frozen=True)
class Points:
    """A change of a rate in percentage points (+1.2): a signed number in Excel too."""

    value: float | None

    def __str__(self) -> str:
        return fmt_points(self.value)


def fmt_points(value) -> str:
    """Change of a rate in percentage points: +1.2 / -0.5 / 0.0; — without a previous figure."""
    if value is None:
        return "—"
    return f"{value:+.1f}" if value else "0.0"


def fmt_rank_change(value) -> str:
    if value is None:
        return "—"
    if value > 0:
        return _("↑%(n)s", n=value)
    if value < 0:
        return _("↓%(n)s", n=-value)
    return _("持平")


def fmt_delta(value) -> str:
    if value is None:
        return "—"
    return f"{value:+d}" if value else "0"


def _rank_section(heading: str, rows: list[dict], with_change: bool) -> dict:
    headers = [_("名次"), _("单位"), _("问题总数"), _("已化解"), _("办理中"), _("超期"), _("暂难解决"), _("化解率")]
    if with_change:
        headers += [_("化解率较上期（百分点）"), _("名次变化")]
    headers += [_("按期办结率"), _("及时签收率"), _("回音率"), _("满意率"), _("重办率")]
    out = []
    for r in rows:
        cells = [r["rank"] if r.get("rank") is not None else "—", r["name"], r["total"], r["solved"],
                 r["in_progress"], r["overdue"], r["cannot_solve"], Rate(r["solve_rate"])]
        if with_change:
            change = r.get("change") or {}
            cells += [Points(change.get("solve_rate")), fmt_rank_change(change.get("rank"))]
        cells += [Rate(r["on_time_rate"]), Rate(r["sign_rate"]), Rate(r["reply_rate"]),
                  Rate(r["satisfaction"]), Rate(r["reopen_rate"])]
        out.append(cells)
    return {"heading": heading, "headers": headers, "rows": out, "bar_column": 7,
            "bars": [r["solve_rate"] for r in rows], "name_column": 1}


def _group_section(heading: str, first: str, rows: list[dict]) -> dict:
    headers = [first, _("问题总数"), _("已化解"), _("办理中"), _("超期"), _("暂难解决"), _("化解率"),
               _("按期办结率"), _("回音率"), _("满意率")]
    out = [[r["name"], r["total"], r["solved"], r["in_progress"], r["overdue"], r["cannot_solve"],
            Rate(r["solve_rate"]), Rate(r["on_time_rate"]), Rate(r["reply_rate"]),
            Rate(r["satisfaction"])] for r in rows]
    return {"heading": heading, "headers": headers, "rows": out, "bar_column": 6,
            "bars": [r["solve_rate"] for r in rows], "name_column": 0}


def _summary(f: dict, period_end) -> str:
    d = f["district"]
    change = d.get("change")
    text = _("截至%(day)s，全区共登记问题%(total)s件，已化解%(solved)s件，化解率%(rate)s",
             day=cn_date(period_end), total=d["total"], solved=d["solved"], rate=fmt_pct(d["solve_rate"]))
    if change and change.get("solve_rate") is not None:
        text += _("（较上期%(points)s个百分点）", points=fmt_points(change["solve_rate"]))
    text += _("；办理中%(progress)s件，其中超期%(overdue)s件；待交办%(awaiting)s件；暂难解决%(cannot)s件；"
              "不予受理或合并%(other)s件。",
              progress=d["in_progress"], overdue=d["overdue"], awaiting=d["awaiting"],
              cannot=d["cannot_solve"], other=d["other_ended"])
    text += _("按期办结率%(on_time)s，及时签收率%(sign)s，回音率%(reply)s，群众满意率%(satisfaction)s"
              "（回访满意%(s)s件、基本满意%(b)s件、不满意%(u)s件；无法联系%(x)s件、拒评%(r)s件另计），"
              "重办率%(reopen)s。",
              on_time=fmt_pct(d["on_time_rate"]), sign=fmt_pct(d["sign_rate"]), reply=fmt_pct(d["reply_rate"]),
              satisfaction=fmt_pct(d["satisfaction"]), s=d["satisfied"], b=d["basically"], u=d["unsatisfied"],
              x=d["unreachable"], r=d["refused"], reopen=fmt_pct(d["reopen_rate"]))
    return text


def _svg_chart(bars: list[int], rates: list[float | None], label: str) -> Markup:
    """A chart as inline SVG (no script: the page and the PDF draw the same): grey bars for the
    counts (scaled to the largest), a red line for the rate (0–100 %), grid lines at 0, 50 and
    100 %. The numbers and labels are in the table beside it."""
    n = max(len(rates), 1)
    width, height, pad = 600, 160, 4
    step = (width - 2 * pad) / n
    top = max(bars or [0]) or 1
    inner = height - 2 * pad
    parts = [Markup('<svg class="trend-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{label}" '
                    'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="none">').format(
                        w=width, h=height, label=label)]
    for line in (0, 50, 100):
        y = f"{height - pad - inner * line / 100:.1f}"
        parts.append(Markup('<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="#cccccc" stroke-width="0.8"/>')
                     .format(a=pad, b=width - pad, y=y))
    for i, value in enumerate(bars):
        h = inner * value / top * 0.9
        parts.append(Markup('<rect class="bar" x="{x}" y="{y}" width="{w}" height="{h}" fill="#bbbbbb"/>').format(
            x=f"{pad + i * step + step * 0.2:.1f}", y=f"{height - pad - h:.1f}", w=f"{step * 0.6:.1f}", h=f"{h:.1f}"))
    points = [(f"{pad + (i + 0.5) * step:.1f}", f"{height - pad - inner * r / 100:.1f}")
              for i, r in enumerate(rates) if r is not None]
    if points:
        parts.append(Markup('<polyline class="rate" points="{p}" fill="none" stroke="#b40000" stroke-width="2"/>')
                     .format(p=" ".join(f"{x},{y}" for x, y in points)))
        parts += [Markup('<circle cx="{x}" cy="{y}" r="2.5" fill="#b40000"/>').format(x=x, y=y) for x, y in points]
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def coverage_sections(f: dict) -> list[dict]:
    """七、走访覆盖情况 (per town, frozen with the report) and its weekly trend in the round."""
    cov = f.get("coverage")
    if not cov:
        return [{"heading": _("七、走访覆盖情况"), "text": _("本期结束时没有进行中的走访轮次。"), "headers": [],
                 "rows": []}]
    d = cov["district"]
    text = _("%(round)s（%(start)s至%(end)s）：全区%(h)s户已走访%(hc)s户，覆盖率%(hr)s；企业%(e)s家已走访%(ec)s家，"
             "覆盖率%(er)s；合计覆盖率%(r)s。",
             round=cov["round"], start=cn_date(_date(cov["starts_on"])), end=cn_date(_date(cov["ends_on"])),
             h=d["households"], hc=d["households_covered"], hr=fmt_pct(d["household_rate"]), e=d["enterprises"],
             ec=d["enterprises_covered"], er=fmt_pct(d["enterprise_rate"]), r=fmt_pct(d["rate"]))
    towns = {
        "heading": _("七、走访覆盖情况"), "text": text,
        "headers": [_("镇（街道、功能区）"), _("户数"), _("已走访户数"), _("户覆盖率"), _("企业数"),
                    _("已走访企业数"), _("企业覆盖率"), _("合计覆盖率")],
        "rows": [[r["name"], r["households"], r["households_covered"], Rate(r["household_rate"]), r["enterprises"],
                  r["enterprises_covered"], Rate(r["enterprise_rate"]), Rate(r["rate"])] for r in cov["towns"]],
        "bar_column": 7, "bars": [r["rate"] for r in cov["towns"]], "name_column": 0,
    }
    weeks = cov.get("weeks") or []
    weekly = {
        "heading": _("八、本轮走访覆盖率周趋势"),
        "headers": [_("截至"), _("户覆盖率"), _("企业覆盖率"), _("合计覆盖率")],
        "rows": [[cn_date(_date(w["end"])), Rate(w["household_rate"]), Rate(w["enterprise_rate"]), Rate(w["rate"])]
                 for w in weeks],
        "bar_column": None, "bars": [], "name_column": 0,
        "chart": _svg_chart([], [w["rate"] for w in weeks], _("本轮走访覆盖率周趋势")),
        "chart_key": _("红线：合计覆盖率（0—100%），每周末一点。"),
    }
    return [towns, weekly]


def trend_section(f: dict) -> dict:
    """九、活动以来半月趋势: every half month since the campaign's start (frozen at issue)."""
    trend = f.get("trend") or []
    return {
        "heading": _("九、活动以来半月趋势"),
        "headers": [_("半月"), _("新登记"), _("新化解"), _("累计登记"), _("累计化解"), _("累计化解率")],
        "rows": [[_half_label(t["start"]), t["registered"], t["solved"], t["total"], t["solved_total"],
                  Rate(t["solve_rate"])] for t in trend],
        "bar_column": None, "bars": [], "name_column": 0,
        "chart": _svg_chart([t["registered"] for t in trend], [t["solve_rate"] for t in trend],
                            _("活动以来半月趋势")),
        "chart_key": _("灰柱：每半月新登记问题数；红线：累计化解率（0—100%）。"),
    }


def _half_label(start: str) -> str:
    return Period.of(_date(start)).label_compact


def layout(report: HalfMonthReport) -> dict:
    """The document: what the PDF draws and the workbook writes (call under ``force_locale``)."""
    f = report.figures
    period = report.period
    with_change = f.get("previous") is not None
    d = f["district"]
    district = {
        "heading": _("一、总体情况"),
        "headers": [_("问题总数"), _("已化解"), _("办理中"), _("待交办"), _("超期"), _("暂难解决"),
                    _("不予受理/合并"), _("化解率"), _("按期办结率"), _("及时签收率"), _("回音率"), _("满意率"),
                    _("重办率")],
        "rows": [[d["total"], d["solved"], d["in_progress"], d["awaiting"], d["overdue"], d["cannot_solve"],
                  d["other_ended"], Rate(d["solve_rate"]), Rate(d["on_time_rate"]), Rate(d["sign_rate"]),
                  Rate(d["reply_rate"]), Rate(d["satisfaction"]), Rate(d["reopen_rate"])]],
        "bar_column": None, "bars": [], "name_column": None,
    }
    district["text"] = _summary(f, period.end)
    overdue = f["overdue_units"]
    overdue_text = ("、".join(_("%(name)s（%(n)s件）", name=u["name"], n=u["overdue"]) for u in overdue)
                    if overdue else _("无超期问题。"))
    sections = [
        district,
        _rank_section(_("二、镇（街道、功能区）化解情况排名"), f["territories"], with_change),
        _rank_section(_("三、区级部门化解情况排名"), f["departments"], with_change),
        {"heading": _("四、有超期问题的单位"), "text": overdue_text, "headers": [], "rows": [],
         # The workbook gives the list its own table: unit, overdue problems.
         "table": ([_("单位"), _("超期问题数")], [[u["name"], u["overdue"]] for u in overdue])},
        _group_section(_("五、问题分类统计"), _("类别"), f["categories"]),
        _group_section(_("六、问题来源统计"), _("来源"), f["sources"]),
        *coverage_sections(f),
        trend_section(f),
    ]
    notes = [
        _("统计口径：截至%(day)s 24时登记的问题；状态按当时的办理记录还原。化解＝已销号或已办结；"
          "化解率＝化解数÷问题总数；按期办结率＝按期化解数÷化解数；及时签收率＝按时签收数÷已签收数；"
          "回音率＝已回音数÷应回音数；满意率＝（满意＋基本满意）÷（满意＋基本满意＋不满意）；"
          "重办率＝因群众不满意重新办理的问题数÷化解数。镇（街道、功能区）按问题所在地统计（含交办区级部门办理的"
          "问题），区级部门按牵头部门统计；排名按化解率，化解率相同的超期问题少者在前。",
          day=cn_date(period.end)),
    ]
    previous = f.get("previous")
    if previous:
        notes.append(_("较上期：与%(start)s至%(end)s统计表（第%(version)s版）相比。",
                       start=cn_date(_date(previous["start"])), end=cn_date(_date(previous["end"])),
                       version=previous["version"]))
    else:
        notes.append(_("上期统计表未出具，不列较上期变化。"))
    if report.version > 1:
        notes.append(_("本表为第%(version)s版（更正），更正原因：%(reason)s",
                       version=report.version, reason=report.correction_reason or ""))
    return {
        "issuer": _("贾汪区“百千万”集中走访帮扶活动办公室"),
        "doc_number": _("第%(no)s期（第%(version)s版）", no=issue_no(report), version=report.version),
        "doc_title": _("半月调度统计表"),
        "subtitle": _("统计期间：%(start)s至%(end)s", start=cn_date(period.start), end=cn_date(period.end)),
        "sections": sections,
        "notes": notes,
        "issued": _("区活动办 %(day)s 出具", day=cn_date(report.issued_at)),
    }


def issue_no(report) -> int:
    """The report's 第N期, counted from the campaign's first half month (frozen at issue; reports
    issued before the number was frozen count it now)."""
    frozen = report.figures.get("issue_no")
    if frozen:
        return frozen
    start = reports.campaign_start()
    return report.period.number_from(start) if start is not None else report.period.issue_no


def _date(value: str):
    from datetime import date

    return date.fromisoformat(value)


def print_context(report: HalfMonthReport) -> dict:
    return {**layout(report), "report": report}


# ---------------------------------------------------------------- Excel: the same layout


THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


PERCENT = "0.0%"
POINTS = "+0.0;-0.0;0.0"


def _cell_value(value):
    """A cell as Excel should hold it: rates as fractions with a percent format, points signed."""
    if isinstance(value, Rate):
        return (None if value.value is None else round(value.value / 100, 6)), PERCENT
    if isinstance(value, Points):
        return value.value, POINTS
    return value, None


def _table_sheet(wb: Workbook, title: str, headers: list, rows: list, name_column) -> None:
    """One table on its own sheet: the header row (bold, frozen), then one row per line."""
    ws = wb.create_sheet(title=title[:31])
    for col, header in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r, values in enumerate(rows, start=2):
        for col, raw in enumerate(values, start=1):
            value, number_format = _cell_value(raw)
            cell = ws.cell(row=r, column=col, value=value)
            cell.border = BOX
            if number_format:
                cell.number_format = number_format
            cell.alignment = Alignment(horizontal="left" if col - 1 == name_column else "center")
    for col in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(col)].width = 18 if col - 1 == name_column else 12
    ws.freeze_panes = "A2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1


def workbook(report: HalfMonthReport) -> bytes:
    """The same document as the PDF, one table per sheet (a clerk sorts and filters each one):
    a cover sheet (title, number, period, summary, notes), then a sheet per table, its header in
    the first row; rates are numbers with a percent format."""
    doc = layout(report)
    wb = Workbook()
    cover = wb.active
    cover.title = _("说明")
    lines = [(doc["issuer"], True), (doc["doc_title"], True), (doc["doc_number"], False),
             (doc["subtitle"], False), (None, False)]
    for section in doc["sections"]:
        if section.get("text"):
            lines.append((f"{section['heading']}：{section['text']}", False))
    lines += [(note, False) for note in doc["notes"]] + [(doc["issued"], False)]
    for r, (text, bold) in enumerate(lines, start=1):
        cell = cover.cell(row=r, column=1, value=text)
        cell.font = Font(bold=bold, size=14 if bold else 11)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    cover.column_dimensions["A"].width = 110
    for section in doc["sections"]:
        title = section["heading"].split("、", 1)[-1]
        if section["headers"]:
            _table_sheet(wb, title, section["headers"], section["rows"], section["name_column"])
        elif section.get("table"):
            headers, rows = section["table"]
            _table_sheet(wb, title, headers, rows, 0)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsx_download(data: bytes, filename: str) -> Response:
    resp = Response(data, mimetype=XLSX_MIME)
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return resp
