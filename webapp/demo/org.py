"""Load the Jiawang unit tree and the demo accounts.

Towns, streets, zones, published villages, campaign bodies and departments come from
``jiawang-units.csv`` (the shared data file). Where no village list is published, plausible
names are invented and marked ``is_demo``. No real person's name is used.
"""

import csv
from pathlib import Path

from sqlalchemy import func, select

from ..accounts.models import SecurityPolicy, User
from ..accounts.passwords import hash_password
from ..accounts.roles import ADMIN_ROLES, Role
from ..core import audit, clock
from ..core.extensions import db
from ..org.models import Unit, UnitKind

DEMO_PASSWORD = "Huiyin@2026"  # noqa: S105 - the published demo password (README)
# The demo admins' TOTP secret (README): add it to an authenticator app by hand. Demo data only.
DEMO_TOTP_SECRET = "HUIYINDEMOADMINSTOTPSECRETXYZ234"  # noqa: S105
CSV_PATH = Path(__file__).with_name("jiawang-units.csv")

CSV_KINDS = {"town": UnitKind.town, "street": UnitKind.street, "zone": UnitKind.zone,
             "village": UnitKind.village, "department": UnitKind.department}
BODIES = {"区活动办": UnitKind.office, "区活动领导小组": UnitKind.leading_group,
          "区12345平台大走访专席": UnitKind.desk}

# Invented (demo) villages for the units without a published list, so each has at least three.
DEMO_VILLAGES = {
    "青山泉镇": ["青山泉村", "白集村", "马庄村"],
    "紫庄镇": ["紫庄村", "南望村", "庞庄村"],
    "汴塘镇": ["汴塘村", "西庄村", "刘楼村"],
    "大吴街道": ["大吴社区", "西马庄村", "锅塘村"],
    "茱萸山街道": ["茱萸山社区", "夏庄村", "东山村"],
    "徐州工业园区": ["新城社区", "凤鸣社区", "东湖社区"],
    "潘安湖风景区": ["湖滨社区", "北湖村", "湿地村"],
    "大洞山风景区": ["大洞山村", "南山村", "茱萸寺村"],
}

# Each work group (one per town/street/zone) is led by a district department (牵头单位).
GROUP_LEADS = {
    "潘安湖街道": "区卫计委", "老矿街道": "区住建局", "大泉街道": "区人社局", "大吴街道": "区交通运输局",
    "茱萸山街道": "区城管局", "青山泉镇": "区农委", "紫庄镇": "区水利局", "塔山镇": "区教育局",
    "汴塘镇": "区环保局", "江庄镇": "区民政局", "徐州工业园区": "区经信委", "潘安湖风景区": "区发改委",
    "大洞山风景区": "区市场监管局",
}

# username, full name (invented), unit, role
DEMO_ACCOUNTS = [
    ("office", "周文静", "区活动办", Role.office),
    ("leader", "陈建国", "区活动领导小组", Role.leader),
    ("cadre", "王晓东", "潘安湖街道工作组", Role.cadre),
    ("grouplead", "李红梅", "潘安湖街道工作组", Role.group_lead),
    ("town", "张伟", "潘安湖街道", Role.handler),
    ("townlead", "刘志强", "潘安湖街道", Role.unit_leader),
    ("dept", "赵敏", "区民政局", Role.handler),
    ("deptlead", "孙立军", "区民政局", Role.unit_leader),
    ("desk", "吴婷", "区12345平台大走访专席", Role.desk),
    ("sysadmin", "郑浩", "贾汪区", Role.sysadmin),
    ("secadmin", "冯雪", "贾汪区", Role.secadmin),
    ("auditor", "何静", "贾汪区", Role.auditor),
]


def _unit(name, kind, parent, code=None, is_demo=False, note=None) -> Unit:
    unit = Unit(kind=kind, parent=parent, code=code or None, is_demo=is_demo, note=note)
    unit.set_name(name)
    db.session.add(unit)
    return unit


def load_org() -> dict[str, Unit]:
    """Create the Jiawang tree; returns units by name."""
    units: dict[str, Unit] = {}
    district = units["贾汪区"] = _unit("贾汪区", UnitKind.district, None, "320305")
    with CSV_PATH.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # parents first: everything whose parent is the district
        if row["parent"] == "贾汪区":
            kind = BODIES.get(row["name"]) if row["kind"] == "office" else CSV_KINDS[row["kind"]]
            units[row["name"]] = _unit(row["name"], kind, district, row["code"], note=row["note"])
    for row in rows:
        if row["kind"] == "village":
            units[row["name"]] = _unit(row["name"], UnitKind.village, units[row["parent"]], note=row["note"])
    for parent, names in DEMO_VILLAGES.items():
        for name in names:
            if name not in units or units[name].parent is not units[parent]:
                key = name if name not in units else f"{parent}/{name}"
                units[key] = _unit(name, UnitKind.village, units[parent], is_demo=True, note="演示数据（虚构村名）")
    for territory, lead in GROUP_LEADS.items():
        group = _unit(f"{territory}工作组", UnitKind.work_group, district, is_demo=True, note="演示数据")
        group.lead_unit = units[lead]
        group.covered_units = [units[territory]]
        units[group.name] = group
    db.session.flush()
    return units


def load_accounts(units: dict[str, Unit]) -> list[User]:
    """One demo account per role, all with the published demo password; the three admins are
    enrolled in TOTP with the published demo secret (README)."""
    pw = hash_password(DEMO_PASSWORD)
    users = []
    for username, full_name, unit_name, role in DEMO_ACCOUNTS:
        admin = role in ADMIN_ROLES
        user = User(
            username=username, full_name=full_name, unit=units[unit_name], role=role,
            password_hash=pw, password_changed_at=clock.now(), must_change_password=False, is_demo=True,
            totp_secret=DEMO_TOTP_SECRET if admin else None, totp_enrolled_at=clock.now() if admin else None,
        )
        db.session.add(user)
        users.append(user)
    db.session.flush()
    return users


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Unit))


def load_demo() -> None:
    """Load the organisation, the policy and the demo accounts (caller commits)."""
    if db.session.get(SecurityPolicy, 1) is None:
        db.session.add(SecurityPolicy(id=1))
    units = load_org()
    load_accounts(units)
    audit.record("demo.loaded", detail={"units": len(units), "accounts": len(DEMO_ACCOUNTS)})
