"""Import of the districts' Excel 台账 (households, enterprises) as a background job.

The file is read row by row (python-calamine, or openpyxl read-only without it; cells as their
values — a formula's cached value, never the formula), the row limit checked while reading. Every row is validated (required
fields, unknown town, village or cadre, duplicates in the file, bad credit code, phone or number);
with any error nothing is written unless the user chose "import the valid rows only", and the
errors come back as a workbook: row number and reason beside each row. Rows are upserted by their
natural key (village + 户号; 统一社会信用代码, or town + name for an individual business without
one); a row equal to what the register holds is counted "unchanged", so the same file twice
writes nothing the second time. All writes go in one transaction at the end, in batches.
"""

import datetime
import functools
import hashlib
import io
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from sqlalchemy import bindparam, delete, func, insert, select, tuple_, update

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import audit, clock, jobs, pii, storage
from ..core.db import writing
from ..core.extensions import db
from ..org.models import TERRITORIAL, Unit, UnitKind, pinyin_initials
from . import credit_code
from . import operations as ops
from .intake_forms import normalise_phone
from .models import (
    SIZE_BAND_LABELS,
    AttentionMark,
    Enterprise,
    Household,
    SizeBand,
    household_marks,
)

try:  # the fast reader when installed (a runtime dependency); openpyxl read-only otherwise
    import python_calamine as calamine
except ImportError:  # pragma: no cover
    calamine = None

KINDS = {"households": _l("导入户籍台账"), "enterprises": _l("导入企业台账"), "visits": _l("导入历史走访台账")}
for _code, _label in KINDS.items():
    jobs.register_kind(f"visits.import.{_code}", _label)

HOUSEHOLD_COLUMNS = ("镇（街道）", "村（社区）", "户号", "户主姓名", "住址", "家庭人口", "联系电话", "关注标记", "包户干部账号")
ENTERPRISE_COLUMNS = ("企业名称", "统一社会信用代码", "个体工商户", "镇（街道）", "地址", "联系人", "联系电话", "规模",
                      "行业", "包企干部账号")
# The historical visits (before the system) with the problems raised: one row per visit, or per
# problem (rows of the same date, entry and cadre are one visit); see ``visit_imports``.
VISIT_COLUMNS = ("走访日期", "镇（街道）", "村（社区）", "户号", "企业信用代码", "企业名称", "走访干部账号", "走访方式",
                 "见到的人", "了解到的情况", "反映的诉求", "下一步打算", "未关联原因", "问题标题", "问题描述", "问题类别",
                 "群众姓名", "群众电话", "问题状态", "办结日期", "办理结果和回音")
REQUIRED = {"households": ("镇（街道）", "村（社区）", "户号", "户主姓名", "包户干部账号"),
            "enterprises": ("企业名称", "镇（街道）", "包企干部账号"),
            "visits": ("走访日期", "镇（街道）", "走访干部账号")}
BATCH = 1000
UPLOADS = "imports/"  # where an uploaded workbook waits for its job, in the upload store
PROGRESS_ROWS = 2000
ZIP_MAGIC, OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


def columns(kind: str) -> tuple[str, ...]:
    return {"households": HOUSEHOLD_COLUMNS, "enterprises": ENTERPRISE_COLUMNS, "visits": VISIT_COLUMNS}[kind]


def limits() -> tuple[int, int]:
    """(bytes, rows) an import may have (``IMPORT_MAX_MB``, ``IMPORT_MAX_ROWS``)."""
    cfg = current_app.config
    return int(cfg.get("IMPORT_MAX_MB", 20)) * 1024 * 1024, int(cfg.get("IMPORT_MAX_ROWS", 200_000))


def check_header_bytes(head: bytes) -> str | None:
    """A message when the file's first bytes show it is not an .xlsx workbook, else None."""
    if head.startswith(OLE_MAGIC):
        return _("文件设置了打开密码，或是旧版 .xls 格式：请在 Excel 中取消密码并另存为 .xlsx 后再导入。")
    if not head.startswith(ZIP_MAGIC):
        return _("文件类型不对：请上传 .xlsx 格式的 Excel 工作簿（可先下载导入模板）。")
    return None


def template_workbook(kind: str) -> bytes:
    """The downloadable template: the header row and one example row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(list(columns(kind)))
    if kind == "households":
        ws.append(["潘安湖街道", "权台村", "0001", "张某某", "三组 12 号", 4, "13800000000", "低保、残疾", "cadre"])
    elif kind == "visits":
        ws.append([datetime.date(2026, 5, 6), "潘安湖街道", "权台村", "0001", "", "", "cadre", "入户", "户主本人",
                   "老两口身体尚可", "门前道路坑洼", "下月回访", "", "门前道路坑洼积水", "雨后积水，出行不便",
                   "道路交通", "张某某", "13800000000", "已办结", datetime.date(2026, 5, 20),
                   "村里已平整路面、疏通边沟，回访时户主表示满意"])
        ws.append([datetime.date(2026, 5, 8), "潘安湖街道", "", "", "91320305MA0000001X", "", "cadre", "到企业",
                   "李经理", "生产正常", "", "", "", "", "", "", "", "", "", "", ""])
        for row in ws.iter_rows(min_row=2):
            row[0].number_format = row[19].number_format = "yyyy-mm-dd"
    else:
        ws.append(["某某科技有限公司", "91320305MA0000001X", "否", "潘安湖街道", "工业园 8 号", "李某",
                   "0516-87000000", "小型", "制造业", "cadre"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


class ImportRefused(Exception):
    """The whole file cannot be imported (message for the user)."""


def read_rows(path: Path, kind: str, max_rows: int) -> Iterator[tuple[int, dict]]:
    """``(row number, {column: value})`` of the first sheet, blank rows skipped; the header
    checked first and the row limit while reading (before, too, where the file declares its size)."""
    with open(path, "rb") as fh:
        problem = check_header_bytes(fh.read(8))
    if problem:
        raise ImportRefused(problem)
    rows = _calamine_rows(path, max_rows) if calamine is not None else _openpyxl_rows(path)
    try:
        header = [("" if h is None else str(h).strip()) for h in next(rows)]
    except StopIteration:
        raise ImportRefused(_("工作表是空的。")) from None
    missing = [c for c in REQUIRED[kind] if c not in header]
    if missing:
        raise ImportRefused(_("缺少列：%(columns)s（请使用导入模板）。", columns="、".join(missing)))
    index = {name: header.index(name) for name in columns(kind) if name in header}
    count = 0
    for number, row in enumerate(rows, start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        count += 1
        if count > max_rows:
            raise ImportRefused(_too_many(max_rows))
        yield number, {name: (row[i] if i < len(row) else None) for name, i in index.items()}


def _too_many(max_rows: int) -> str:
    return _("行数超过上限 %(n)s 行：请拆分成几个文件分别导入。", n=max_rows)


DAMAGED = _l("文件已损坏，无法读取：请在 Excel 中打开检查后另存为 .xlsx 再导入。")


def _calamine_rows(path: Path, max_rows: int) -> Iterator[list]:
    """Rows by python-calamine (Rust): cached values of formulas, never their text."""
    try:
        sheet = calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    except Exception as exc:  # noqa: BLE001 - calamine raises its own and zip errors
        raise ImportRefused(str(DAMAGED)) from exc
    if sheet.total_height > max_rows + 1_000:  # declared size: refused before reading the rows
        raise ImportRefused(_too_many(max_rows))
    try:
        for row in sheet.iter_rows():
            yield [None if v == "" else v for v in row]
    except Exception as exc:  # noqa: BLE001
        raise ImportRefused(str(DAMAGED)) from exc


def _openpyxl_rows(path: Path) -> Iterator[tuple]:
    """Rows by openpyxl read-only (cells as their cached values)."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportRefused(str(DAMAGED)) from exc
    try:
        yield from (row or () for row in wb.worksheets[0].iter_rows(values_only=True))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ImportRefused(str(DAMAGED)) from exc
    finally:
        wb.close()


def _text(value, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:limit]


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str, dict]] = field(default_factory=list)
    rows: int = 0


class _Lookups:
    """Towns, villages, cadres and marks by name, loaded once per import."""

    def __init__(self):
        units = db.session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.parent_id)
                                   .where(Unit.is_active.is_(True))).all()
        self.towns = {name: uid for uid, name, kind, _p in units if kind in TERRITORIAL}
        self.villages = {(parent, name): uid for uid, name, kind, parent in units if kind == UnitKind.village}
        self.cadres = {u: (i, unit) for i, u, unit in db.session.execute(
            select(User.id, User.username, User.unit_id).where(User.role == Role.cadre,
                                                                User.is_active_account.is_(True)))}
        self.marks = dict(db.session.execute(select(AttentionMark.name, AttentionMark.id)
                                             .where(AttentionMark.is_active.is_(True))).all())
        self.sizes = {str(label): band for band, label in SIZE_BAND_LABELS.items()}


def _household(row: dict, lk: _Lookups) -> tuple[dict | None, list[str]]:
    errs = []
    town = lk.towns.get(_text(row.get("镇（街道）"), 64))
    if town is None:
        errs.append(_("镇（街道）不存在"))
    village = lk.villages.get((town, _text(row.get("村（社区）"), 64))) if town else None
    if town and village is None:
        errs.append(_("村（社区）不在该镇（街道）"))
    number = _text(row.get("户号"), 33)
    if not number:
        errs.append(_("户号必填"))
    elif len(number) > 32:
        errs.append(_("户号超过 32 个字符"))
    head = _text(row.get("户主姓名"), 65)
    if not head:
        errs.append(_("户主姓名必填"))
    members_raw = row.get("家庭人口")
    members = 1
    if members_raw not in (None, ""):
        try:
            members = int(float(str(members_raw).strip()))
            if not 0 <= members <= 99 or float(str(members_raw).strip()) != members:
                raise ValueError
        except ValueError:
            errs.append(_("家庭人口应为 0 到 99 的整数"))
    phone_raw = _text(row.get("联系电话"), 40)
    phone = normalise_phone(phone_raw) if phone_raw else ""
    if phone is None:
        errs.append(_("联系电话无效"))
    marks = [m for m in (_text(row.get("关注标记"), 200).replace(",", "、").replace("，", "、").split("、")) if m.strip()]
    unknown = [m for m in marks if m.strip() not in lk.marks]
    if unknown:
        errs.append(_("未知的关注标记：%(m)s", m="、".join(unknown)))
    cadre = lk.cadres.get(_text(row.get("包户干部账号"), 64))
    if cadre is None:
        errs.append(_("包户干部账号不存在或不是走访队员"))
    if errs:
        return None, errs
    return {"village_id": village, "town_id": town, "number": number, "head_name": head[:64],
            "initials": _initials(head[:64])[:64], "address": _text(row.get("住址"), 255), "members": members,
            "phone": phone, "phone_index": pii.blind_index(phone, "phone"), "cadre_id": cadre[0],
            "work_group_id": cadre[1],
            "marks": sorted({lk.marks[m.strip()] for m in marks})}, []


def _enterprise(row: dict, lk: _Lookups) -> tuple[dict | None, list[str]]:
    errs = []
    name = _text(row.get("企业名称"), 129)
    if not name:
        errs.append(_("企业名称必填"))
    individual = _text(row.get("个体工商户"), 4) in ("是", "Y", "y", "1", "√")
    raw_code = _text(row.get("统一社会信用代码"), 40)
    code = credit_code.normalise(raw_code) if raw_code else None
    if raw_code and code is None:
        errs.append(_("统一社会信用代码无效（位数或校验位不对）"))
    if not raw_code and not individual:
        errs.append(_("缺少统一社会信用代码（个体工商户请在“个体工商户”列填“是”）"))
    town = lk.towns.get(_text(row.get("镇（街道）"), 64))
    if town is None:
        errs.append(_("镇（街道）不存在"))
    size_raw = _text(row.get("规模"), 8)
    size = lk.sizes.get(size_raw, SizeBand.small if not size_raw else None)
    if size is None:
        errs.append(_("规模应为 微型、小型、中型 或 大型"))
    phone_raw = _text(row.get("联系电话"), 40)
    phone = normalise_phone(phone_raw) if phone_raw else ""
    if phone is None:
        errs.append(_("联系电话无效"))
    cadre = lk.cadres.get(_text(row.get("包企干部账号"), 64))
    if cadre is None:
        errs.append(_("包企干部账号不存在或不是走访队员"))
    if errs:
        return None, errs
    return {"name": name[:128], "initials": _initials(name[:128])[:128], "credit_code": code,
            "is_individual": individual, "town_id": town, "address": _text(row.get("地址"), 255),
            "contact_name": _text(row.get("联系人"), 64), "phone": phone,
            "phone_index": pii.blind_index(phone, "phone"), "size_band": size,
            "industry": _text(row.get("行业"), 64), "cadre_id": cadre[0], "work_group_id": cadre[1]}, []


@functools.lru_cache(maxsize=65536)
def _initials(name: str) -> str:
    # Names repeat across a district's 台账: each is turned into pinyin once.
    return pinyin_initials(name)


def _hash(values: dict) -> str:
    # The row's values in a fixed order, unit-separated (no JSON encoder per row).
    return hashlib.sha256("\x1f".join(f"{k}={values[k]}" for k in sorted(values)).encode()).hexdigest()


def _key(kind: str, v: dict):
    if kind == "households":
        return ("h", v["village_id"], v["number"])
    return ("c", v["credit_code"]) if v["credit_code"] else ("n", v["town_id"], v["name"])


def validate(path: Path, kind: str, run: jobs.JobRun | None = None) -> tuple[Outcome, list[dict]]:
    """Every row checked; the valid ones returned with their row hash."""
    _bytes, max_rows = limits()
    lk = _Lookups()
    parse = _household if kind == "households" else _enterprise
    out, valid, seen = Outcome(), [], {}
    for number, row in read_rows(path, kind, max_rows):
        out.rows += 1
        values, errs = parse(row, lk)
        if values is not None:
            key = _key(kind, values)
            if key in seen:
                errs = [_("与第 %(n)d 行重复", n=seen[key])]
                values = None
            else:
                seen[key] = number
        if values is None:
            out.errors.append((number, "；".join(errs), row))
        else:
            values["row_hash"] = _hash(values)
            values["_key"] = key
            valid.append(values)
        if run is not None and out.rows % PROGRESS_ROWS == 0:
            run.progress(out.rows)
    return out, valid


def _existing(kind: str, valid: list[dict]) -> dict:
    """Natural key → (id, row hash) of the register entries the file names (in chunks)."""
    found = {}
    if kind == "households":
        keys = [(v["village_id"], v["number"]) for v in valid]
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            villages = sorted({k[0] for k in chunk})
            for hid, vid, num, h in db.session.execute(
                    select(Household.id, Household.village_id, Household.number, Household.row_hash)
                    .where(Household.village_id.in_(villages), Household.number.in_([k[1] for k in chunk]))):
                found[("h", vid, num)] = (hid, h)
        return found
    codes = [v["credit_code"] for v in valid if v["credit_code"]]
    for i in range(0, len(codes), 500):
        for eid, code, h in db.session.execute(select(Enterprise.id, Enterprise.credit_code, Enterprise.row_hash)
                                                .where(Enterprise.credit_code.in_(codes[i:i + 500]))):
            found[("c", code)] = (eid, h)
    named = [(v["town_id"], v["name"]) for v in valid if not v["credit_code"]]
    for i in range(0, len(named), 500):
        chunk = named[i:i + 500]
        for eid, tid, name, h in db.session.execute(
                select(Enterprise.id, Enterprise.town_id, Enterprise.name, Enterprise.row_hash)
                .where(Enterprise.credit_code.is_(None), tuple_(Enterprise.town_id, Enterprise.name).in_(chunk))):
            found[("n", tid, name)] = (eid, h)
    return found


def write(kind: str, valid: list[dict], out: Outcome) -> None:
    """Insert the new entries and update the changed ones, in batches (the caller commits)."""
    model = Household if kind == "households" else Enterprise
    table = model.__table__
    existing = _existing(kind, valid)
    new, changed = [], []
    for v in valid:
        hit = existing.get(v["_key"])
        if hit is None:
            new.append(v)
        elif hit[1] == v["row_hash"]:
            out.unchanged += 1
        else:
            changed.append({**v, "b_id": hit[0]})
    now = clock.now()
    last_id = db.session.scalar(select(func.max(table.c.id))) or 0  # the new rows come after it
    marks_rows = []
    extra = {"created_at": now, "version": 1, "is_closed": False, "closed_reason": ""}
    for i in range(0, len(new), BATCH):
        db.session.execute(insert(table), [{k: val for k, val in v.items() if k not in ("_key", "marks")} | extra
                                           for v in new[i:i + BATCH]])
    if kind == "households":
        # The new rows' ids, for their marks only (a plain executemany is the fast path of an insert).
        # Read back by id range (the rows just inserted come after ``last_id``): one primary-key
        # range scan, not a lookup by natural key per chunk.
        marked = [v for v in new if v["marks"]]
        ids = {("h", vid, num): hid for hid, vid, num in db.session.execute(
            select(Household.id, Household.village_id, Household.number).where(Household.id > last_id))} \
            if marked else {}
        marks_rows += [{"household_id": ids[v["_key"]], "mark_id": m} for v in marked for m in v["marks"]]
    out.created = len(new)
    fields = [c for c in (valid[0].keys() if valid else []) if c not in ("_key", "marks")]
    stmt = update(table).where(table.c.id == bindparam("b_id")).values(
        {f: bindparam(f"p_{f}") for f in fields} | {"version": table.c.version + 1})
    for i in range(0, len(changed), BATCH):
        chunk = changed[i:i + BATCH]
        db.session.execute(stmt, [{f"p_{f}": v[f] for f in fields} | {"b_id": v["b_id"]} for v in chunk])
        if kind == "households":
            ids = [v["b_id"] for v in chunk]
            db.session.execute(delete(household_marks).where(household_marks.c.household_id.in_(ids)))
            marks_rows += [{"household_id": v["b_id"], "mark_id": m} for v in chunk for m in v["marks"]]
    out.updated = len(changed)
    for i in range(0, len(marks_rows), BATCH * 5):
        db.session.execute(insert(household_marks), marks_rows[i:i + BATCH * 5])
    # The coverage counters follow the new and changed entries in the same transaction.
    ops.count_new_entries(model, last_id)
    ops.recount_entries(**{kind: [v["b_id"] for v in changed]})


def error_workbook(kind: str, errors: list[tuple[int, str, dict]]) -> bytes:
    """The rows with errors: row number and reason, then the row as it was."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误行")
    cols = columns(kind)
    ws.append(["行号", "错误原因", *cols])
    for number, reason, row in errors:
        ws.append([number, reason, *[_cell(row.get(c)) for c in cols]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


@contextmanager
def uploaded_workbook(stored: str):
    """The workbook a request left in the upload store for its job, as a local file while the job
    reads it (any host's worker can run the job); gone from the store afterwards."""
    name = UPLOADS + stored
    try:
        with tempfile.TemporaryDirectory(prefix="huiyin-import-") as tmp:
            path = Path(tmp) / "upload.xlsx"
            try:
                path.write_bytes(storage.current().get(name))
            except FileNotFoundError:
                raise jobs.JobError(_("上传的文件已不在，请重新导入。")) from None
            yield path
    finally:
        storage.current().delete(name)


@jobs.job_task(retries=0)
def import_register(run: jobs.JobRun, kind: str, stored: str, valid_only: bool, filename: str) -> dict:
    """Validate the uploaded 台账 and upsert its rows (see the module doc)."""
    with uploaded_workbook(stored) as path, force_locale("zh_CN"):
        return _import(run, kind, path, valid_only, filename)


def _import(run: jobs.JobRun, kind: str, path: Path, valid_only: bool, filename: str) -> dict:
    try:
        out, valid = validate(path, kind, run)
    except ImportRefused as exc:
        raise jobs.JobError(str(exc)) from None
    run.progress(out.rows, out.rows)
    result = {"rows": out.rows, "errors": len(out.errors)}
    if out.errors:
        result.update(run.save_file(f"错误行-{Path(filename).stem}.xlsx", error_workbook(kind, out.errors)))
    if out.errors and not valid_only:
        result["summary"] = _("共 %(rows)d 行，其中 %(bad)d 行有错误，未导入任何数据。请下载错误行，改正后重新导入；"
                              "或勾选“只导入无误的行”。", rows=out.rows, bad=len(out.errors))
        return result
    # The reading transaction ends here; the writes take the write lock from their first
    # statement (SQLite: BEGIN IMMEDIATE), so that no commit in between can make them fail.
    db.session.commit()
    with writing():
        write(kind, valid, out)
        user = db.session.get(User, run.user_id) if run.user_id else None
        detail = {"kind": kind, "file": filename, "rows": out.rows, "created": out.created, "updated": out.updated,
                  "unchanged": out.unchanged, "errors": len(out.errors), "job": run.job_id}
        audit.record(f"{'household' if kind == 'households' else 'enterprise'}.import", object_type="job",
                     object_id=run.job_id, user=user, detail=detail)
        db.session.commit()
    result.update(created=out.created, updated=out.updated, unchanged=out.unchanged)
    result["summary"] = _("共 %(rows)d 行：新增 %(c)d，更新 %(u)d，未变化 %(s)d，有错误未导入 %(e)d。",
                          rows=out.rows, c=out.created, u=out.updated, s=out.unchanged, e=len(out.errors))
    return result
