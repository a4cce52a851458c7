"""Site-admin management of user accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Role, User
from youworker.models.base import utcnow
from youworker.services import api_keys, audit, sessions
from youworker.services.authz import require_site_admin
from youworker.services.errors import Conflict, NotFound, ValidationFailed

PAGE_SIZE_MAX = 100


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    total: int


async def list_users(
    session: AsyncSession, actor: User, *, query: str = "", offset: int = 0, limit: int = 25
) -> UserPage:
    require_site_admin(actor)
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    offset = max(0, offset)
    condition = None
    needle = query.strip().lower()[:254]
    if needle:
        pattern = f"%{needle.replace('%', '').replace('_', '')}%"
        condition = or_(
            col(User.email).like(pattern), func.lower(col(User.display_name)).like(pattern)
        )
    listing = select(User).order_by(col(User.created_at), col(User.id))
    counting = select(func.count()).select_from(User)
    if condition is not None:
        listing = listing.where(condition)
        counting = counting.where(condition)
    users = list(await session.scalars(listing.offset(offset).limit(limit)))
    total = int(await session.scalar(counting) or 0)
    return UserPage(users=users, total=total)


async def _target(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


async def _active_admins(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(User)
            .where(col(User.role) == Role.ADMIN, col(User.is_active).is_(True))
        )
        or 0
    )


async def set_role(
    session: AsyncSession,
    actor: User,
    user_id: uuid.UUID,
    role: str,
    context: audit.RequestContext | None = None,
) -> User:
    require_site_admin(actor)
    if role not in (Role.ADMIN, Role.USER):
        raise ValidationFailed({"role": "Role must be admin or user."})
    user = await _target(session, user_id)
    if user.role == role:
        return user
    if user.role == Role.ADMIN and user.is_active and await _active_admins(session) <= 1:
        raise Conflict("The last active administrator cannot be demoted.")
    previous, user.role = user.role, role
    audit.record(
        session,
        "user.role_change",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        context=context,
        old=previous,
        new=role,
        email=user.email,
    )
    await session.commit()
    return user


async def set_active(
    session: AsyncSession,
    actor: User,
    user_id: uuid.UUID,
    active: bool,
    context: audit.RequestContext | None = None,
) -> User:
    """Deactivation ends the user's sessions, API keys and JWTs at once, and for good."""
    require_site_admin(actor)
    user = await _target(session, user_id)
    if user.is_active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise Conflict("You cannot deactivate your own account.")
        if user.is_admin and await _active_admins(session) <= 1:
            raise Conflict("The last active administrator cannot be deactivated.")
    user.is_active = active
    details: dict[str, Any] = {"email": user.email}
    if not active:
        user.tokens_revoked_at = utcnow()
        details["sessions_ended"] = await sessions.end_user_sessions(session, user.id)
        details["api_keys_revoked"] = await api_keys.revoke_all_for(session, user.id)
    audit.record(
        session,
        "user.activate" if active else "user.deactivate",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        context=context,
        **details,
    )
    await session.commit()
    return user
