"""Excel exports of the registers and the visit ledger, streamed.

A write-only workbook is filled from the query in batches (``yield_per``): rows are never all in
memory, and the file is sent from a temporary file that the response closes.
"""

import tempfile
from urllib.parse import quote

from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import select

from ..accounts.models import User
from ..cases.access import mask_phone
from ..core import clock
from ..core.extensions import db
from ..documents.excel import XLSX_MIME
from ..org.models import Unit
from .models import (
    SIZE_BAND_LABELS,
    VISIT_MODE_LABELS,
    AttentionMark,
    Household,
    Visit,
    household_marks,
)

BATCH = 2000


def _names(model) -> dict[int, str]:
    return dict(db.session.execute(select(model.id, model.full_name if model is User else model.name)).all())


def _send(wb: Workbook, filename: str) -> Response:
    spool = tempfile.TemporaryFile()
    wb.save(spool)
    size = spool.tell()
    spool.seek(0)

    def chunks():
        try:
            while block := spool.read(64 * 1024):
                yield block
        finally:
            spool.close()

    resp = Response(chunks(), mimetype=XLSX_MIME)
    resp.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    resp.headers["Content-Length"] = str(size)
    return resp


def _header(ws, headers) -> None:
    row = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=str(h))
        cell.font = Font(bold=True)
        row.append(cell)
    ws.append(row)


def _plain(value):
    # Text that a spreadsheet would take for a formula is written as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def register_workbook(model, cond, visit_round) -> Response:
    """The filtered register as a workbook (phones masked; 本轮已走访 for the chosen round)."""
    units, users = _names(Unit), _names(User)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("户籍台账") if model is Household else _("企业台账"))
    visited_col = Visit.household_id if model is Household else Visit.enterprise_id
    if model is Household:
        headers = [_("镇（街道）"), _("村（社区）"), _("户号"), _("户主"), _("住址"), _("人口"), _("联系电话"),
                   _("关注标记"), _("包户干部"), _("工作组"), _("本轮已走访"), _("状态")]
    else:
        headers = [_("镇（街道）"), _("企业名称"), _("统一社会信用代码"), _("个体工商户"), _("地址"), _("联系人"),
                   _("联系电话"), _("规模"), _("行业"), _("包企干部"), _("工作组"), _("本轮已走访"), _("状态")]
    _header(ws, headers)
    order = (model.town_id, model.village_id, model.number) if model is Household else (model.town_id, model.name)
    stmt = select(model).where(*cond).order_by(*order, model.id).execution_options(yield_per=BATCH)
    yes, no = _("是"), _("否")
    for batch in db.session.scalars(stmt).partitions():
        ids = [e.id for e in batch]
        visited = set()
        marks: dict[int, list[str]] = {}
        if visit_round is not None:
            visited = set(db.session.scalars(select(visited_col).where(
                visited_col.in_(ids), Visit.visited_on >= visit_round.starts_on,
                Visit.visited_on <= visit_round.ends_on)))
        if model is Household:
            for hid, name in db.session.execute(
                    select(household_marks.c.household_id, AttentionMark.name)
                    .join(AttentionMark, AttentionMark.id == household_marks.c.mark_id)
                    .where(household_marks.c.household_id.in_(ids)).order_by(AttentionMark.sort_order)):
                marks.setdefault(hid, []).append(name)
        for e in batch:
            state = _("已注销") if e.is_closed else _("在册")
            seen = (yes if e.id in visited else no) if visit_round is not None else ""
            if model is Household:
                row = [units.get(e.town_id), units.get(e.village_id), e.number, e.head_name, e.address, e.members,
                       mask_phone(e.phone), "、".join(marks.get(e.id, [])), users.get(e.cadre_id),
                       units.get(e.work_group_id), seen, state]
            else:
                row = [units.get(e.town_id), e.name, e.credit_code or "", yes if e.is_individual else no, e.address,
                       e.contact_name, mask_phone(e.phone), str(SIZE_BAND_LABELS[e.size_band]), e.industry,
                       users.get(e.cadre_id), units.get(e.work_group_id), seen, state]
            ws.append([_plain(v) for v in row])
    name = _("户籍台账") if model is Household else _("企业台账")
    return _send(wb, f"{name}-{clock.today().isoformat()}.xlsx")


def ledger_workbook(cond) -> Response:
    """走访台账: every visit the filters select, oldest first."""
    units, users = _names(Unit), _names(User)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("走访台账"))
    _header(ws, [_("走访日期"), _("镇（街道）"), _("村（社区）"), _("户/企"), _("对象"), _("走访方式"), _("见到的人"),
                 _("走访人员"), _("了解到的情况"), _("反映的诉求"), _("下一步打算"), _("登记人")])
    stmt = select(Visit).where(*cond).order_by(Visit.visited_on, Visit.id).execution_options(yield_per=BATCH)
    for batch in db.session.scalars(stmt).partitions():
        for v in batch:
            ws.append([_plain(x) for x in (
                v.visited_on, units.get(v.town_id), units.get(v.village_id),
                _("企") if v.household_kind.value == "enterprise" else _("户"), v.household_name,
                str(VISIT_MODE_LABELS[v.mode]), v.met, v.visitors, v.situation, v.demands, v.follow_up,
                users.get(v.created_by_id))])
    return _send(wb, f"{_('走访台账')}-{clock.today().isoformat()}.xlsx")
