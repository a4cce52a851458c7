"""Column types and helpers shared by every table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def created_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def timestamp_field(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


# Every column that holds a Fernet token is named `<what>_enc`; key rotation finds them by that
# name (services/key_rotation.py), so a new encrypted column is rotated without being listed.
ENCRYPTED_SUFFIX = "_enc"


def encrypted_columns(metadata: MetaData) -> dict[Table, tuple[str, ...]]:
    """Every table with encrypted columns, and those columns' names, in metadata order."""
    found: dict[Table, tuple[str, ...]] = {}
    for table in metadata.sorted_tables:
        names = tuple(c.name for c in table.columns if c.name.endswith(ENCRYPTED_SUFFIX))
        if names:
            found[table] = names
    return found
