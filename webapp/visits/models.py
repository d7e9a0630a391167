"""Visits (走访记录)."""

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..cases.models import Problem
from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime, enum_column
from ..org.models import Unit


class HouseholdKind(enum.StrEnum):
    household = "household"
    enterprise = "enterprise"


class Visit(db.Model):
    """A cadre's visit to a household or enterprise (走访记录 / 民情日记)."""

    __tablename__ = "visits"
    audit_type = "visit"

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

    village: Mapped[Unit] = relationship(foreign_keys=[village_id])
    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    work_group: Mapped[Unit] = relationship(foreign_keys=[work_group_id])
    created_by: Mapped[User] = relationship()
    problems: Mapped[list[Problem]] = relationship(back_populates="visit", order_by="Problem.id")


