"""A password change or reset revokes the person's API keys: a leaked key dies with the password."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.integration.api_v1_support import V1, api, client, key_for
from youworker.models import AuditEvent, User
from youworker.services import accounts, api_keys, mail, password_reset

__all__ = ["api", "client"]


async def works(client: object, headers: dict[str, str]) -> int:
    response = await client.get(f"{V1}/conversations", headers=headers)  # type: ignore[attr-defined]
    return int(response.status_code)


async def details_of(db: AsyncSession, action: str) -> dict[str, object]:
    await db.commit()
    event = await db.scalar(select(AuditEvent).where(col(AuditEvent.action) == action))
    assert event is not None
    return dict(event.details)


async def test_changing_the_password_revokes_every_api_key(
    db: AsyncSession, alice: User, bob: User, client: object
) -> None:
    first, second = await key_for(db, alice), await key_for(db, alice)
    bobs = await key_for(db, bob)
    assert [await works(client, k) for k in (first, second, bobs)] == [200, 200, 200]

    changed = await accounts.change_password(
        db, alice, current_password="alice-password-1", new_password="a-new-password-2"
    )

    assert changed.api_keys_revoked == 2
    assert [await works(client, k) for k in (first, second, bobs)] == [401, 401, 200]
    assert await api_keys.list_for(db, alice) == []
    assert (await details_of(db, "user.password_change"))["api_keys_revoked"] == 2


async def test_a_password_reset_revokes_every_api_key(
    db: AsyncSession, admin: User, alice: User, client: object
) -> None:
    key = await key_for(db, alice)
    assert await works(client, key) == 200
    await password_reset.send_reset_link(db, admin, alice.id)
    body = (await mail.list_outbox(db, admin)).entries[0].body or ""
    found = re.search(r"/reset/([A-Za-z0-9_-]+)", body)
    assert found is not None

    await password_reset.complete_reset(db, found.group(1), "a-new-password-3")

    assert await works(client, key) == 401
    assert (await details_of(db, "user.password_reset"))["api_keys_revoked"] == 1
