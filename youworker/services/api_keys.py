"""Personal API keys: shown once, stored as SHA-256, revocable, last use tracked."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import rows_affected
from youworker.models import ApiKey, User
from youworker.models.base import utcnow
from youworker.services import audit
from youworker.services.authz import require_active
from youworker.services.errors import NotFound
from youworker.services.hashing import new_token, token_digest
from youworker.services.sessions import TOUCH_INTERVAL
from youworker.services.validation import API_KEY_NAME_MAX, name_problem, raise_if_any

KEY_PREFIX = "yw_"
MAX_KEYS_PER_USER = 50


async def create(
    session: AsyncSession, actor: User, name: str, context: audit.RequestContext | None = None
) -> tuple[ApiKey, str]:
    """Create a key; the plain key is returned here and never again."""
    require_active(actor)
    raise_if_any({"name": name_problem(name, "Key name", API_KEY_NAME_MAX)})
    active = await list_for(session, actor)
    if len(active) >= MAX_KEYS_PER_USER:
        raise_if_any({"name": f"You already have {MAX_KEYS_PER_USER} keys; revoke one first."})
    secret = new_token()
    plain = f"{KEY_PREFIX}{secret}"
    key = ApiKey(
        user_id=actor.id, name=name.strip(), prefix=plain[:10], key_hash=token_digest(plain)
    )
    session.add(key)
    audit.record(
        session,
        "api_key.create",
        actor=actor,
        resource_type="api_key",
        resource_id=key.id,
        context=context,
        name=key.name,
        prefix=key.prefix,
    )
    await session.commit()
    return key, plain


async def list_for(session: AsyncSession, actor: User) -> list[ApiKey]:
    require_active(actor)
    rows = await session.scalars(
        select(ApiKey)
        .where(col(ApiKey.user_id) == actor.id, col(ApiKey.revoked_at).is_(None))
        .order_by(col(ApiKey.created_at).desc())
    )
    return list(rows)


async def revoke(
    session: AsyncSession,
    actor: User,
    key_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    require_active(actor)
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != actor.id or key.revoked_at is not None:
        raise NotFound("API key not found.")
    key.revoked_at = utcnow()
    audit.record(
        session,
        "api_key.revoke",
        actor=actor,
        resource_type="api_key",
        resource_id=key.id,
        context=context,
        prefix=key.prefix,
    )
    await session.commit()


async def revoke_all_for(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every live key of a user (their password changed); the caller audits and commits."""
    result = await session.execute(
        update(ApiKey)
        .where(col(ApiKey.user_id) == user_id, col(ApiKey.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return rows_affected(result)


async def resolve(session: AsyncSession, plain: str | None) -> User | None:
    """The active owner of a live key, or None."""
    if not plain or not plain.startswith(KEY_PREFIX) or len(plain) > 128:
        return None
    found = (
        await session.execute(
            select(ApiKey, User)
            .join(User, col(User.id) == col(ApiKey.user_id))
            .where(col(ApiKey.key_hash) == token_digest(plain))
        )
    ).first()
    if found is None:
        return None
    key, user = found
    if key.revoked_at is not None or not user.is_active:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL:
        key.last_used_at = now
        await session.commit()
    return user
