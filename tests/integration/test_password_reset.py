"""Password-reset links: sending, inspecting and using them (mail lands in the outbox here)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.conftest import count_rows
from youworker.db import session_scope
from youworker.models import AuditEvent, PasswordReset, User
from youworker.models.base import utcnow
from youworker.services import accounts, mail, sessions, users_admin
from youworker.services.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from youworker.services.hashing import token_digest
from youworker.services.password_reset import (
    ResetStatus,
    ResetUnavailable,
    complete_reset,
    inspect,
    send_reset_link,
)
from youworker.settings import get_settings

NEW_PASSWORD = "a-brand-new-password"
LINK = re.compile(r"(https?://\S+)/reset/([A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def no_smtp() -> Iterator[None]:
    """Mail stays in the outbox, where the test reads the link as an administrator would."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MAIL__SMTP_HOST", raising=False)
        patch.setenv("API__PUBLIC_URL", "https://yw.example.com/")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


async def send(db: AsyncSession, admin: User, user: User, now: datetime | None = None) -> str:
    """Send a reset link to `user` and return its token, read from the newest outbox mail."""
    sent = await send_reset_link(db, admin, user.id, now=now)
    assert sent.delivery == "outbox" and sent.email == user.email
    newest = (await mail.list_outbox(db, admin, limit=1)).entries[0]
    assert newest.recipient == user.email and newest.kind == "password_reset"
    assert newest.body is not None
    found = LINK.search(newest.body)
    assert found is not None, newest.body
    assert found.group(1) == "https://yw.example.com"
    return found.group(2)


async def signs_in(db: AsyncSession, user: User, password: str) -> bool:
    try:
        await accounts.authenticate(db, email=user.email, password=password)
    except AuthenticationFailed:
        return False
    return True


async def test_link_sets_a_new_password_once(db: AsyncSession, admin: User, alice: User) -> None:
    token = await send(db, admin, alice)
    link = await inspect(db, token)
    assert link.status == ResetStatus.VALID and link.email == alice.email

    await complete_reset(db, token, NEW_PASSWORD)

    assert await signs_in(db, alice, NEW_PASSWORD)
    assert not await signs_in(db, alice, "alice-password-1")
    assert (await inspect(db, token)).status == ResetStatus.USED
    assert (await inspect(db, token)).email == ""
    with pytest.raises(ResetUnavailable) as reused:
        await complete_reset(db, token, "yet-another-password")
    assert reused.value.status == ResetStatus.USED
    assert await signs_in(db, alice, NEW_PASSWORD)


async def test_link_expires_after_the_configured_time(
    db: AsyncSession, admin: User, alice: User
) -> None:
    sent_at = utcnow()
    ttl = get_settings().groups.password_reset_ttl
    token = await send(db, admin, alice, now=sent_at)

    almost = sent_at + ttl - timedelta(seconds=1)
    assert (await inspect(db, token, now=almost)).status == ResetStatus.VALID
    assert (await inspect(db, token, now=sent_at + ttl)).status == ResetStatus.EXPIRED
    with pytest.raises(ResetUnavailable) as expired:
        await complete_reset(db, token, NEW_PASSWORD, now=sent_at + ttl)
    assert expired.value.status == ResetStatus.EXPIRED
    assert await signs_in(db, alice, "alice-password-1")


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43, "y" * 500])
async def test_unknown_tokens_are_refused(
    db: AsyncSession, admin: User, alice: User, token: str
) -> None:
    await send(db, admin, alice)
    link = await inspect(db, token)
    assert link.status == ResetStatus.UNKNOWN and link.email == ""
    with pytest.raises(ResetUnavailable) as unknown:
        await complete_reset(db, token, NEW_PASSWORD)
    assert unknown.value.status == ResetStatus.UNKNOWN


async def test_newer_link_voids_older_ones(db: AsyncSession, admin: User, alice: User) -> None:
    first = await send(db, admin, alice)
    second = await send(db, admin, alice)
    assert first != second
    assert (await inspect(db, first)).status == ResetStatus.EXPIRED
    assert (await inspect(db, second)).status == ResetStatus.VALID
    with pytest.raises(ResetUnavailable):
        await complete_reset(db, first, NEW_PASSWORD)
    await complete_reset(db, second, NEW_PASSWORD)
    assert await signs_in(db, alice, NEW_PASSWORD)


async def test_other_users_links_survive(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    for_alice = await send(db, admin, alice)
    for_bob = await send(db, admin, bob)
    await complete_reset(db, for_bob, NEW_PASSWORD)
    assert (await inspect(db, for_alice)).status == ResetStatus.VALID


async def test_deactivated_user_cannot_get_or_use_a_link(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    token = await send(db, admin, alice)
    await users_admin.set_active(db, admin, alice.id, False)

    assert (await inspect(db, token)).status == ResetStatus.DEACTIVATED
    with pytest.raises(ResetUnavailable) as refused:
        await complete_reset(db, token, NEW_PASSWORD)
    assert refused.value.status == ResetStatus.DEACTIVATED
    with pytest.raises(Conflict):
        await send_reset_link(db, admin, alice.id)

    await users_admin.set_active(db, admin, alice.id, True)
    assert not await signs_in(db, alice, NEW_PASSWORD)
    assert await signs_in(db, alice, "alice-password-1")


async def test_only_site_admins_send_links(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    with pytest.raises(Forbidden):
        await send_reset_link(db, alice, bob.id)
    with pytest.raises(AuthenticationFailed):
        await send_reset_link(db, None, bob.id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await send_reset_link(db, admin, uuid.uuid4())
    assert await count_rows(db, "password_resets") == 0
    assert await count_rows(db, "outbox_mail") == 0


async def test_weak_password_is_refused_and_the_link_stays_valid(
    db: AsyncSession, admin: User, alice: User
) -> None:
    token = await send(db, admin, alice)
    with pytest.raises(ValidationFailed) as problem:
        await complete_reset(db, token, "short")
    assert "password" in problem.value.fields
    assert (await inspect(db, token)).status == ResetStatus.VALID


async def test_reset_ends_every_session_of_the_user(
    db: AsyncSession, admin: User, alice: User
) -> None:
    ttl = get_settings().security.session_ttl
    cookies = []
    for _ in range(2):
        code = await sessions.begin(db, alice)
        cookie = await sessions.complete(db, code, ttl)
        assert cookie is not None
        cookies.append(cookie)
    token = await send(db, admin, alice)

    await complete_reset(db, token, NEW_PASSWORD)

    for cookie in cookies:
        assert await sessions.resolve(db, cookie, ttl) is None


async def test_audit_records_both_steps_without_the_token(
    db: AsyncSession, admin: User, alice: User
) -> None:
    token = await send(db, admin, alice)
    await complete_reset(db, token, NEW_PASSWORD)

    stored = await db.scalar(select(PasswordReset))
    assert stored is not None and stored.token_hash == token_digest(token)
    events = {
        event.action: event
        for event in await db.scalars(
            select(AuditEvent).where(col(AuditEvent.action).like("user.password_reset%"))
        )
    }
    assert set(events) == {"user.password_reset_sent", "user.password_reset"}
    sent, used = events["user.password_reset_sent"], events["user.password_reset"]
    assert sent.actor_id == admin.id and sent.resource_id == str(alice.id)
    assert sent.details["delivery"] == "outbox"
    assert used.actor_id == alice.id and used.resource_id == str(alice.id)
    for event in events.values():
        assert token not in repr(event.model_dump())


async def test_concurrent_uses_of_one_link_let_exactly_one_win(
    db: AsyncSession, admin: User, alice: User
) -> None:
    token = await send(db, admin, alice)

    async def use(password: str) -> User | BaseException:
        async with session_scope() as session:
            try:
                return await complete_reset(session, token, password)
            except ResetUnavailable as exc:
                return exc

    results = await asyncio.gather(use("first-new-password"), use("second-new-password"))

    winners = [r for r in results if isinstance(r, User)]
    losers = [r for r in results if isinstance(r, ResetUnavailable)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].status == ResetStatus.USED
    winning = "first-new-password" if results[0] is winners[0] else "second-new-password"
    async with session_scope() as fresh:  # `db` still holds alice as she was before
        assert await signs_in(fresh, alice, winning)
