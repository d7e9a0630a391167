"""Problems and their assignments, coordinated lists, attachments and the timeline.

A problem may come from a visit (``visit_id``); the visit itself belongs to ``visits``, an area
above this one, so the relationship names its class by string and nothing here imports it.
"""

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..core import clock
from ..core.extensions import db
from ..core.pii import EncryptedString
from ..core.types import UTCDateTime, enum_column
from ..org.models import Unit
from . import search
from .workflow import Kind, Level, Status, Tier

# Where a problem came from (``Problem.source``), as people say it.
SOURCE_LABELS = {"visit": _l("入户走访"), "12345_api": _l("12345平台工单（接口）")}


class Category(db.Model):
    """Problem categories (DOMAIN §9 defaults), editable by the office."""

    __tablename__ = "categories"
    audit_type = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

# The statuses of a problem awaiting its work group's triage (workflow.TRIAGE), likewise.
TRIAGE_SQL = text("status IN ('registered', 'returned')")

# The statuses of a problem being handled (workflow.HANDLING), as the partial index states them.
OPEN_SQL = text("status IN ('accepted', 'assigned', 'cannot_solve_review', 'in_progress', 'plan_review', "
                "'signoff_review')")


class Problem(db.Model):
    """A problem a resident raised; its status follows ``cases.workflow``."""

    __tablename__ = "problems"
    audit_type = "problem"
    __table_args__ = (
        UniqueConstraint("year", "seq", name="year_seq"),
        CheckConstraint(
            "status <> 'merged' OR merged_into_id IS NOT NULL", name="merged_has_target"),
        CheckConstraint(
            "status NOT IN ('assigned','accepted','plan_review','in_progress','signoff_review',"
            "'cannot_solve_review') OR lead_unit_id IS NOT NULL", name="handled_has_unit"),
        CheckConstraint(
            "status NOT IN ('assigned','accepted','plan_review','in_progress','signoff_review',"
            "'cannot_solve_review') OR deadline IS NOT NULL", name="handled_has_deadline"),
        Index("ix_problems_group_status", "work_group_id", "status"),
        Index("ix_problems_lead_status", "lead_unit_id", "status"),
        # Queue and counter queries (measured at 200,000 problems, benchmarks/queues.py).
        Index("ix_problems_status_deadline_assigner", "status", "deadline", "assigner_unit_id"),
        Index("ix_problems_registrar_time", "registered_by_id", "registered_at"),
        Index("ix_problems_reply_due", "reply_due"),
        # Keyset pages by the nearest deadline (cases.queries.KEYS): the whole district, one
        # status, one cadre's, one group's — each read in order from its index, 26 rows at a time.
        Index("ix_problems_deadline_id", "deadline", "id"),
        Index("ix_problems_status_deadline_id", "status", "deadline", "id"),
        Index("ix_problems_registrar_deadline", "registered_by_id", "deadline", "id"),
        Index("ix_problems_group_deadline", "work_group_id", "deadline", "id"),
        # 已超期 / 即将到期: the deadlines of open problems only (cases.queries.open_problem).
        Index("ix_problems_open_deadline", "deadline", "id", sqlite_where=OPEN_SQL, postgresql_where=OPEN_SQL),
        # The dashboards' 已超期 (stats.sums): the open problems' deadlines with their cell, read alone.
        # (status first: SQLite then prefers it to the status index and reads it alone, no table.)
        Index("ix_problems_open_deadline_cells", "status", "deadline", "work_group_id", "town_id", "lead_unit_id",
              "category_id", "source", sqlite_where=OPEN_SQL, postgresql_where=OPEN_SQL),
        # A group lead's 待研判: their group's problems awaiting triage only (cases.queries.awaiting_triage),
        # so the page never walks the group's problems of other statuses.
        Index("ix_problems_triage_group_deadline", "work_group_id", "deadline", "id",
              sqlite_where=TRIAGE_SQL, postgresql_where=TRIAGE_SQL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    receipt_no: Mapped[str] = mapped_column(String(16), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    resident_name: Mapped[str] = mapped_column(String(64))
    # Sealed at rest (core.pii); exact search through the keyed blind indexes beside them.
    resident_phone: Mapped[str] = mapped_column(EncryptedString("resident_phone", index="resident_phone_index"),
                                                default="")
    resident_id_number: Mapped[str | None] = mapped_column(
        EncryptedString("resident_id_number", index="resident_id_index"))
    resident_phone_index: Mapped[str | None] = mapped_column(String(32), index=True)
    resident_id_index: Mapped[str | None] = mapped_column(String(32), index=True)
    household_name: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(255), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    # The words the search finds the problem by (``cases.search``), kept by the write path.
    search_terms: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="visit")
    status: Mapped[Status] = mapped_column(enum_column(Status), default=Status.registered, index=True)
    kind: Mapped[Kind | None] = mapped_column(enum_column(Kind, 16))
    level: Mapped[Level | None] = mapped_column(enum_column(Level, 16))
    tier: Mapped[Tier | None] = mapped_column(enum_column(Tier, 16))
    # The current deadline (local date in Asia/Shanghai) and its history lives in the timeline.
    deadline: Mapped[date | None] = mapped_column(Date)
    sign_for_deadline: Mapped[date | None] = mapped_column(Date)
    # Denormalised from the current assignment for the one visibility scope and the queues.
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    assigner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    current_assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", use_alter=True, name="fk_problems_current_assignment"))
    coordinated_list_id: Mapped[int | None] = mapped_column(ForeignKey("coordinated_lists.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    end_reason: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # 专人: the lead unit's handler named in the task book.
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The reply (回音) owed to the resident: set when the problem reaches a status that owes one
    # (signed off, not accepted, merged, cannot solve now), cleared by the reply.
    reply_due: Mapped[date | None] = mapped_column(Date)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    visit: Mapped["Visit | None"] = relationship(back_populates="problems")  # noqa: F821 - visits.models
    work_group: Mapped[Unit] = relationship(foreign_keys=[work_group_id])
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id])
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
    village: Mapped[Unit] = relationship(foreign_keys=[village_id])
    town: Mapped[Unit] = relationship(foreign_keys=[town_id])
    category: Mapped[Category] = relationship()
    lead_unit: Mapped[Unit | None] = relationship(foreign_keys=[lead_unit_id])
    assigner_unit: Mapped[Unit | None] = relationship(foreign_keys=[assigner_unit_id])
    current_assignment: Mapped["Assignment | None"] = relationship(
        foreign_keys=[current_assignment_id], post_update=True)
    merged_into: Mapped["Problem | None"] = relationship(remote_side="Problem.id")
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="problem", order_by="Attachment.id")
    events: Mapped[list["ProblemEvent"]] = relationship(
        back_populates="problem", order_by="ProblemEvent.id")
    coordinated_list: Mapped["CoordinatedList | None"] = relationship(back_populates="problems")


class Channel(enum.StrEnum):
    sheet = "sheet"  # 问题交办单 to a town/street/zone
    desk = "desk"  # transfer to the 12345 campaign desk
    office = "office"  # the office assigns district departments from a coordinated list


class Assignment(db.Model):
    """One act of assigning a problem to units (交办/转办), with its printed sheet number."""

    __tablename__ = "assignments"
    audit_type = "assignment"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, 16))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    assigner_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    deadline: Mapped[date] = mapped_column(Date)
    sign_for_deadline: Mapped[date] = mapped_column(Date)
    requirements: Mapped[str] = mapped_column(Text, default="")
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    problem: Mapped[Problem] = relationship(foreign_keys=[problem_id])
    assigner_unit: Mapped[Unit] = relationship()
    assigned_by: Mapped[User] = relationship()
    units: Mapped[list["AssignmentUnit"]] = relationship(
        back_populates="assignment", order_by="AssignmentUnit.id")


class UnitRole(enum.StrEnum):
    lead = "lead"
    cooperating = "cooperating"


class PartStatus(enum.StrEnum):
    pending = "pending"  # 待签收
    accepted = "accepted"  # 已签收
    returned = "returned"  # 已退回
    withdrawn = "withdrawn"  # the assignment ended before this unit acted
    done = "done"  # a cooperating unit reported its part finished (配合完成)


class AssignmentUnit(db.Model):
    """A unit's part in an assignment: the lead unit or a cooperating one, each signs for its own."""

    __tablename__ = "assignment_units"
    __table_args__ = (
        UniqueConstraint("assignment_id", "unit_id", name="assignment_unit"),
        # The unit scope and its 待签收 tab: an index-only lookup of a unit's current parts.
        Index("ix_assignment_units_unit_scope", "unit_id", "is_current", "status", "problem_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    # Denormalised for the visibility scope (one indexed lookup per unit).
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[UnitRole] = mapped_column(enum_column(UnitRole, 16))
    status: Mapped[PartStatus] = mapped_column(enum_column(PartStatus, 16), default=PartStatus.pending)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_reason: Mapped[str | None] = mapped_column(Text)
    # A cooperating unit's latest feedback on its part (the history is on the timeline).
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    assignment: Mapped[Assignment] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])
    feedback_by: Mapped[User | None] = relationship(foreign_keys=[feedback_by_id])


class ListStatus(enum.StrEnum):
    draft = "draft"  # being compiled by the group lead
    submitted = "submitted"  # sent to the office
    assigned = "assigned"  # every item assigned by the office


class CoordinatedList(db.Model):
    """统筹交办问题清单: a work group's common problems, submitted to the office."""

    __tablename__ = "coordinated_lists"
    audit_type = "coordinated_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    work_group_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(128))
    status: Mapped[ListStatus] = mapped_column(enum_column(ListStatus, 16), default=ListStatus.draft)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    work_group: Mapped[Unit] = relationship()
    created_by: Mapped[User] = relationship()
    problems: Mapped[list[Problem]] = relationship(back_populates="coordinated_list", order_by="Problem.id")


class AttachmentKind(enum.StrEnum):
    photo = "photo"  # taken at intake
    evidence = "evidence"  # proof of handling or of an on-the-spot solution
    progress = "progress"  # with a progress update, a ticked step or a cooperating unit's feedback


class Attachment(db.Model):
    """A file kept outside static/, served only to those who may see its problem."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    # What the file belongs to besides the problem: a timeline entry or a closure request.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("problem_events.id"), index=True)
    closure_id: Mapped[int | None] = mapped_column(ForeignKey("closures.id", use_alter=True,
                                                              name="fk_attachments_closure"), index=True)
    kind: Mapped[AttachmentKind] = mapped_column(enum_column(AttachmentKind, 16))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    problem: Mapped[Problem] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User] = relationship()


class ProblemEvent(db.Model):
    """The problem's timeline: who, which unit, when, what (written with every transition)."""

    __tablename__ = "problem_events"
    # 督查督办 counts 催办/通报 per unit and lists the noticed problems; agendas and the integrity
    # scan look for events of one action (benchmarks/dashboard.py: a full scan at 1.3 M events).
    __table_args__ = (Index("ix_problem_events_action_problem", "action", "problem_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[Status | None] = mapped_column(enum_column(Status))
    to_status: Mapped[Status | None] = mapped_column(enum_column(Status))
    note: Mapped[str | None] = mapped_column(Text)
    # Shown to the resident on the receipt page only when True (internal notes stay internal).
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Progress, notes and feedback sent from a form: the same submission is recorded once.
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    problem: Mapped[Problem] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


@event.listens_for(Problem, "before_insert")
@event.listens_for(Problem, "before_update")
def _keep_search_terms(_mapper, _connection, problem: Problem) -> None:
    """The search's words follow the title, the names and the number (``cases.search``)."""
    problem.search_terms = search.problem_terms(problem)
