"""API keys and site-admin user management."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import ApiKey, AuditEvent, Role, User
from youworker.services import api_keys, registration, users_admin
from youworker.services.errors import Conflict, Forbidden, NotFound, ValidationFailed


async def test_key_is_shown_once_and_stored_hashed(db: AsyncSession, alice: User) -> None:
    key, plain = await api_keys.create(db, alice, "laptop")
    stored = await db.scalar(select(ApiKey))
    assert stored is not None and plain not in (stored.key_hash, stored.prefix)
    assert plain.startswith(stored.prefix)
    resolved = await api_keys.resolve(db, plain)
    assert resolved is not None and resolved.id == alice.id
    await db.refresh(key)
    assert key.last_used_at is not None


async def test_revoked_key_stops_working(db: AsyncSession, alice: User) -> None:
    key, plain = await api_keys.create(db, alice, "ci")
    await api_keys.revoke(db, alice, key.id)
    assert await api_keys.resolve(db, plain) is None
    assert await api_keys.list_for(db, alice) == []


async def test_someone_elses_key_reads_as_not_found(
    db: AsyncSession, alice: User, bob: User
) -> None:
    key, plain = await api_keys.create(db, alice, "mine")
    with pytest.raises(NotFound):
        await api_keys.revoke(db, bob, key.id)
    assert await api_keys.resolve(db, plain) is not None


async def test_deactivated_users_keys_stop_at_once(
    db: AsyncSession, admin: User, alice: User
) -> None:
    _, plain = await api_keys.create(db, alice, "script")
    await users_admin.set_active(db, admin, alice.id, False)
    assert await api_keys.resolve(db, plain) is None
    await users_admin.set_active(db, admin, alice.id, True)
    assert await api_keys.resolve(db, plain) is None, "deactivation revokes keys for good"


async def test_key_name_is_validated(db: AsyncSession, alice: User) -> None:
    with pytest.raises(ValidationFailed):
        await api_keys.create(db, alice, "")
    with pytest.raises(ValidationFailed):
        await api_keys.create(db, alice, "k" * 101)


@pytest.mark.parametrize("junk", [None, "", "yw_nope", "sk-other", "yw_" + "a" * 300])
async def test_junk_keys_resolve_to_nobody(db: AsyncSession, junk: str | None) -> None:
    assert await api_keys.resolve(db, junk) is None


async def test_non_admins_are_refused_by_the_service(
    db: AsyncSession, admin: User, alice: User
) -> None:
    with pytest.raises(Forbidden):
        await users_admin.list_users(db, alice)
    with pytest.raises(Forbidden):
        await users_admin.set_role(db, alice, alice.id, "admin")
    with pytest.raises(Forbidden):
        await users_admin.set_active(db, alice, admin.id, False)
    with pytest.raises(Forbidden):
        await registration.set_mode(db, alice, "open")
    await db.refresh(alice)
    assert alice.role == Role.USER


async def test_deactivated_admin_is_refused(db: AsyncSession, admin: User, alice: User) -> None:
    await users_admin.set_role(db, admin, alice.id, "admin")
    await users_admin.set_active(db, admin, alice.id, False)
    await db.refresh(alice)
    with pytest.raises(Exception, match="Sign in"):
        await users_admin.list_users(db, alice)


async def test_last_admin_is_protected(db: AsyncSession, admin: User, alice: User) -> None:
    with pytest.raises(Conflict):
        await users_admin.set_role(db, admin, admin.id, "user")
    with pytest.raises(Conflict):
        await users_admin.set_active(db, admin, admin.id, False)
    await users_admin.set_role(db, admin, alice.id, "admin")
    await users_admin.set_role(db, admin, admin.id, "user")
    await db.refresh(admin)
    assert admin.role == Role.USER


async def test_role_changes_are_audited_and_validated(
    db: AsyncSession, admin: User, alice: User
) -> None:
    with pytest.raises(ValidationFailed):
        await users_admin.set_role(db, admin, alice.id, "superuser")
    await users_admin.set_role(db, admin, alice.id, "admin")
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "user.role_change"))
    assert event is not None and event.details == {
        "old": "user",
        "new": "admin",
        "email": alice.email,
    }


async def test_search_and_pagination(db: AsyncSession, admin: User, alice: User, bob: User) -> None:
    page = await users_admin.list_users(db, admin, limit=2)
    assert page.total == 3 and len(page.users) == 2
    rest = await users_admin.list_users(db, admin, offset=2, limit=2)
    assert [u.email for u in rest.users] == ["bob@example.com"]
    found = await users_admin.list_users(db, admin, query="ALI")
    assert [u.email for u in found.users] == ["alice@example.com"]
    assert (await users_admin.list_users(db, admin, query="%")).total == 3


async def test_unknown_user_is_not_found(db: AsyncSession, admin: User) -> None:
    import uuid

    with pytest.raises(NotFound):
        await users_admin.set_active(db, admin, uuid.uuid4(), False)
