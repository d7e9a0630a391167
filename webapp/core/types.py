"""Column types shared by all models."""

from datetime import datetime

from sqlalchemy import DateTime, Enum
from sqlalchemy.types import TypeDecorator

from .clock import as_utc


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else as_utc(value)


def enum_column(cls, length=24) -> Enum:
    """A Python enum stored as its value in a VARCHAR (no native enum type: migrations stay simple)."""
    return Enum(cls, native_enum=False, length=length, validate_strings=True)
