"""Integrity tables: flags, spot checks and accountability records.

Flags are raised by the scan (``integrity.scan``) or by a contradicted spot-check callback;
every row here is written by the operations of ``integrity.operations``, ``integrity.spotchecks``
and ``integrity.accountability``, never by a view.
"""

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
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
from ..core.types import UTCDateTime, enum_column
from ..handling.models import Closure, ReplyMethod
from ..org.models import Unit


class FlagKind(enum.StrEnum):
    no_evidence = "no_evidence"  # 销号无佐证材料
    bunched = "bunched"  # 期末集中销号
    contradicted_reply = "contradicted_reply"  # 群众反映已销号问题未解决
    raised_again = "raised_again"  # 办结后同一户再次反映同类问题
    reopen_outlier = "reopen_outlier"  # 单位重办率异常
    spot_check = "spot_check"  # 抽查回访不属实


class FlagStatus(enum.StrEnum):
    open = "open"  # 待核查
    confirmed = "confirmed"  # 核查属实
    dismissed = "dismissed"  # 核查排除


class Flag(db.Model):
    """One integrity finding for the office to review, with the evidence behind it."""

    __tablename__ = "integrity_flags"
    audit_type = "integrity_flag"
    __table_args__ = (Index("ix_integrity_flags_status_kind", "status", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[FlagKind] = mapped_column(enum_column(FlagKind, 24))
    # What makes the finding unique (the scan raises each once, however often it runs).
    key: Mapped[str] = mapped_column(String(120), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)  # the unit it concerns
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"), index=True)
    period_start: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)  # one line, stored in the district's language
    evidence: Mapped[dict] = mapped_column(JSON)  # the facts behind it (ids, numbers, dates, counts)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    detected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the scan
    status: Mapped[FlagStatus] = mapped_column(enum_column(FlagStatus, 16), default=FlagStatus.open)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    accountability_id: Mapped[int | None] = mapped_column(ForeignKey("accountability_records.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    unit: Mapped[Unit] = relationship()
    problem: Mapped[Problem | None] = relationship()
    detected_by: Mapped[User | None] = relationship(foreign_keys=[detected_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    accountability: Mapped["AccountabilityRecord | None"] = relationship(back_populates="flags")


class SpotCheck(db.Model):
    """A random sample of a half month's verified sign-offs for the office's own callback."""

    __tablename__ = "spot_checks"
    audit_type = "spot_check"
    __table_args__ = (UniqueConstraint("period_start", name="spot_check_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    rate: Mapped[int] = mapped_column(Integer)  # percent of the population drawn
    population: Mapped[int] = mapped_column(Integer)  # sign-offs verified in the period
    seed: Mapped[str] = mapped_column(String(32))  # the random draw can be repeated from it
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    drawn_by: Mapped[User] = relationship()
    items: Mapped[list["SpotCheckItem"]] = relationship(
        back_populates="spot_check", order_by="SpotCheckItem.id", cascade="all, delete-orphan")


class CallbackResult(enum.StrEnum):
    pending = "pending"  # 待回访
    confirmed = "confirmed"  # 属实（问题确已解决）
    contradicted = "contradicted"  # 不属实（群众反映未解决）
    unreachable = "unreachable"  # 无法联系


class SpotCheckItem(db.Model):
    """One sampled sign-off and the office's callback result."""

    __tablename__ = "spot_check_items"
    audit_type = "spot_check_item"
    __table_args__ = (UniqueConstraint("spot_check_id", "problem_id", name="spot_check_problem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spot_check_id: Mapped[int] = mapped_column(ForeignKey("spot_checks.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    closure_id: Mapped[int] = mapped_column(ForeignKey("closures.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the unit that signed off
    result: Mapped[CallbackResult] = mapped_column(enum_column(CallbackResult, 16), default=CallbackResult.pending)
    method: Mapped[ReplyMethod | None] = mapped_column(enum_column(ReplyMethod, 16))
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)  # what the resident said
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("integrity_flags.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    spot_check: Mapped[SpotCheck] = relationship(back_populates="items")
    problem: Mapped[Problem] = relationship()
    closure: Mapped[Closure] = relationship()
    unit: Mapped[Unit] = relationship()
    called_by: Mapped[User | None] = relationship()
    flag: Mapped[Flag | None] = relationship()


class Finding(enum.StrEnum):
    """What a person named on a 问责 record is found to have done."""

    false_closure = "false_closure"  # 虚假办结
    overdue = "overdue"  # 超时
    perfunctory = "perfunctory"  # 敷衍应付
    other = "other"  # 其他


class Measure(enum.StrEnum):
    talk = "talk"  # 约谈
    criticism = "criticism"  # 通报批评
    admonish = "admonish"  # 诫勉谈话
    rectify = "rectify"  # 责令整改
    other = "other"  # 其他


accountability_problems = Table(
    "accountability_problems",
    db.metadata,
    Column("record_id", ForeignKey("accountability_records.id"), primary_key=True),
    Column("problem_id", ForeignKey("problems.id"), primary_key=True),
)


class AccountabilityRecord(db.Model):
    """问责: a measure taken against a unit — what, when, decided by whom, the problems concerned."""

    __tablename__ = "accountability_records"
    audit_type = "accountability"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    measure: Mapped[Measure] = mapped_column(enum_column(Measure, 16))
    facts: Mapped[str] = mapped_column(Text)  # 问责事由
    decided_on: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[str] = mapped_column(String(64))  # 决定机关/人, e.g. 区活动领导小组
    number: Mapped[str | None] = mapped_column(String(40), unique=True)  # 贾汪走访办问〔2026〕3号
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    unit: Mapped[Unit] = relationship()
    recorded_by: Mapped[User] = relationship()
    problems: Mapped[list[Problem]] = relationship(secondary=accountability_problems, order_by=Problem.id)
    flags: Mapped[list[Flag]] = relationship(back_populates="accountability", order_by=Flag.id)
    persons: Mapped[list["AccountabilityPerson"]] = relationship(
        back_populates="record", order_by="AccountabilityPerson.id", cascade="all, delete-orphan")


class AccountabilityPerson(db.Model):
    """A person a 问责 record names, with the finding; read only by the office and the leader."""

    __tablename__ = "accountability_persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("accountability_records.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    post: Mapped[str] = mapped_column(String(64))  # 单位职务
    finding: Mapped[Finding] = mapped_column(enum_column(Finding, 16))

    record: Mapped[AccountabilityRecord] = relationship(back_populates="persons")
