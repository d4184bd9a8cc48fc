"""Column types and mixins every domain's models share."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, Enum, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """An unguessable id for URLs: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class PublicIdMixin:
    """Rows that appear in URLs carry a random public id; the integer key stays internal."""

    public_id: Mapped[str] = mapped_column(
        String(24), unique=True, index=True, default=new_public_id
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def enum_type(cls: type) -> Enum:
    """Store an enum's readable value in a plain string column (portable, migration-friendly)."""
    return Enum(cls, values_callable=lambda e: [m.value for m in e], native_enum=False, length=32)
