"""Writing audit events. Never pass secrets or message text in `details`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from youworker.logging import get_logger
from youworker.models import AuditEvent, User

log = get_logger(__name__)


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from."""

    ip: str | None = None
    user_agent: str | None = None


def record(
    session: AsyncSession,
    action: str,
    *,
    actor: User | None = None,
    resource_type: str | None = None,
    resource_id: uuid.UUID | str | None = None,
    context: RequestContext | None = None,
    actor_email: str | None = None,
    group_id: uuid.UUID | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the caller's unit of work (committed with it)."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else actor_email,
        action=action,
        resource_type=resource_type,
        resource_id=str(resource_id) if resource_id is not None else None,
        ip=context.ip if context else None,
        group_id=group_id,
        details=details,
    )
    session.add(event)
    log.info("audit", action=action, actor=event.actor_email, resource=event.resource_id)
    return event
