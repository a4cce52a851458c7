"""Server-side browser sessions: random tokens, stored hashed, sliding expiry.

Sign-in happens over the websocket, which cannot set an HttpOnly cookie. So a successful sign-in
creates a session holding only a short-lived hand-off code; the browser posts that code to
`/auth/session`, which swaps it for the real token and sets the cookie.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import rows_affected
from youworker.models import User, UserSession
from youworker.models.base import utcnow
from youworker.services import audit
from youworker.services.authz import require_active
from youworker.services.errors import NotFound
from youworker.services.hashing import new_token, token_digest

HANDOFF_TTL = timedelta(seconds=60)
# Writing last_seen on every event would turn each click into a write; a minute is precise enough.
TOUCH_INTERVAL = timedelta(seconds=60)
COOKIE_NAME = "yw_session"


@dataclass(frozen=True)
class Authenticated:
    user: User
    session_id: uuid.UUID


async def begin(
    session: AsyncSession, user: User, context: audit.RequestContext | None = None
) -> str:
    """Create a pending session for a verified user; returns the one-time hand-off code."""
    code = new_token()
    row = UserSession(
        user_id=user.id,
        handoff_hash=token_digest(code),
        expires_at=utcnow() + HANDOFF_TTL,
        ip=(context.ip if context else None),
        user_agent=(context.user_agent[:512] if context and context.user_agent else None),
    )
    session.add(row)
    await session.commit()
    return code


async def complete(session: AsyncSession, code: str, ttl: timedelta) -> str | None:
    """Swap a hand-off code for the session token (once, within a minute)."""
    if not code or len(code) > 128:
        return None
    now = utcnow()
    row = await session.scalar(
        select(UserSession).where(col(UserSession.handoff_hash) == token_digest(code))
    )
    if row is None or row.token_hash is not None or row.expires_at <= now:
        return None
    token = new_token()
    # The conditional update makes a replayed code lose the race instead of minting a second token.
    result = await session.execute(
        update(UserSession)
        .where(col(UserSession.id) == row.id, col(UserSession.handoff_hash) == row.handoff_hash)
        .values(
            token_hash=token_digest(token),
            handoff_hash=None,
            expires_at=now + ttl,
            last_seen_at=now,
        )
    )
    await session.commit()
    return token if rows_affected(result) == 1 else None


async def resolve(session: AsyncSession, token: str | None, ttl: timedelta) -> Authenticated | None:
    """The signed-in user behind a cookie token, or None; slides the expiry."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, col(User.id) == col(UserSession.user_id))
            .where(col(UserSession.token_hash) == token_digest(token))
        )
    ).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or not user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        row.expires_at = now + ttl
        await session.commit()
    return Authenticated(user=user, session_id=row.id)


async def end(
    session: AsyncSession, token: str | None, context: audit.RequestContext | None = None
) -> bool:
    """Sign out: delete the session behind this token."""
    if not token or len(token) > 128:
        return False
    row = await session.scalar(
        select(UserSession).where(col(UserSession.token_hash) == token_digest(token))
    )
    if row is None:
        return False
    user = await session.get(User, row.user_id)
    await session.delete(row)
    audit.record(session, "auth.sign_out", actor=user, context=context)
    await session.commit()
    return True


async def end_user_sessions(
    session: AsyncSession, user_id: uuid.UUID, except_session_id: uuid.UUID | None = None
) -> int:
    """Delete a user's sessions (caller commits)."""
    statement = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if except_session_id is not None:
        statement = statement.where(col(UserSession.id) != except_session_id)
    result = await session.execute(statement)
    return rows_affected(result)


async def list_for(session: AsyncSession, actor: User) -> list[UserSession]:
    """The actor's own active sessions, most recent first."""
    require_active(actor)
    rows = await session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == actor.id,
            col(UserSession.token_hash).is_not(None),
            UserSession.expires_at > utcnow(),
        )
        .order_by(col(UserSession.last_seen_at).desc())
    )
    return list(rows)


async def revoke(
    session: AsyncSession,
    actor: User,
    session_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    """End one of the actor's own sessions; someone else's reads as not found."""
    require_active(actor)
    row = await session.get(UserSession, session_id)
    if row is None or row.user_id != actor.id:
        raise NotFound("Session not found.")
    await session.delete(row)
    audit.record(
        session,
        "auth.session_revoke",
        actor=actor,
        resource_type="session",
        resource_id=session_id,
        context=context,
    )
    await session.commit()


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(UserSession).where(col(UserSession.expires_at) <= utcnow())
    )
    await session.commit()
    return rows_affected(result)
