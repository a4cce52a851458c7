"""Rate limits through the real services on SQLite and PostgreSQL, and the REST middleware.

Each test installs small limits on fresh in-memory counters for its own event loop.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from limits.aio.storage import MemoryStorage
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from tests.integration.test_chat_runs import backend, finished, new_chat, runs, server
from tests.integration.test_documents import files
from youworker.api.app import create_api
from youworker.api.middleware import asgi_middleware
from youworker.api.rate_limit_middleware import ApiRateLimit
from youworker.models import AuditEvent, Document, Message, User
from youworker.services import access_tokens, accounts, api_keys, sessions
from youworker.services.audit import RequestContext
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import library
from youworker.services.documents.storage import FileStore
from youworker.services.errors import AuthenticationFailed, RateLimited
from youworker.services.rate_limits import RateLimits, use_rate_limits
from youworker.settings import RateLimitSettings


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


__all__ = ["backend", "files", "runs", "server"]

ATTACKER = RequestContext(ip="198.51.100.66", user_agent="pytest")
OWNER = RequestContext(ip="203.0.113.10", user_agent="pytest")
ALICE_PASSWORD = "alice-password-1"


def install(**overrides: str | int) -> RateLimits:
    generous: dict[str, str | int] = {
        "sign_in_per_ip": "1000/minute",
        "sign_in_per_account": "1000/minute",
        "sign_in_per_account_all_ips": "1000/minute",
        "register_per_ip": "1000/minute",
        "messages_per_user": "1000/minute",
        "upload_files_per_user": "1000/minute",
        "upload_mb_per_user": "1000/minute",
        "api_per_key": "1000/minute",
    }
    limits_ = RateLimits(RateLimitSettings(**(generous | overrides)), MemoryStorage())  # type: ignore[arg-type]
    use_rate_limits(limits_)
    return limits_


async def sign_in(db: AsyncSession, email: str, password: str, context: RequestContext) -> User:
    return await accounts.authenticate(db, email=email, password=password, context=context)


# ---- sign-in -------------------------------------------------------------------------------


async def test_sign_in_attempts_per_address(db: AsyncSession, alice: User) -> None:
    install(sign_in_per_ip="3/minute")
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await sign_in(db, "nobody@example.com", "wrong-password", ATTACKER)
    with pytest.raises(RateLimited) as info:
        await sign_in(db, alice.email, ALICE_PASSWORD, ATTACKER)  # even the right password
    assert info.value.code == "rate_limited"
    assert 0 < info.value.retry_after_seconds <= 61
    assert info.value.message.startswith("Too many sign-in attempts. Try again in ")
    assert (await sign_in(db, alice.email, ALICE_PASSWORD, OWNER)).id == alice.id


async def test_failures_lock_the_account_for_that_address_and_are_audited(
    db: AsyncSession, alice: User
) -> None:
    install(sign_in_per_account="3/15 minutes", lockout_seconds=30)
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            await sign_in(db, alice.email, "wrong-password", ATTACKER)
    with pytest.raises(RateLimited) as info:
        await sign_in(db, alice.email, "wrong-password", ATTACKER)
    assert info.value.retry_after_seconds == 30
    assert info.value.message == "Too many sign-in attempts. Try again in 30 s."
    with pytest.raises(RateLimited):
        await sign_in(db, alice.email, ALICE_PASSWORD, ATTACKER)

    # The owner, from their own address, signs in all the same.
    assert (await sign_in(db, alice.email, ALICE_PASSWORD, OWNER)).id == alice.id

    lockouts = list(
        await db.scalars(select(AuditEvent).where(col(AuditEvent.action) == "auth.lockout"))
    )
    assert len(lockouts) == 1
    event = lockouts[0]
    assert event.actor_id == alice.id and event.ip == ATTACKER.ip
    assert event.details == {"scope": "account_ip", "seconds": 30, "level": 1}
    failed = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(col(AuditEvent.action) == "auth.sign_in_failed")
    )
    assert failed == 3  # refused attempts never reached the password check


async def test_an_unknown_account_is_throttled_the_same_way(db: AsyncSession, alice: User) -> None:
    install(sign_in_per_account="2/15 minutes")
    refusals = []
    for email in (alice.email, "nobody@example.com"):
        with pytest.raises(AuthenticationFailed):
            await sign_in(db, email, "wrong-password", ATTACKER)
        for _ in range(2):
            with pytest.raises(RateLimited) as info:
                await sign_in(db, email, "wrong-password", ATTACKER)
            refusals.append((email, info.value.message, info.value.retry_after_seconds))
    # Same refusal, same wait: the wait counts down from each account's own lockout, so the
    # hashing time between the two (seconds on a loaded machine) may shift it by a second or two.
    messages = [re.sub(r"\d+", "N", message) for _, message, _ in refusals]
    assert messages[:2] == messages[2:]
    known, unknown = [r[2] for r in refusals[:2]], [r[2] for r in refusals[2:]]
    assert all(abs(k - u) <= 3 for k, u in zip(known, unknown, strict=True)), refusals


# ---- registration --------------------------------------------------------------------------


async def test_registrations_per_address(db: AsyncSession, admin: User) -> None:
    install(register_per_ip="2/hour")
    here = RequestContext(ip="192.0.2.7")
    for n in range(2):
        await accounts.register(
            db,
            email=f"user{n}@example.com",
            password="long-password-1",
            display_name="U",
            context=here,
        )
    with pytest.raises(RateLimited, match="Too many registrations") as info:
        await accounts.register(
            db,
            email="user9@example.com",
            password="long-password-1",
            display_name="U",
            context=here,
        )
    assert 3500 < info.value.retry_after_seconds <= 3601
    assert await db.scalar(select(User).where(col(User.email) == "user9@example.com")) is None
    await accounts.register(
        db,
        email="user9@example.com",
        password="long-password-1",
        display_name="U",
        context=RequestContext(ip="192.0.2.8"),
    )


# ---- message sends and uploads --------------------------------------------------------------


async def test_message_sends_per_user(
    db: AsyncSession, alice: User, bob: User, runs: ChatRuns
) -> None:
    install(messages_per_user="2/minute")
    for n in range(2):
        conversation_id = await new_chat(db, alice)
        await runs.start(alice, conversation_id, f"question {n}")
        await finished(runs, conversation_id)
    refused = await new_chat(db, alice)
    with pytest.raises(RateLimited, match="sending messages too fast") as info:
        await runs.start(alice, refused, "one too many")
    assert info.value.retry_after_seconds > 0
    saved = await db.scalar(
        select(func.count()).select_from(Message).where(col(Message.conversation_id) == refused)
    )
    assert saved == 0  # nothing stored for a refused send
    other = await new_chat(db, bob)
    await runs.start(bob, other, "bob has his own budget")
    await finished(runs, other)


async def test_files_uploaded_per_user(db: AsyncSession, alice: User, files: FileStore) -> None:
    install(upload_files_per_user="2/minute")
    for n in range(2):
        await library.upload(db, alice, files, f"n{n}.txt", f"note {n}".encode(), max_bytes=10_000)
    with pytest.raises(RateLimited, match="too many files") as info:
        await library.upload(db, alice, files, "n3.txt", b"note 3", max_bytes=10_000)
    assert info.value.retry_after_seconds > 0
    names = set(await db.scalars(select(Document.name)))
    assert names == {"n0.txt", "n1.txt"}


async def test_megabytes_uploaded_per_user(db: AsyncSession, alice: User, files: FileStore) -> None:
    install(upload_mb_per_user="5/hour")
    three_mb = b"Expense policy. " * (3 * 1024 * 1024 // 16)
    await library.upload(db, alice, files, "big.txt", three_mb, max_bytes=len(three_mb) + 1)
    with pytest.raises(RateLimited, match="too much data"):
        await library.upload(db, alice, files, "big2.txt", three_mb + b"!", max_bytes=2**30)
    await library.upload(db, alice, files, "small.txt", b"a small note", max_bytes=10_000)
    names = set(await db.scalars(select(Document.name)))
    assert names == {"big.txt", "small.txt"}  # the refused 3 MB left room for 1 MB more


# ---- the REST middleware --------------------------------------------------------------------


@pytest.fixture
async def limited_api(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    install(api_per_key="2/minute")
    app = ApiRateLimit(create_api())  # this loop's limits, as `install` sets them
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_api_calls_per_key_get_429_with_retry_after(
    limited_api: httpx.AsyncClient, db: AsyncSession, alice: User, bob: User
) -> None:
    _, plain = await api_keys.create(db, alice, "k")
    key = {"x-api-key": plain}
    # The first use counts for the address (the key is not verified yet), then for the key.
    for _ in range(3):
        assert (await limited_api.get("/api/v1/conversations", headers=key)).status_code == 200
    refused = await limited_api.get("/api/v1/conversations", headers=key)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 61
    body = refused.json()
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"].startswith("Too many requests. Try again in ")

    # Another verified key, and paths outside the API, are not affected.
    _, others = await api_keys.create(db, bob, "k")
    other = {"authorization": "Bearer " + others}
    assert (await limited_api.get("/api/v1/conversations", headers=other)).status_code == 200
    assert (await limited_api.get("/health", headers=key)).status_code == 200


async def test_made_up_credentials_count_for_their_address(
    limited_api: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    """A fresh made-up token (or key, or cookie) is no fresh budget: until a credential is
    verified, it counts for the address it came from."""
    made_up = [
        {"authorization": "Bearer " + uuid.uuid4().hex},
        {"x-api-key": "yw_" + uuid.uuid4().hex},
    ]
    for headers in made_up:
        assert (await limited_api.get("/api/v1/conversations", headers=headers)).status_code == 401
    for headers in (
        {"authorization": "Bearer " + uuid.uuid4().hex},
        {"x-api-key": "yw_" + uuid.uuid4().hex},
        {"cookie": f"{sessions.COOKIE_NAME}={uuid.uuid4().hex}"},
        {},
    ):
        refused = await limited_api.get("/api/v1/conversations", headers=headers)
        assert refused.status_code == 429, headers
    # Once verified, a key has its own budget, also while its address is spent.
    install(api_per_key="2/minute")  # fresh counters
    _, plain = await api_keys.create(db, alice, "k")
    key = {"x-api-key": plain}
    assert (await limited_api.get("/api/v1/conversations", headers=key)).status_code == 200
    assert (await limited_api.get("/api/v1/conversations", headers=made_up[0])).status_code == 401
    assert (await limited_api.get("/api/v1/conversations")).status_code == 429
    assert (await limited_api.get("/api/v1/conversations", headers=key)).status_code == 200


async def test_api_calls_without_a_key_count_per_address(limited_api: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await limited_api.get("/api/v1/conversations")).status_code != 429
    assert (await limited_api.get("/api/v1/conversations")).status_code == 429


async def test_every_token_of_one_user_shares_a_budget(
    limited_api: httpx.AsyncClient, alice: User
) -> None:
    """A fresh JWT from /api/v1/token is no fresh budget; a forged one counts per address."""
    for _ in range(2):
        token = access_tokens.issue(alice).token
        response = await limited_api.get("/api/v1/conversations", headers=bearer(token))
        assert response.status_code == 200
    token = access_tokens.issue(alice).token
    refused = await limited_api.get("/api/v1/conversations", headers=bearer(token))
    assert refused.status_code == 429
    forged = bearer(jwt.encode({"sub": str(alice.id)}, "x" * 32, algorithm="HS256"))
    for _ in range(2):
        response = await limited_api.get("/api/v1/conversations", headers=forged)
        assert response.status_code == 401
    assert (await limited_api.get("/api/v1/conversations")).status_code == 429


async def test_the_rate_limit_is_in_the_middleware_stack() -> None:
    assert ApiRateLimit in asgi_middleware()


async def test_a_locked_sign_in_over_rest_is_429_with_retry_after(
    engine: object, alice: User
) -> None:
    install(sign_in_per_account="1/15 minutes", lockout_seconds=45)
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        body = {"email": alice.email, "password": "wrong-password"}
        response = await http.post("/api/v1/token", json=body)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "45"
        assert response.json()["error"]["code"] == "rate_limited"
