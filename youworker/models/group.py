"""Groups, memberships and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from youworker.models.base import UTCDateTime, created_field, id_field, timestamp_field
from youworker.models.user import EMAIL_MAX, NAME_MAX

GROUP_NAME_MAX = NAME_MAX
GROUP_DESCRIPTION_MAX = 1000


class GroupRole(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=GROUP_NAME_MAX)
    description: str = Field(default="", max_length=GROUP_DESCRIPTION_MAX)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = created_field()


class GroupMembership(SQLModel, table=True):
    __tablename__ = "group_memberships"

    group_id: uuid.UUID = Field(foreign_key="groups.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(
        foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    role: str = Field(default=GroupRole.MEMBER, max_length=16)
    joined_at: datetime = created_field()


class GroupInvitation(SQLModel, table=True):
    """An invitation by email; only the SHA-256 of its single-use token is stored.

    Without a group it invites someone to the installation (registration by invitation only).
    """

    __tablename__ = "group_invitations"

    id: uuid.UUID = id_field()
    group_id: uuid.UUID | None = Field(
        default=None, foreign_key="groups.id", index=True, ondelete="CASCADE"
    )
    inviter_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    invitee_email: str = Field(max_length=EMAIL_MAX, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = timestamp_field()
    used_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    revoked_at: datetime | None = timestamp_field()
