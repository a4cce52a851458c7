"""The audit trail: who did what to which resource, from where."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from youworker.models.base import UTCDateTime, id_field, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    # The audit log pages newest first, filtered by action, actor, resource or group.
    __table_args__ = (
        Index("ix_audit_events_created_at_id", "created_at", "id"),
        Index("ix_audit_events_action_created", "action", "created_at"),
        Index("ix_audit_events_actor_created", "actor_id", "created_at"),
        Index("ix_audit_events_resource", "resource_type", "resource_id"),
        Index("ix_audit_events_group_created", "group_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: uuid.UUID | None = Field(default=None)
    actor_email: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=64)
    resource_type: str | None = Field(default=None, max_length=32)
    resource_id: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    # Set for group, membership and invitation events: group admins read their group's trail.
    group_id: uuid.UUID | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
