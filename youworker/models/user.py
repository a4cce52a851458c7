"""Users, their browser sessions and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from youworker.models.base import UTCDateTime, created_field, id_field, timestamp_field

EMAIL_MAX = 254
NAME_MAX = 100


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = id_field()
    # Stored lower-cased: uniqueness is case-insensitive on every backend.
    email: str = Field(max_length=EMAIL_MAX, unique=True, index=True)
    display_name: str = Field(max_length=NAME_MAX)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.USER, max_length=16)
    is_active: bool = Field(default=True)
    created_at: datetime = created_field()
    last_sign_in_at: datetime | None = timestamp_field()
    # Set when the account is deactivated: JWTs issued before it stay void after reactivation.
    tokens_revoked_at: datetime | None = timestamp_field()

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class UserSession(SQLModel, table=True):
    """A browser session; only the SHA-256 of its token is stored."""

    __tablename__ = "user_sessions"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    # Null until the sign-in hand-off is exchanged for the cookie token.
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    handoff_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = created_field()
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=512)


class ApiKey(SQLModel, table=True):
    """A personal API key; the key is shown once, its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=NAME_MAX)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_field()
    last_used_at: datetime | None = timestamp_field()
    revoked_at: datetime | None = timestamp_field()


class PasswordReset(SQLModel, table=True):
    """A single-use password-reset link; only the SHA-256 of its token is stored."""

    __tablename__ = "password_resets"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = timestamp_field()
