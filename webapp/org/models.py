"""Units form one tree: district → bodies, towns/streets/zones → villages, departments, groups."""

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from pypinyin import Style, lazy_pinyin
from sqlalchemy import Boolean, CheckConstraint, Column, Enum, ForeignKey, String, Table, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime


class UnitKind(enum.StrEnum):
    district = "district"
    leading_group = "leading_group"
    office = "office"
    town = "town"
    street = "street"
    zone = "zone"
    village = "village"
    department = "department"
    work_group = "work_group"
    desk = "desk"

    @property
    def label(self) -> str:
        return UNIT_KIND_LABELS[self]


UNIT_KIND_LABELS = {
    UnitKind.district: _l("区"),
    UnitKind.leading_group: _l("领导小组"),
    UnitKind.office: _l("活动办"),
    UnitKind.town: _l("镇"),
    UnitKind.street: _l("街道"),
    UnitKind.zone: _l("功能区"),
    UnitKind.village: _l("村（社区）"),
    UnitKind.department: _l("区级部门"),
    UnitKind.work_group: _l("工作组"),
    UnitKind.desk: _l("12345专席"),
}

# Towns, streets and functional zones own the problems of their area (属地管理).
TERRITORIAL = frozenset({UnitKind.town, UnitKind.street, UnitKind.zone})
# Units that handle assigned problems.
HANDLING = TERRITORIAL | {UnitKind.department, UnitKind.desk}

# Which kinds may sit under which parent kind. The district is the only root.
ALLOWED_PARENTS: dict[UnitKind, frozenset[UnitKind]] = {
    UnitKind.district: frozenset(),
    UnitKind.leading_group: frozenset({UnitKind.district}),
    UnitKind.office: frozenset({UnitKind.district}),
    UnitKind.desk: frozenset({UnitKind.district}),
    UnitKind.town: frozenset({UnitKind.district}),
    UnitKind.street: frozenset({UnitKind.district}),
    UnitKind.zone: frozenset({UnitKind.district}),
    UnitKind.department: frozenset({UnitKind.district}),
    UnitKind.work_group: frozenset({UnitKind.district}),
    UnitKind.village: TERRITORIAL,
}

work_group_units = Table(
    "work_group_units",
    db.metadata,
    Column("work_group_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


def pinyin_initials(name: str) -> str:
    """'潘安湖街道' → 'pahjd' (for search by initials)."""
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")).lower()


def pinyin_full(name: str) -> str:
    return "".join(lazy_pinyin(name, errors="ignore")).lower()


class Unit(db.Model):
    """A node of the organisation tree. Units with history are deactivated, never deleted."""

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )
    audit_type = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[UnitKind] = mapped_column(Enum(UnitKind, native_enum=False, length=16), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(32))
    short_name: Mapped[str | None] = mapped_column(String(32))
    # Work groups: the unit that leads the group (牵头单位).
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    pinyin_initials: Mapped[str] = mapped_column(String(64), default="", index=True)
    pinyin: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    version: Mapped[int] = mapped_column(default=1)

    parent: Mapped["Unit | None"] = relationship(
        remote_side="Unit.id", foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list["Unit"]] = relationship(
        foreign_keys=[parent_id], back_populates="parent", order_by="Unit.id"
    )
    lead_unit: Mapped["Unit | None"] = relationship(remote_side="Unit.id", foreign_keys=[lead_unit_id])
    covered_units: Mapped[list["Unit"]] = relationship(
        secondary=work_group_units,
        primaryjoin=lambda: Unit.id == work_group_units.c.work_group_id,
        secondaryjoin=lambda: Unit.id == work_group_units.c.unit_id,
        order_by="Unit.id",
    )

    __mapper_args__ = {"version_id_col": version}

    def set_name(self, name: str) -> None:
        self.name = name
        self.pinyin_initials = pinyin_initials(name)
        self.pinyin = pinyin_full(name)

    @property
    def kind_label(self) -> str:
        return self.kind.label

    @property
    def is_territorial(self) -> bool:
        return self.kind in TERRITORIAL

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name}>"


def unit_by_name(name: str) -> Unit | None:
    return db.session.scalar(select(Unit).where(Unit.name == name))
