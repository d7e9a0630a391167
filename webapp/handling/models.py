"""Handling and closure (处置化解 · 协商会办 · 销号反馈): task books, steps, meetings, extensions,
closure requests (销号 / 暂难解决), replies to residents, and the receipt lookup's rate limit.

Every row here is written by ``handling.operations`` (the operations), never by a view.
"""

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..cases.models import Problem
from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime, enum_column
from ..org.models import Unit


class BookStatus(enum.StrEnum):
    draft = "draft"  # written, not yet submitted (kept when a submit fails)
    submitted = "submitted"  # waiting for the unit leader (任务书待审核)
    approved = "approved"  # the one in force
    rejected = "rejected"  # sent back by the unit leader
    superseded = "superseded"  # an approved version replaced by a later approved revision


class TaskBook(db.Model):
    """任务书: one version of the unit's plan for a problem. Revisions add a version; the old stay."""

    __tablename__ = "task_books"
    audit_type = "task_book"
    __table_args__ = (UniqueConstraint("problem_id", "revision", name="problem_revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[BookStatus] = mapped_column(enum_column(BookStatus, 16), default=BookStatus.submitted)
    handler_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # 专人
    responsible_leader: Mapped[str] = mapped_column(String(64))  # 责任领导
    responsible_department: Mapped[str] = mapped_column(String(64))  # 责任科室
    measures: Mapped[str] = mapped_column(Text)  # 化解措施
    deadline: Mapped[date] = mapped_column(Date)
    revision_reason: Mapped[str | None] = mapped_column(Text)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # 贾走访任〔2026〕0012号
    # Set when its problem is signed off or declared 暂难解决: the book in force is then 已办结.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    problem: Mapped[Problem] = relationship()
    unit: Mapped[Unit] = relationship()
    handler: Mapped[User] = relationship(foreign_keys=[handler_id])
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    steps: Mapped[list["TaskStep"]] = relationship(
        back_populates="task_book", order_by="(TaskStep.seq, TaskStep.id)", cascade="all, delete-orphan")


class StepSource(enum.StrEnum):
    plan = "plan"  # written in the task book (路线图 + 时间表)
    meeting = "meeting"  # a decision of a joint meeting


class TaskStep(db.Model):
    """One step of the roadmap with its date (时间表); ticked off with a note."""

    __tablename__ = "task_steps"
    audit_type = "task_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_book_id: Mapped[int] = mapped_column(ForeignKey("task_books.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    due_on: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # who does it (a decision may name another)
    source: Mapped[StepSource] = mapped_column(enum_column(StepSource, 16), default=StepSource.plan)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_decisions.id"))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_note: Mapped[str | None] = mapped_column(Text)

    task_book: Mapped[TaskBook] = relationship(back_populates="steps")
    unit: Mapped[Unit] = relationship()
    done_by: Mapped[User | None] = relationship()

    def is_overdue(self, today: date) -> bool:
        return self.done_at is None and self.due_on < today


class MeetingKind(enum.StrEnum):
    consultation = "consultation"  # 协商会
    joint = "joint"  # 会办会
    scheduling = "scheduling"  # 调度会 of a work group or the office, held on its agenda

    @property
    def label(self):
        from flask_babel import lazy_gettext as _l

        return {MeetingKind.consultation: _l("协商会"), MeetingKind.joint: _l("会办会"),
                MeetingKind.scheduling: _l("调度会")}[self]


class MeetingStatus(enum.StrEnum):
    planned = "planned"
    minuted = "minuted"  # minutes recorded; decisions are steps now
    cancelled = "cancelled"


class Meeting(db.Model):
    """A joint meeting (协商会/会办会) on one or more problems, and its minutes (会议纪要)."""

    __tablename__ = "meetings"
    audit_type = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[MeetingKind] = mapped_column(enum_column(MeetingKind, 16))
    title: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    place: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(64))  # 主持人
    convened_by_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    convened_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    status: Mapped[MeetingStatus] = mapped_column(enum_column(MeetingStatus, 16), default=MeetingStatus.planned)
    summary: Mapped[str | None] = mapped_column(Text)  # 会议纪要 text
    minuted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    minuted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    convened_by_unit: Mapped[Unit] = relationship(foreign_keys=[convened_by_unit_id])
    convened_by: Mapped[User] = relationship(foreign_keys=[convened_by_id])
    minuted_by: Mapped[User | None] = relationship(foreign_keys=[minuted_by_id])
    units: Mapped[list["MeetingUnit"]] = relationship(
        back_populates="meeting", order_by="MeetingUnit.id", cascade="all, delete-orphan")
    agenda: Mapped[list["MeetingProblem"]] = relationship(
        back_populates="meeting", order_by="MeetingProblem.id", cascade="all, delete-orphan")
    decisions: Mapped[list["MeetingDecision"]] = relationship(
        back_populates="meeting", order_by="MeetingDecision.id", cascade="all, delete-orphan")


class MeetingUnit(db.Model):
    """An invited unit and, after the meeting, whether it attended and who came."""

    __tablename__ = "meeting_units"
    __table_args__ = (
        UniqueConstraint("meeting_id", "unit_id", name="meeting_unit"),
        Index("ix_meeting_units_unit", "unit_id", "meeting_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    attended: Mapped[bool | None] = mapped_column(Boolean)
    attendees: Mapped[str] = mapped_column(String(255), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship()


class MeetingProblem(db.Model):
    """A problem on the meeting's agenda."""

    __tablename__ = "meeting_problems"
    __table_args__ = (UniqueConstraint("meeting_id", "problem_id", name="meeting_problem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)

    meeting: Mapped[Meeting] = relationship(back_populates="agenda")
    problem: Mapped[Problem] = relationship()


class MeetingDecision(db.Model):
    """A decision of the meeting: a dated step for a named unit on one problem's task book."""

    __tablename__ = "meeting_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    text: Mapped[str] = mapped_column(String(255))
    due_on: Mapped[date] = mapped_column(Date)

    meeting: Mapped[Meeting] = relationship(back_populates="decisions")
    problem: Mapped[Problem] = relationship()
    unit: Mapped[Unit] = relationship()


class RequestStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"  # the unit asked for sign-off or 暂难解决 while it waited


class Extension(db.Model):
    """延期申请: before the deadline, with reason, new date and progress; the assigner decides."""

    __tablename__ = "extensions"
    audit_type = "extension"
    __table_args__ = (CheckConstraint("new_deadline > old_deadline", name="later_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    old_deadline: Mapped[date] = mapped_column(Date)
    new_deadline: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    progress: Mapped[str] = mapped_column(Text)
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus, 16), default=RequestStatus.pending)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)

    problem: Mapped[Problem] = relationship()
    unit: Mapped[Unit] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class ClosureKind(enum.StrEnum):
    signoff = "signoff"  # 申请销号
    cannot_solve = "cannot_solve"  # 申请暂难解决
    on_spot = "on_spot"  # 好事即办: solved on the spot at triage


class ClosureStatus(enum.StrEnum):
    leader_review = "leader_review"  # waiting for the unit leader (销号待审核)
    leader_rejected = "leader_rejected"  # the unit leader sent it back
    office_review = "office_review"  # 暂难解决 waiting for the office
    office_rejected = "office_rejected"
    verifying = "verifying"  # waiting for whoever assigned it (待核销)
    verified = "verified"  # 核销通过 → signed off
    verification_rejected = "verification_rejected"  # 退回重办
    approved = "approved"  # 暂难解决 approved by the office


class CannotSolveReason(enum.StrEnum):
    policy = "policy"
    funds = "funds"
    litigation = "litigation"
    other = "other"

    @property
    def label(self):
        from flask_babel import lazy_gettext as _l

        return {CannotSolveReason.policy: _l("政策限制"), CannotSolveReason.funds: _l("资金不足"),
                CannotSolveReason.litigation: _l("涉诉涉法"), CannotSolveReason.other: _l("其他原因")}[self]


class Closure(db.Model):
    """A request to end the handling: sign-off (销号), cannot-solve-now (暂难解决) or on-the-spot.

    It carries the result and evidence, the unit leader's approval and the verifier's opinion —
    what the printed 销号单 shows. Rejected requests stay (counted against the unit).
    """

    __tablename__ = "closures"
    audit_type = "closure"
    __table_args__ = (
        Index("ix_closures_problem_status", "problem_id", "status"),
        Index("ix_closures_unit_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    kind: Mapped[ClosureKind] = mapped_column(enum_column(ClosureKind, 16))
    status: Mapped[ClosureStatus] = mapped_column(enum_column(ClosureStatus, 24))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    result: Mapped[str] = mapped_column(Text)  # 办理结果 / the explanation of 暂难解决
    reason_kind: Mapped[CannotSolveReason | None] = mapped_column(enum_column(CannotSolveReason, 16))
    no_evidence_reason: Mapped[str | None] = mapped_column(Text)
    open_parts_reason: Mapped[str | None] = mapped_column(Text)  # why cooperating parts are still open
    # Steps of the task book still open at the request, each with why it may be signed off anyway:
    # [{"step": id, "seq": n, "title": ..., "reason": ...}].
    open_steps: Mapped[list | None] = mapped_column(JSON)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)  # the 销号单's 贾走访销〔2026〕0012号
    completed_on: Mapped[date | None] = mapped_column(Date)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    leader_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leader_note: Mapped[str | None] = mapped_column(Text)
    verifier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verifier_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verifier_note: Mapped[str | None] = mapped_column(Text)

    problem: Mapped[Problem] = relationship()
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    leader: Mapped[User | None] = relationship(foreign_keys=[leader_id])
    verifier: Mapped[User | None] = relationship(foreign_keys=[verifier_id])
    verifier_unit: Mapped[Unit | None] = relationship(foreign_keys=[verifier_unit_id])


class ReplyMethod(enum.StrEnum):
    phone = "phone"
    visit = "visit"
    sms = "sms"
    wechat = "wechat"

    @property
    def label(self):
        from flask_babel import lazy_gettext as _l

        return {ReplyMethod.phone: _l("电话回访"), ReplyMethod.visit: _l("上门回访"),
                ReplyMethod.sms: _l("短信"), ReplyMethod.wechat: _l("微信")}[self]


class Verdict(enum.StrEnum):
    satisfied = "satisfied"
    basically = "basically"
    unsatisfied = "unsatisfied"
    unreachable = "unreachable"
    refused = "refused"

    @property
    def label(self):
        from flask_babel import lazy_gettext as _l

        return {Verdict.satisfied: _l("满意"), Verdict.basically: _l("基本满意"),
                Verdict.unsatisfied: _l("不满意"), Verdict.unreachable: _l("无法联系"),
                Verdict.refused: _l("拒评")}[self]


class Reply(db.Model):
    """回音: the callback to the resident — method, time, what was said, the resident's verdict."""

    __tablename__ = "replies"
    audit_type = "reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    replied_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    method: Mapped[ReplyMethod] = mapped_column(enum_column(ReplyMethod, 16))
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content: Mapped[str] = mapped_column(Text)  # what the resident was told (shown on the receipt page)
    verdict: Mapped[Verdict] = mapped_column(enum_column(Verdict, 16))
    resident_words: Mapped[str | None] = mapped_column(Text)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)  # 不满意 for a substantive reason
    status_at_reply: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    client_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    problem: Mapped[Problem] = relationship()
    replied_by: Mapped[User] = relationship()
    unit: Mapped[Unit | None] = relationship()
