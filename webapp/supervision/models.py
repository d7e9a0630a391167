"""督查督办 tables: supervision notices (督办单) and the agendas of the scheduling meetings (调度会).

Every row here is written by ``supervision.notices`` or ``supervision.agendas`` (the
operations), never by a view.
"""

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..cases.models import Problem
from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime, enum_column
from ..handling.models import Meeting
from ..org.models import Unit


class NoticeStatus(enum.StrEnum):
    open = "open"  # issued, the unit has not answered yet
    answered = "answered"  # the unit answered on the notice


class SupervisionNotice(db.Model):
    """督办单: issued by whoever assigned the problem (or the office) to the lead unit; the unit answers."""

    __tablename__ = "supervision_notices"
    audit_type = "supervision_notice"
    __table_args__ = (Index("ix_supervision_notices_unit_status", "unit_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 贾走访督〔2026〕0001号
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # addressed to: the lead unit
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    lateness: Mapped[str] = mapped_column(Text)  # 存在问题: what is late
    requirement: Mapped[str] = mapped_column(Text)  # 督办要求
    reply_by: Mapped[date] = mapped_column(Date)  # 反馈时限
    status: Mapped[NoticeStatus] = mapped_column(enum_column(NoticeStatus, 16), default=NoticeStatus.open)
    answer: Mapped[str | None] = mapped_column(Text)  # the unit's answer (办理情况反馈)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    problem: Mapped[Problem] = relationship()
    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
    issuer_unit: Mapped[Unit] = relationship(foreign_keys=[issuer_unit_id])
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])


class AgendaKind(enum.StrEnum):
    group = "group"  # 工作组调度会, every half month, the work group's problems
    office = "office"  # 活动办调度会, monthly, every problem


class Agenda(db.Model):
    """The agenda of one scheduling meeting: the problems to discuss, frozen when generated."""

    __tablename__ = "supervision_agendas"
    audit_type = "agenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AgendaKind] = mapped_column(enum_column(AgendaKind, 16))
    scope_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # the work group (group kind)
    meeting_on: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)  # the half month (group) or month (office) reviewed
    period_end: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # The meeting held on this agenda, whose minutes (纪要) are recorded (supervision.minutes).
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), unique=True)

    scope_unit: Mapped[Unit | None] = relationship()
    created_by: Mapped[User] = relationship()
    meeting: Mapped[Meeting | None] = relationship()
    items: Mapped[list["AgendaItem"]] = relationship(
        back_populates="agenda", order_by="AgendaItem.seq", cascade="all, delete-orphan")


class AgendaItem(db.Model):
    """One problem on an agenda with the reasons it is there (overdue, rejected, unsatisfied, hard)."""

    __tablename__ = "supervision_agenda_items"
    __table_args__ = (UniqueConstraint("agenda_id", "problem_id", name="agenda_problem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_id: Mapped[int] = mapped_column(ForeignKey("supervision_agendas.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    seq: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list] = mapped_column(JSON)  # reason codes, see supervision.agendas.REASONS
    detail: Mapped[str] = mapped_column(Text, default="")  # frozen one-line summary (unit, deadline…)

    agenda: Mapped[Agenda] = relationship(back_populates="items")
    problem: Mapped[Problem] = relationship()


class AgendaProposal(db.Model):
    """A work group lead's proposal to put a hard case of the group before the next office
    meeting, with the reason; taken (``agenda_id``) by the office agenda that lists it."""

    __tablename__ = "supervision_agenda_proposals"
    audit_type = "agenda_proposal"
    __table_args__ = (Index("ix_supervision_agenda_proposals_open", "agenda_id", "work_group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    reason: Mapped[str] = mapped_column(Text)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    agenda_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_agendas.id"))

    problem: Mapped[Problem] = relationship()
    work_group: Mapped[Unit] = relationship()
    proposed_by: Mapped[User] = relationship()
    agenda: Mapped[Agenda | None] = relationship()


class PaperKind(enum.StrEnum):
    reminder = "reminder"  # 催办通知书: problems reminded (催办) and still late
    bulletin = "bulletin"  # 通报: problems noticed (通报) for being long overdue


class SupervisionPaper(db.Model):
    """催办通知书 / 通报 as a numbered document (贾汪走访办催〔2026〕12号), sent to the units it names."""

    __tablename__ = "supervision_papers"
    audit_type = "supervision_paper"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PaperKind] = mapped_column(enum_column(PaperKind, 16))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text, default="")
    issuer_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    acknowledge_by: Mapped[date] = mapped_column(Date)

    issuer_unit: Mapped[Unit] = relationship()
    issued_by: Mapped[User] = relationship()
    recipients: Mapped[list["PaperRecipient"]] = relationship(
        back_populates="paper", order_by="PaperRecipient.id", cascade="all, delete-orphan")


class PaperRecipient(db.Model):
    """A unit a paper is sent to, the problems of that unit it concerns, and its acknowledgement."""

    __tablename__ = "supervision_paper_units"
    audit_type = "supervision_paper_unit"
    __table_args__ = (
        UniqueConstraint("paper_id", "unit_id", name="paper_unit"),
        Index("ix_supervision_paper_units_unit_ack", "unit_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("supervision_papers.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    problem_ids: Mapped[list] = mapped_column(JSON, default=list)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    paper: Mapped[SupervisionPaper] = relationship(back_populates="recipients")
    unit: Mapped[Unit] = relationship()
    acknowledged_by: Mapped[User | None] = relationship()
