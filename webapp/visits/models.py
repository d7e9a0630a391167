"""Visits (走访记录), the registers of households and enterprises, attention marks and rounds.

Each household and enterprise has one responsible cadre (包户/包企); ``work_group_id`` copies the
cadre's unit when the cadre is set so that coverage groups by work group without a join through
users. ``town_id`` of a household copies its village's parent for the same reason. Entries are
closed with a reason, never deleted.
"""

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..cases.models import Problem
from ..core import clock
from ..core.extensions import db
from ..core.pii import EncryptedString
from ..core.types import UTCDateTime, enum_column
from ..org.models import Unit, pinyin_initials


class HouseholdKind(enum.StrEnum):
    household = "household"
    enterprise = "enterprise"


class VisitMode(enum.StrEnum):
    home = "home"            # 入户
    phone = "phone"          # 电话
    meeting = "meeting"      # 集中座谈
    enterprise = "enterprise"  # 到企业

    @property
    def label(self) -> str:
        return VISIT_MODE_LABELS[self]


VISIT_MODE_LABELS = {VisitMode.home: _l("入户"), VisitMode.phone: _l("电话"),
                     VisitMode.meeting: _l("集中座谈"), VisitMode.enterprise: _l("到企业")}


class SizeBand(enum.StrEnum):
    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"

    @property
    def label(self) -> str:
        return SIZE_BAND_LABELS[self]


SIZE_BAND_LABELS = {SizeBand.micro: _l("微型"), SizeBand.small: _l("小型"),
                    SizeBand.medium: _l("中型"), SizeBand.large: _l("大型")}


class AttentionMark(db.Model):
    """A mark a visiting cadre needs to know (低保、五保、独居老人…): a short list the office edits."""

    __tablename__ = "attention_marks"
    audit_type = "attention_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(16), unique=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


DEFAULT_MARKS = ("低保", "五保", "独居老人", "残疾", "重病", "退役军人", "留守儿童")

household_marks = Table(
    "household_marks", db.metadata,
    Column("household_id", ForeignKey("households.id"), primary_key=True),
    Column("mark_id", ForeignKey("attention_marks.id"), primary_key=True, index=True),
)


class _Register:
    """What households and enterprises share: the responsible cadre, closing, search initials."""

    def set_cadre(self, cadre: User) -> None:
        self.cadre_id = cadre.id
        self.work_group_id = cadre.unit_id


class Household(_Register, db.Model):
    """A household (户), numbered within its village (户号)."""

    __tablename__ = "households"
    audit_type = "household"
    __table_args__ = (
        UniqueConstraint("village_id", "number", name="village_number"),
        CheckConstraint("members >= 0", name="members_not_negative"),
        CheckConstraint("NOT is_closed OR closed_reason <> ''", name="closed_has_reason"),
        Index("ix_households_cadre_open", "cadre_id", "is_closed"),
        Index("ix_households_group_open", "work_group_id", "is_closed"),
        # Town and district coverage read these alone (is_closed included: a covering index).
        Index("ix_households_town_village", "town_id", "village_id", "is_closed"),
        # A town's open households in the lists' order (village, 户号): its unvisited list reads
        # the first page in order instead of sorting the town.
        Index("ix_households_town_open_number", "town_id", "is_closed", "village_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    number: Mapped[str] = mapped_column(String(32))
    head_name: Mapped[str] = mapped_column(String(64))
    initials: Mapped[str] = mapped_column(String(64), default="", index=True)
    address: Mapped[str] = mapped_column(String(255), default="")
    members: Mapped[int] = mapped_column(Integer, default=1)
    phone: Mapped[str] = mapped_column(EncryptedString("phone", index="phone_index"), default="")  # sealed
    phone_index: Mapped[str | None] = mapped_column(String(32), index=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_reason: Mapped[str] = mapped_column(String(255), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # What an import last wrote: the same row again is "unchanged".
    row_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    village: Mapped[Unit] = relationship(foreign_keys=[village_id])
    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    work_group: Mapped[Unit] = relationship(foreign_keys=[work_group_id])
    cadre: Mapped[User] = relationship()
    marks: Mapped[list[AttentionMark]] = relationship(secondary=household_marks, order_by=AttentionMark.sort_order)

    __mapper_args__ = {"version_id_col": version}

    def set_head(self, name: str) -> None:
        self.head_name = name
        self.initials = pinyin_initials(name)


class Enterprise(_Register, db.Model):
    """An enterprise or individual business (企业/个体工商户) of a town, street or zone."""

    __tablename__ = "enterprises"
    audit_type = "enterprise"
    __table_args__ = (
        CheckConstraint("is_individual OR credit_code IS NOT NULL", name="code_or_individual"),
        CheckConstraint("NOT is_closed OR closed_reason <> ''", name="closed_has_reason"),
        Index("ix_enterprises_cadre_open", "cadre_id", "is_closed"),
        Index("ix_enterprises_group_open", "work_group_id", "is_closed"),
        Index("ix_enterprises_town_open", "town_id", "is_closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    initials: Mapped[str] = mapped_column(String(128), default="", index=True)
    # 统一社会信用代码 (GB 32100-2015); an individual business may have none.
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    is_individual: Mapped[bool] = mapped_column(Boolean, default=False)
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    address: Mapped[str] = mapped_column(String(255), default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(EncryptedString("phone", index="phone_index"), default="")  # sealed
    phone_index: Mapped[str | None] = mapped_column(String(32), index=True)
    size_band: Mapped[SizeBand] = mapped_column(enum_column(SizeBand, 16), default=SizeBand.small)
    industry: Mapped[str] = mapped_column(String(64), default="")
    cadre_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_reason: Mapped[str] = mapped_column(String(255), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    row_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(default=1)

    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    work_group: Mapped[Unit] = relationship(foreign_keys=[work_group_id])
    cadre: Mapped[User] = relationship()

    __mapper_args__ = {"version_id_col": version}

    def set_name(self, name: str) -> None:
        self.name = name
        self.initials = pinyin_initials(name)


class VisitRound(db.Model):
    """A visiting round the office sets (第N轮走访): covered = at least one visit dated inside."""

    __tablename__ = "visit_rounds"
    audit_type = "visit_round"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Visit(db.Model):
    """A cadre's visit to a household or enterprise (走访记录 / 民情日记)."""

    __tablename__ = "visits"
    audit_type = "visit"
    __table_args__ = (
        CheckConstraint("household_id IS NULL OR enterprise_id IS NULL", name="one_register_entry"),
        # Coverage: "visited inside the round" per entry, read from the index alone.
        Index("ix_visits_household_day", "household_id", "visited_on"),
        Index("ix_visits_enterprise_day", "enterprise_id", "visited_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    household_kind: Mapped[HouseholdKind] = mapped_column(enum_column(HouseholdKind, 16))
    household_name: Mapped[str] = mapped_column(String(64))
    visitors: Mapped[str] = mapped_column(String(255))
    situation: Mapped[str] = mapped_column(Text, default="")
    demands: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # One submission → one visit, however often the form is sent (double submit, retry).
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The register entry visited; neither for a village meeting or a passer-by (with a reason), or
    # for a visit recorded before the registers existed and not linked yet.
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    mode: Mapped[VisitMode] = mapped_column(enum_column(VisitMode, 16), default=VisitMode.home)
    met: Mapped[str] = mapped_column(String(64), default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    unregistered_reason: Mapped[str] = mapped_column(String(255), default="")
    # The 走访记录表's number, counted from the campaign's start (core.numbering, kind
    # "visit_record"): drawn when the visit is recorded, or by ``operations.number_visits``.
    record_no: Mapped[int | None] = mapped_column(Integer, unique=True)

    village: Mapped[Unit] = relationship(foreign_keys=[village_id])
    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    work_group: Mapped[Unit] = relationship(foreign_keys=[work_group_id])
    created_by: Mapped[User] = relationship()
    household: Mapped[Household | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    problems: Mapped[list[Problem]] = relationship(back_populates="visit", order_by="Problem.id")
    photos: Mapped[list["VisitPhoto"]] = relationship(back_populates="visit", order_by="VisitPhoto.id")


class VisitPhoto(db.Model):
    """A photo taken at a visit (not of a problem): checked and re-encoded like a problem's photos,
    stored outside static/ with a thumbnail beside it, served only to those who may read the visit."""

    __tablename__ = "visit_photos"
    audit_type = "visit_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    visit: Mapped[Visit] = relationship(back_populates="photos")


