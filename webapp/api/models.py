"""The API's tables: the outside systems' keys, the work orders they sent, and the rate windows."""

import enum
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..cases.models import Problem
from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime


class Scope(enum.StrEnum):
    """What a key may do: register work orders, read them back."""

    create = "create"
    read = "read"


class ApiClient(db.Model):
    """An outside system (the 12345 platform) and its key: only the key's SHA-256 is kept."""

    __tablename__ = "api_clients"
    audit_type = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, shown in the admin list so people can tell keys apart.
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(32))  # space-separated ``Scope`` values
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    # The webhook secret is derived from SECRET_KEY and this salt: the database alone cannot sign.
    webhook_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(s) for s in self.scopes.split())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class WorkOrder(db.Model):
    """A 12345 work order received through the API and the problem it became (one per caller and
    work-order number: a resend finds this row instead of making a second problem)."""

    __tablename__ = "api_work_orders"
    __table_args__ = (UniqueConstraint("client_id", "work_order_no", name="client_work_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    work_order_no: Mapped[str] = mapped_column(String(40))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), unique=True)
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    client: Mapped[ApiClient] = relationship()
    problem: Mapped[Problem] = relationship()


class RateWindow(db.Model):
    """Calls counted in one fixed window (kept in the database: every process counts here): a
    key's calls (``key:<id>``), or the refused calls of one client address (``addr:<ip>``)."""

    __tablename__ = "api_rate_windows"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_no: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window length
    calls: Mapped[int] = mapped_column(Integer, default=0)
