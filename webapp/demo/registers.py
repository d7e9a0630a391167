"""The demo registers: households in every demo village (hundreds each), the towns' enterprises,
two visiting rounds and their visits, so that coverage differs by town (one nearly done, one far
behind), and the demo problems' visits tied to register entries.

Everything goes in by bulk inserts (a few statements per table): ``flask setup`` stays about a
minute on two cores. Names are invented from the demo name lists; no real person is named.
"""

import random
from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import func, select

from ..accounts.models import User
from ..accounts.roles import Role
from ..core import audit, clock, pii
from ..core.extensions import db
from ..org.models import TERRITORIAL, Unit, UnitKind, pinyin_initials, work_group_units
from ..visits import counts as coverage_counts
from ..visits import operations as visit_ops
from ..visits.credit_code import check_char
from ..visits.models import (
    AttentionMark,
    Enterprise,
    Household,
    SizeBand,
    Visit,
    VisitMode,
    VisitRound,
    household_marks,
)
from .cases import GIVEN, SURNAMES

EVENT = "demo.registers_loaded"
BATCH = 2000
# How far each town has got in the current round (the rest of the towns lie between).
PACE = {"潘安湖街道": 0.96, "青山泉镇": 0.22, "大泉街道": 0.8, "江庄镇": 0.55}
ENTERPRISE_WORDS = ("恒达", "鑫源", "华泰", "宏远", "金石", "同力", "绿野", "安康", "富民", "顺通", "兴业", "永盛")
ENTERPRISE_KINDS = (("建材有限公司", "制造业"), ("农业科技有限公司", "农业"), ("物流有限公司", "交通运输"),
                    ("食品有限公司", "食品加工"), ("机械制造有限公司", "制造业"), ("商贸有限公司", "批发零售"))
SHOPS = (("小吃店", "餐饮"), ("便利店", "零售"), ("理发店", "居民服务"), ("五金店", "零售"), ("农资店", "农资"))
SITUATIONS = ("家中{n}口人，身体状况尚可。", "老人独居，子女在外务工。", "家庭收入以种植为主。", "家中有学生在读。")


def has_registers() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(Household)))


def rounds_for(today: date) -> tuple[tuple[str, date, date], tuple[str, date, date]]:
    """Round one: the campaign's first two months, long over; round two: under way today."""
    first_start = today - timedelta(days=130)
    return (("第一轮走访", first_start, first_start + timedelta(days=59)),
            ("第二轮走访", today - timedelta(days=30), today + timedelta(days=20)))


def _ids(model, n: int) -> list[int]:
    start = (db.session.scalar(select(func.max(model.id))) or 0) + 1
    return list(range(start, start + n))


def _insert(table, rows: list[dict]) -> None:
    conn = db.session.connection()
    pii.with_blind_indexes(table, rows)
    for i in range(0, len(rows), BATCH):
        conn.execute(sa.insert(table), rows[i:i + BATCH])


def load_registers(seed: int = 2017, per_village: tuple[int, int] = (150, 320)) -> dict:
    """Load the demo registers, rounds and visits (the caller commits); returns the counts."""
    rng = random.Random(f"huiyin-registers-{seed}")  # noqa: S311 - demo data
    today = clock.today()
    now = clock.now()
    units = db.session.execute(select(Unit.id, Unit.name, Unit.kind, Unit.parent_id)
                               .where(Unit.is_active.is_(True))).all()
    towns = {uid: name for uid, name, kind, _p in units if kind in TERRITORIAL}
    villages = [(uid, name, parent) for uid, name, kind, parent in units if kind == UnitKind.village and parent in towns]
    # Each town's cadres: those of the work groups that cover it.
    group_of_town: dict[int, list[int]] = defaultdict(list)
    for group_id, unit_id in db.session.execute(select(work_group_units.c.work_group_id, work_group_units.c.unit_id)):
        group_of_town[unit_id].append(group_id)
    cadres_of_group: dict[int, list[int]] = defaultdict(list)
    for uid, unit_id in db.session.execute(select(User.id, User.unit_id).where(User.role == Role.cadre)
                                           .order_by(User.id)):
        cadres_of_group[unit_id].append(uid)
    staff = {t: [(c, g) for g in group_of_town[t] for c in cadres_of_group[g]] for t in towns}
    marks = list(db.session.scalars(select(AttentionMark.id).order_by(AttentionMark.sort_order)))
    initials: dict[str, str] = {}

    def ini(name: str) -> str:
        if name not in initials:
            initials[name] = pinyin_initials(name)
        return initials[name]

    # -- households
    homes, home_marks = [], []
    for vid, vname, tid in villages:
        people = staff.get(tid)
        if not people:
            continue
        n = rng.randint(*per_village)
        for k in range(n):
            head = rng.choice(SURNAMES) + rng.choice(GIVEN)
            cadre, group = people[k * len(people) // n]
            homes.append({"village_id": vid, "town_id": tid, "number": f"{k + 1:04d}", "head_name": head,
                          "initials": ini(head), "address": f"{vname}{rng.randint(1, 9)}组{rng.randint(1, 80)}号",
                          "members": rng.randint(1, 6), "phone": f"139{rng.randint(0, 99_999_999):08d}",
                          "cadre_id": cadre, "work_group_id": group, "is_closed": False, "closed_reason": "",
                          "created_at": now, "row_hash": "", "version": 1})
    for hid, h in zip(_ids(Household, len(homes)), homes, strict=True):
        h["id"] = hid
        if marks and rng.random() < 0.18:
            for m in rng.sample(marks, rng.choice((1, 1, 2))):
                home_marks.append({"household_id": hid, "mark_id": m})
    # -- enterprises
    firms = []
    serial = 0
    for tid, tname in towns.items():
        people = staff.get(tid)
        if not people:
            continue
        for k in range(rng.randint(20, 45)):
            cadre, group = people[k % len(people)]
            individual = rng.random() < 0.3
            if individual:
                shop, industry = rng.choice(SHOPS)
                name = f"{rng.choice(SURNAMES)}记{shop}"
                code = None
            else:
                suffix, industry = rng.choice(ENTERPRISE_KINDS)
                name = f"徐州{rng.choice(ENTERPRISE_WORDS)}{tname[:2]}{suffix}"
                serial += 1
                first = f"91320305MA{serial:07d}"
                code = first + check_char(first)
            firms.append({"name": f"{name}{k + 1}号" if individual else name.replace("有限公司", f"{k + 1}有限公司"),
                          "credit_code": code, "is_individual": individual, "town_id": tid,
                          "address": f"{tname}{rng.choice(('工业园', '商业街', '新村路'))}{rng.randint(1, 99)}号",
                          "contact_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                          "phone": f"0516-8{rng.randint(0, 9_999_999):07d}",
                          "size_band": rng.choice((SizeBand.micro, SizeBand.small, SizeBand.small, SizeBand.medium)),
                          "industry": industry, "cadre_id": cadre, "work_group_id": group, "is_closed": False,
                          "closed_reason": "", "created_at": now, "row_hash": "", "version": 1})
    for eid, e in zip(_ids(Enterprise, len(firms)), firms, strict=True):
        e["id"] = eid
        e["initials"] = ini(e["name"])
    # -- the demo problems' visits get their register entry (a household named like the visit's)
    linked_visits = []
    by_village: dict[int, list[dict]] = defaultdict(list)
    for h in homes:
        by_village[h["village_id"]].append(h)
    firms_by_town: dict[int, list[dict]] = defaultdict(list)
    for e in firms:
        firms_by_town[e["town_id"]].append(e)
    for visit_id, kind, name, vid, tid in db.session.execute(
            select(Visit.id, Visit.household_kind, Visit.household_name, Visit.village_id, Visit.town_id)):
        if kind == "enterprise" and firms_by_town.get(tid):
            e = rng.choice(firms_by_town[tid])
            linked_visits.append({"vid": visit_id, "hid": None, "eid": e["id"]})
        elif by_village.get(vid):
            h = rng.choice(by_village[vid])
            head = name.removesuffix("家")
            if 2 <= len(head) <= 4:
                h["head_name"], h["initials"] = head, ini(head)
            linked_visits.append({"vid": visit_id, "hid": h["id"], "eid": None})
    _insert(Household.__table__, homes)
    _insert(household_marks, home_marks)
    _insert(Enterprise.__table__, firms)
    if linked_visits:
        t = Visit.__table__
        db.session.connection().execute(
            sa.update(t).where(t.c.id == sa.bindparam("vid")).values(
                household_id=sa.bindparam("hid"), enterprise_id=sa.bindparam("eid")), linked_visits)
    # -- rounds and their visits
    round_rows = [{"name": name, "starts_on": start, "ends_on": end, "created_at": now}
                  for name, start, end in rounds_for(today)]
    _insert(VisitRound.__table__, round_rows)
    visits = []
    cadre_names = dict(db.session.execute(select(User.id, User.full_name)).all())
    town_ids = list(towns)
    pace = {tid: PACE.get(name, 0.35 + 0.5 * (i % 5) / 4) for i, (tid, name) in enumerate(sorted(
        towns.items(), key=lambda kv: kv[0]))}
    village_of_town = defaultdict(list)
    for vid, _vname, tid in villages:
        village_of_town[tid].append(vid)
    for r, (_name, start, end) in enumerate(rounds_for(today)):
        last = min(end, today)
        span = (last - start).days
        for entries, is_home in ((homes, True), (firms, False)):
            for e in entries:
                share = 0.97 if r == 0 else pace.get(e["town_id"], 0.5)
                if rng.random() >= share:
                    continue
                if not is_home and not village_of_town.get(e["town_id"]):
                    continue
                day = start + timedelta(days=rng.randint(0, span))
                visits.append({
                    "visited_on": day, "village_id": e["village_id"] if is_home else village_of_town[e["town_id"]][0],
                    "town_id": e["town_id"], "work_group_id": e["work_group_id"],
                    "household_kind": "household" if is_home else "enterprise",
                    "household_name": e["head_name"] if is_home else e["name"],
                    "visitors": cadre_names.get(e["cadre_id"], ""),
                    "situation": rng.choice(SITUATIONS).format(n=e.get("members", 3)) if is_home
                    else "企业生产经营正常。", "demands": "", "created_by_id": e["cadre_id"],
                    "created_at": now, "client_token": None,
                    "household_id": e["id"] if is_home else None, "enterprise_id": None if is_home else e["id"],
                    "mode": rng.choice((VisitMode.home, VisitMode.home, VisitMode.phone)) if is_home
                    else VisitMode.enterprise, "met": "户主本人" if is_home else "企业负责人",
                    "follow_up": "", "unregistered_reason": ""})
    _insert(Visit.__table__, visits)
    visit_ops.number_visits()  # their 走访记录表 numbers, from the campaign-wide counter
    if db.session.connection().dialect.name == "postgresql":
        for table in ("households", "enterprises", "visits", "visit_rounds"):
            db.session.connection().execute(sa.text(  # fixed table names, not input
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))  # noqa: S608
    coverage_counts.rebuild()  # loaded in bulk, past the operations: count the coverage afresh
    counts = {"households": len(homes), "enterprises": len(firms), "visits": len(visits),
              "linked": len(linked_visits), "towns": len(town_ids)}
    audit.record(EVENT, detail=counts)
    return counts
