"""The HTTP routes: health, detailed health, and the cookie hand-off, over real ASGI requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.api.app import create_api
from youworker.models import User
from youworker.services import api_keys, sessions
from youworker.settings import get_settings

BASE = "http://testserver"
SAME_ORIGIN = {"origin": BASE}


@pytest.fixture
async def client(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


async def _sign_in(client: httpx.AsyncClient, db: AsyncSession, user: User) -> None:
    code = await sessions.begin(db, user)
    response = await client.post("/auth/session", json={"code": code}, headers=SAME_ORIGIN)
    assert response.status_code == 200


async def test_liveness_is_public_and_says_nothing_secret(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_detailed_health_needs_admin_or_root_key(
    client: httpx.AsyncClient, db: AsyncSession, admin: User, alice: User
) -> None:
    assert (await client.get("/health/detailed")).status_code == 401
    assert (await client.get("/health/detailed", headers={"x-api-key": "wrong"})).status_code == 401

    _, alice_key = await api_keys.create(db, alice, "k")
    assert (
        await client.get("/health/detailed", headers={"authorization": f"Bearer {alice_key}"})
    ).status_code == 403

    root = get_settings().secret("root_api_key")
    response = await client.get("/health/detailed", headers={"authorization": f"Bearer {root}"})
    assert response.status_code == 200
    body = response.json()
    assert set(body["checks"]) == {"database", "vector_store", "llm", "redis", "ingestion"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["llm"]["status"] == "degraded"  # nothing listens on the test Ollama URL
    assert body["status"] == "degraded"
    assert root not in response.text

    await _sign_in(client, db, admin)
    assert (await client.get("/health/detailed")).status_code == 200


async def test_handoff_sets_an_httponly_cookie_once(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    code = await sessions.begin(db, alice)
    response = await client.post("/auth/session", json={"code": code}, headers=SAME_ORIGIN)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = client.cookies[sessions.COOKIE_NAME]
    assert await sessions.resolve(db, token, get_settings().security.session_ttl) is not None

    replay = await client.post("/auth/session", json={"code": code}, headers=SAME_ORIGIN)
    assert replay.status_code == 400


@pytest.mark.parametrize(
    "headers", [{}, {"origin": "https://evil.example"}, {"referer": "https://evil.example/x"}]
)
async def test_cross_site_posts_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, headers: dict[str, str]
) -> None:
    code = await sessions.begin(db, alice)
    response = await client.post("/auth/session", json={"code": code}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_oversized_code_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/session", json={"code": "x" * 10_000}, headers=SAME_ORIGIN)
    assert response.status_code == 422


async def test_logout_ends_the_session_and_clears_the_cookie(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    await _sign_in(client, db, alice)
    token = client.cookies[sessions.COOKIE_NAME]
    response = await client.post("/auth/logout", headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert (
        'yw_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    assert await sessions.resolve(db, token, get_settings().security.session_ttl) is None
