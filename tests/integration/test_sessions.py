"""Server-side sessions: hand-off, sliding expiry, sign-out, deactivation, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User, UserSession
from youworker.models.base import utcnow
from youworker.services import accounts, sessions, users_admin
from youworker.services.errors import NotFound
from youworker.services.hashing import token_digest

TTL = timedelta(hours=1)


async def _signed_in(db: AsyncSession, user: User) -> str:
    token = await sessions.complete(db, await sessions.begin(db, user), TTL)
    assert token is not None
    return token


async def test_handoff_code_works_once(db: AsyncSession, alice: User) -> None:
    code = await sessions.begin(db, alice)
    token = await sessions.complete(db, code, TTL)
    assert token is not None
    assert await sessions.complete(db, code, TTL) is None
    found = await sessions.resolve(db, token, TTL)
    assert found is not None and found.user.id == alice.id


async def test_only_hashes_are_stored(db: AsyncSession, alice: User) -> None:
    token = await _signed_in(db, alice)
    row = await db.scalar(select(UserSession))
    assert row is not None and row.token_hash == token_digest(token) and token not in row.token_hash


async def test_pending_handoff_is_not_a_session(db: AsyncSession, alice: User) -> None:
    code = await sessions.begin(db, alice)
    assert await sessions.resolve(db, code, TTL) is None


async def test_expired_handoff_is_refused(db: AsyncSession, alice: User) -> None:
    code = await sessions.begin(db, alice)
    row = await db.scalar(select(UserSession))
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    await db.commit()
    assert await sessions.complete(db, code, TTL) is None


async def test_expiry_slides_with_use_and_ends_when_idle(db: AsyncSession, alice: User) -> None:
    token = await _signed_in(db, alice)
    row = await db.scalar(select(UserSession))
    assert row is not None
    row.last_seen_at = utcnow() - timedelta(minutes=30)
    row.expires_at = utcnow() + timedelta(minutes=30)
    await db.commit()
    assert await sessions.resolve(db, token, TTL) is not None
    await db.refresh(row)
    assert row.expires_at > utcnow() + timedelta(minutes=59)
    row.expires_at = utcnow() - timedelta(seconds=1)
    await db.commit()
    assert await sessions.resolve(db, token, TTL) is None


async def test_sign_out_ends_the_session(db: AsyncSession, alice: User) -> None:
    token = await _signed_in(db, alice)
    assert await sessions.end(db, token)
    assert await sessions.resolve(db, token, TTL) is None


async def test_deactivation_ends_sessions_at_once(
    db: AsyncSession, admin: User, alice: User
) -> None:
    token = await _signed_in(db, alice)
    await users_admin.set_active(db, admin, alice.id, False)
    assert await sessions.resolve(db, token, TTL) is None
    await users_admin.set_active(db, admin, alice.id, True)
    assert await sessions.resolve(db, token, TTL) is None, "a reactivated user signs in again"


async def test_password_change_ends_other_sessions_only(db: AsyncSession, alice: User) -> None:
    here = await _signed_in(db, alice)
    elsewhere = await _signed_in(db, alice)
    current = await sessions.resolve(db, here, TTL)
    assert current is not None
    changed = await accounts.change_password(
        db,
        alice,
        current_password="alice-password-1",
        new_password="changed-password",
        keep_session_id=current.session_id,
    )
    assert changed.sessions_ended == 1
    assert await sessions.resolve(db, here, TTL) is not None
    assert await sessions.resolve(db, elsewhere, TTL) is None


async def test_list_and_revoke_own_sessions_only(db: AsyncSession, alice: User, bob: User) -> None:
    await _signed_in(db, alice)
    bob_token = await _signed_in(db, bob)
    (alice_row,) = await sessions.list_for(db, alice)
    (bob_row,) = await sessions.list_for(db, bob)
    with pytest.raises(NotFound):
        await sessions.revoke(db, alice, bob_row.id)
    assert await sessions.resolve(db, bob_token, TTL) is not None
    await sessions.revoke(db, alice, alice_row.id)
    assert await sessions.list_for(db, alice) == []


@pytest.mark.parametrize("token", [None, "", "x" * 500, "not-a-real-token"])
async def test_junk_tokens_resolve_to_nobody(db: AsyncSession, token: str | None) -> None:
    assert await sessions.resolve(db, token, TTL) is None
