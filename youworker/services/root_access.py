"""The root API key (SECURITY__ROOT_API_KEY): admin-equivalent, and every use audited.

The key acts as the first active administrator rather than as a made-up system user, so every
service check stays the ordinary one (a site admin's rights, never more) and the audit log names
a real account.
"""

from __future__ import annotations

import hmac
import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import AppSetting, Role, User
from youworker.services import audit
from youworker.services.accounts import FIRST_ADMIN_KEY
from youworker.services.errors import AuthenticationFailed
from youworker.settings import get_settings


def is_root_key(candidate: str | None) -> bool:
    """Constant-time comparison with the configured root key."""
    if not candidate or len(candidate) > 512:
        return False
    expected = get_settings().secret("root_api_key")
    return hmac.compare_digest(candidate.encode(), expected.encode())


async def acting_admin(session: AsyncSession) -> User | None:
    """The first administrator if still an active admin, else the oldest active admin."""
    first = await session.get(AppSetting, FIRST_ADMIN_KEY)
    if first is not None:
        user = await session.get(User, uuid.UUID(first.value))
        if user is not None and user.is_active and user.is_admin:
            return user
    return await session.scalar(
        select(User)
        .where(col(User.role) == Role.ADMIN, col(User.is_active).is_(True))
        .order_by(col(User.created_at), col(User.id))
        .limit(1)
    )


async def resolve(
    session: AsyncSession,
    candidate: str,
    *,
    method: str,
    path: str,
    context: audit.RequestContext | None = None,
) -> User | None:
    """The acting admin for a root-key request (audited and committed), or None if not the key."""
    if not is_root_key(candidate):
        return None
    admin = await acting_admin(session)
    if admin is None:
        raise AuthenticationFailed(
            "The root API key acts as an administrator, and there is no active administrator."
        )
    audit.record(
        session,
        "auth.root_key",
        actor=admin,
        context=context,
        method=method,
        path=path[:300],
    )
    await session.commit()
    return admin
