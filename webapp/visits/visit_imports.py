"""Import of the historical visits (the campaign's paper / Excel 走访台账 from before the system)
with the problems raised in them, as a background job.

The file is read and checked like the registers' 台账 (``imports.read_rows``: values never
formulas, limits while reading; an error sheet with the row number and the reason; nothing
written when a row has an error unless "只导入无误的行" was chosen). One row is a visit, or one
problem of a visit: rows with the same date, register entry (户号 in its village, an enterprise's
credit code or name, or the village itself with a reason) and cadre are one visit, its fields taken
from the first of them. The visit is recorded through ``operations.record_visit`` as the cadre
who made it, each problem through ``cases.operations.register_problem`` (numbered, on the
timeline, in the queues' counters, waiting for triage like any new problem). Both carry a
client token derived from their natural key, so the same file twice finds them and reports
them "unchanged" instead of recording them again.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..accounts.models import User
from ..accounts.roles import Role
from ..cases import operations as case_ops
from ..cases.models import Category, Problem
from ..cases.workflow import STATUS_LABELS, Status
from ..core import audit, clock, jobs
from ..core.db import writing
from ..core.extensions import db
from ..org.models import TERRITORIAL, Unit, UnitKind
from . import credit_code
from . import operations as ops
from .imports import (
    PROGRESS_ROWS,
    ImportRefused,
    _text,
    error_workbook,
    limits,
    read_rows,
    uploaded_workbook,
)
from .intake_forms import normalise_phone
from .models import VISIT_MODE_LABELS, Enterprise, Household, HouseholdKind, Visit, VisitMode

EARLIEST = dt.date(2000, 1, 1)
CHUNK_ROWS = 200  # rows written per transaction
# The statuses a ledger's problem may be imported in: waiting for triage, or ended (已办结) with
# the result and reply the ledger records (``cases.operations.close_from_ledger``).
OPEN, CLOSED = STATUS_LABELS[Status.registered], STATUS_LABELS[Status.closed]


@dataclass
class Outcome:
    rows: int = 0
    visits_created: int = 0
    visits_unchanged: int = 0
    problems_created: int = 0
    problems_unchanged: int = 0
    errors: list[tuple[int, str, dict]] = field(default_factory=list)


class _Lookups:
    """Places, cadres, categories and modes by name, loaded once per import."""

    def __init__(self):
        units = db.session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.parent_id)
                                   .where(Unit.is_active.is_(True))).all()
        self.towns = {name: uid for uid, name, kind, _p in units if kind in TERRITORIAL}
        self.villages = {(parent, name): uid for uid, name, kind, parent in units if kind == UnitKind.village}
        self.first_village = {}
        for uid, _name, kind, parent in sorted(units):
            if kind == UnitKind.village:
                self.first_village.setdefault(parent, uid)
        self.cadres = dict(db.session.execute(select(User.username, User.id).where(
            User.role == Role.cadre, User.is_active_account.is_(True))).all())
        self.categories = dict(db.session.execute(select(Category.name, Category.id)
                                                  .where(Category.is_active.is_(True))).all())
        self.modes = {str(label): mode for mode, label in VISIT_MODE_LABELS.items()}
        # The register's entries, each loaded once (a closed one is found, to be refused by name).
        self.households = {(h.village_id, h.number): h for h in db.session.scalars(select(Household))}
        enterprises = list(db.session.scalars(select(Enterprise).order_by(Enterprise.id)))
        self.by_code = {e.credit_code: e for e in enterprises if e.credit_code}
        self.by_name: dict = {}
        for e in enterprises:
            self.by_name.setdefault((e.town_id, e.name), e)


def _date(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value, 20).replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日")
    try:
        return dt.date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError:
        return None


def _parse(row: dict, lk: _Lookups, today: dt.date) -> tuple[dict | None, list[str]]:
    """The row's visit (with its natural key) and problem, or the reasons it cannot be imported."""
    errs = []
    raw_day = row.get("走访日期")
    day = _date(raw_day)
    if raw_day in (None, ""):
        errs.append(_("走访日期必填"))
    elif day is None:
        errs.append(_("走访日期无法识别（请写成 2026-05-06）"))
    elif day > today or day < EARLIEST:
        errs.append(_("走访日期不可能（晚于今天或早于 2000 年）"))
    town = lk.towns.get(_text(row.get("镇（街道）"), 64))
    if town is None:
        errs.append(_("镇（街道）不存在"))
    village_name = _text(row.get("村（社区）"), 64)
    village = lk.villages.get((town, village_name)) if town and village_name else None
    if town and village_name and village is None:
        errs.append(_("村（社区）不在该镇（街道）"))
    cadre = lk.cadres.get(_text(row.get("走访干部账号"), 64))
    if cadre is None:
        errs.append(_("走访干部账号不存在或不是走访队员"))
    number = _text(row.get("户号"), 33)
    raw_code = _text(row.get("企业信用代码"), 40)
    ent_name = _text(row.get("企业名称"), 129)
    reason = _text(row.get("未关联原因"), 255)
    entry = None
    if number:
        if village is None and town:
            errs.append(_("按户号走访须填写村（社区）"))
        elif village is not None:
            entry = lk.households.get((village, number))
            if entry is None:
                errs.append(_("该村没有户号为 %(n)s 的户", n=number))
    elif raw_code:
        code = credit_code.normalise(raw_code)
        if code is None:
            errs.append(_("企业信用代码无效（位数或校验位不对）"))
        else:
            entry = lk.by_code.get(code)
            if entry is None:
                errs.append(_("没有信用代码为 %(c)s 的企业", c=code))
    elif ent_name:
        if town:
            entry = lk.by_name.get((town, ent_name))
            if entry is None:
                errs.append(_("该镇（街道）没有名为“%(n)s”的企业", n=ent_name))
    elif village is None and town:
        errs.append(_("请填写户号、企业信用代码或企业名称；集中座谈等请填写村（社区）和未关联原因"))
    elif village is not None and not reason:
        errs.append(_("未关联到户或企业的走访须填写未关联原因"))
    if entry is not None and entry.is_closed:
        errs.append(_("该户或企业已注销"))
    if entry is not None and town and entry.town_id != town:
        errs.append(_("该户或企业不属于所填镇（街道）"))
    is_enterprise = isinstance(entry, Enterprise)
    mode_raw = _text(row.get("走访方式"), 8)
    default_mode = VisitMode.enterprise if is_enterprise else (VisitMode.home if entry else VisitMode.meeting)
    mode = lk.modes.get(mode_raw) if mode_raw else default_mode
    if mode is None:
        errs.append(_("走访方式应为 入户、电话、集中座谈 或 到企业"))
    problem = _problem(row, lk, entry, errs, day, today)
    if errs:
        return None, errs
    if is_enterprise and village is None:
        village = lk.first_village.get(entry.town_id)
        if village is None:
            return None, [_("该企业所在镇（街道）还没有村（社区）")]
    if isinstance(entry, Household):
        village = entry.village_id
    target = ("h", entry.id) if isinstance(entry, Household) else ("e", entry.id) if entry else ("v", village)
    key = f"{day.isoformat()}|{target[0]}{target[1]}|{cadre}"
    return {"key": key, "day": day, "village": village, "cadre": cadre, "entry": entry, "mode": mode,
            "met": _text(row.get("见到的人"), 64), "situation": _text(row.get("了解到的情况"), 4000),
            "demands": _text(row.get("反映的诉求"), 4000), "follow_up": _text(row.get("下一步打算"), 2000),
            "reason": reason if entry is None else "", "problem": problem}, []


def _problem(row: dict, lk: _Lookups, entry, errs: list, day: dt.date | None, today: dt.date) -> dict | None:
    title = _text(row.get("问题标题"), 81)
    description = _text(row.get("问题描述"), 4001)
    category = _text(row.get("问题类别"), 64)
    resident = _text(row.get("群众姓名"), 65)
    phone_raw = _text(row.get("群众电话"), 40)
    if not any((title, description, category, resident, phone_raw, _text(row.get("问题状态"), 8),
                _text(row.get("办理结果和回音"), 8))):
        return None
    if not title:
        errs.append(_("问题标题必填（没有问题的走访请把问题各列留空）"))
    elif len(title) > 80:
        errs.append(_("问题标题超过 80 个字"))
    if not description:
        errs.append(_("问题描述必填"))
    elif len(description) > 4000:
        errs.append(_("问题描述超过 4000 个字"))
    if category not in lk.categories:
        errs.append(_("问题类别不存在或已停用：%(c)s", c=category or "—"))
    if not resident and isinstance(entry, Household):
        resident = entry.head_name
    if not resident:
        errs.append(_("群众姓名必填"))
    phone = normalise_phone(phone_raw) if phone_raw else ""
    if phone is None:
        errs.append(_("群众电话无效"))
    status = _text(row.get("问题状态"), 8) or str(OPEN)
    result = _text(row.get("办理结果和回音"), 2001)
    closed_on = None
    if status == str(CLOSED):
        if not result:
            errs.append(_("已办结的问题须填写办理结果和回音"))
        elif len(result) > 2000:
            errs.append(_("办理结果和回音超过 2000 个字"))
        raw_closed = row.get("办结日期")
        closed_on = _date(raw_closed) if raw_closed not in (None, "") else day
        if closed_on is None and raw_closed not in (None, ""):
            errs.append(_("办结日期无法识别（请写成 2026-05-20）"))
        elif day is not None and (closed_on < day or closed_on > today):
            errs.append(_("办结日期不可能（早于走访日期或晚于今天）"))
    elif status != str(OPEN):
        errs.append(_("问题状态应为 待研判 或 已办结（留空为待研判）"))
    return {"title": title, "description": description, "category": lk.categories.get(category),
            "resident": resident[:64], "phone": phone or "", "closed_on": closed_on, "result": result}


def registered_on(day: dt.date) -> dt.datetime:
    """The registration time of a ledger's problem: its visit's day (the ledger has no hour;
    before the close, which ``close_from_ledger`` puts at noon)."""
    return dt.datetime.combine(day, dt.time(9), clock.LOCAL_TZ)


def _token(*parts: str) -> str:
    return "ledger-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:56]


def validate(path: Path, run: jobs.JobRun | None = None) -> tuple[Outcome, list[dict]]:
    """Every row checked; the valid ones returned (each with the tokens of its visit and problem)."""
    _bytes, max_rows = limits()
    lk, today = _Lookups(), clock.today()
    out, valid, seen = Outcome(), [], {}
    for number, row in read_rows(path, "visits", max_rows):
        out.rows += 1
        values, errs = _parse(row, lk, today)
        if values is not None:
            values["visit_token"] = _token(values["key"])
            p = values["problem"]
            if p is not None:
                p["token"] = _token(values["key"], p["title"], p["description"])
                if p["token"] in seen:
                    values, errs = None, [_("与第 %(n)d 行是同一个问题", n=seen[p["token"]])]
                else:
                    seen[p["token"]] = number
        if values is None:
            out.errors.append((number, "；".join(errs), row))
        else:
            valid.append(values)
        if run is not None and out.rows % PROGRESS_ROWS == 0:
            run.progress(out.rows)
    return out, valid


def _taken(model, tokens: list[str]) -> set[str]:
    """Which of ``tokens`` rows of ``model`` already carry (in slices of 500)."""
    taken: set[str] = set()
    for k in range(0, len(tokens), 500):
        taken.update(db.session.scalars(select(model.client_token).where(model.client_token.in_(tokens[k:k + 500]))))
    return taken


def write(valid: list[dict], out: Outcome, closer: User, run: jobs.JobRun | None = None,
          chunk: int | None = None) -> None:
    """Record the visits and register their problems through the operations; ``closer`` (the
    office's importer) ends those the ledger says were 已办结. The caller commits the rest; with
    ``chunk``, every ``chunk`` rows are committed as they are written, so that a long file does
    not hold the database's write lock throughout. Every row was checked before (nothing is
    written when one has an error, unless asked), and a file broken off half way is finished by
    importing it again: the rows already written come back "unchanged"."""
    visits: dict[str, Visit] = {}
    users: dict[int, User] = {}
    categories: dict[int, Category] = {}
    # The tokens the file's visits and problems already carry (a file imported before), looked up
    # in bulk rather than by each operation.
    old_visits = _taken(Visit, [v["visit_token"] for v in valid])
    old_problems = _taken(Problem, [v["problem"]["token"] for v in valid if v["problem"] is not None])
    for i, v in enumerate(valid, start=1):
        # Every operation flushes what it creates, so its own reads need no flush before them:
        # one flush per object instead of one per read.
        with db.session.no_autoflush:
            cadre = users.get(v["cadre"]) or users.setdefault(v["cadre"], db.session.get(User, v["cadre"]))
            visit = visits.get(v["visit_token"])
            if visit is None:
                entry = v["entry"]
                village = db.session.get(Unit, v["village"])
                visit, created = ops.record_visit(
                    cadre, visited_on=v["day"], village=village,
                    household_kind=HouseholdKind.enterprise if isinstance(entry, Enterprise) else HouseholdKind.household,
                    household_name=(entry.head_name if isinstance(entry, Household) else entry.name) if entry
                    else village.name,
                    visitors=cadre.full_name, situation=v["situation"], demands=v["demands"],
                    client_token=v["visit_token"], household=entry if isinstance(entry, Household) else None,
                    enterprise=entry if isinstance(entry, Enterprise) else None, mode=v["mode"], met=v["met"],
                    follow_up=v["follow_up"], unregistered_reason=v["reason"],
                    fresh=v["visit_token"] not in old_visits)
                visits[v["visit_token"]] = visit
                if created:
                    out.visits_created += 1
                else:
                    out.visits_unchanged += 1
            p = v["problem"]
            if p is not None:
                data = case_ops.ProblemInput(
                    resident_name=p["resident"], resident_phone=p["phone"], resident_id_number=None,
                    village=visit.village, address=v["entry"].address if v["entry"] is not None else "",
                    category=categories.get(p["category"]) or categories.setdefault(
                        p["category"], db.session.get(Category, p["category"])),
                    title=p["title"], description=p["description"], household_name=visit.household_name)
                # Registered on the day of the ledger's visit (the statistics' periods count it there),
                # the timeline and the audit saying it was imported.
                problem, created = case_ops.register_problem(
                    cadre, data, visit=visit, client_token=p["token"], registered_at=registered_on(v["day"]),
                    note=_("按原走访台账导入（%(d)s 走访时登记）", d=v["day"].isoformat()),
                    detail={"imported": True, "visited_on": v["day"].isoformat()},
                    fresh=p["token"] not in old_problems)
                if created and p["closed_on"] is not None:
                    case_ops.close_from_ledger(problem, closer, result=p["result"], closed_on=p["closed_on"])
                if created:
                    out.problems_created += 1
                else:
                    out.problems_unchanged += 1
        if run is not None and i % PROGRESS_ROWS == 0:
            run.progress(out.rows + i, out.rows + len(valid))
        if chunk and i % chunk == 0:
            db.session.commit()


@jobs.job_task(retries=0)
def import_visits(run: jobs.JobRun, stored: str, valid_only: bool, filename: str) -> dict:
    """Validate the uploaded 走访台账 and record its visits and problems (see the module doc)."""
    with uploaded_workbook(stored) as path, force_locale("zh_CN"):
        return _import(run, path, valid_only, filename)


def _import(run: jobs.JobRun, path: Path, valid_only: bool, filename: str) -> dict:
    try:
        out, valid = validate(path, run)
    except ImportRefused as exc:
        raise jobs.JobError(str(exc)) from None
    run.progress(out.rows, out.rows + len(valid))
    result = {"rows": out.rows, "errors": len(out.errors)}
    if out.errors:
        result.update(run.save_file(f"错误行-{Path(filename).stem}.xlsx", error_workbook("visits", out.errors)))
    if out.errors and not valid_only:
        result["summary"] = _("共 %(rows)d 行，其中 %(bad)d 行有错误，未导入任何数据。请下载错误行，改正后重新导入；"
                              "或勾选“只导入无误的行”。", rows=out.rows, bad=len(out.errors))
        return result
    db.session.commit()
    with writing():
        user = db.session.get(User, run.user_id) if run.user_id else None
        write(valid, out, user, run, chunk=CHUNK_ROWS)
        audit.record("visit.import", object_type="job", object_id=run.job_id, user=user, detail={
            "file": filename, "rows": out.rows, "visits_created": out.visits_created,
            "visits_unchanged": out.visits_unchanged, "problems_created": out.problems_created,
            "problems_unchanged": out.problems_unchanged, "errors": len(out.errors), "job": run.job_id})
        db.session.commit()
    run.progress(out.rows + len(valid), out.rows + len(valid))
    result.update(visits_created=out.visits_created, visits_unchanged=out.visits_unchanged,
                  problems_created=out.problems_created, problems_unchanged=out.problems_unchanged)
    result["summary"] = _("共 %(rows)d 行：新增走访 %(v)d 次、问题 %(p)d 个；未变化走访 %(vs)d 次、问题 %(ps)d 个；"
                          "有错误未导入 %(e)d 行。", rows=out.rows, v=out.visits_created, p=out.problems_created,
                          vs=out.visits_unchanged, ps=out.problems_unchanged, e=len(out.errors))
    return result

