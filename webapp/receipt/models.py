"""The public lookup's attempts: its rate limit is kept in the database, so every process sees it."""

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core import clock
from ..core.extensions import db
from ..core.types import UTCDateTime


class LookupAttempt(db.Model):
    """One try on the public receipt page (rate limit kept in the database: every process sees it)."""

    __tablename__ = "lookup_attempts"
    __table_args__ = (Index("ix_lookup_attempts_client_time", "client", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    found: Mapped[bool] = mapped_column(Boolean, default=False)
