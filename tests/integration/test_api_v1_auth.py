"""/api/v1 authentication (JWT, personal API keys, the root key, the session cookie) and errors."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.integration.api_v1_support import (
    V1,
    api,
    assert_error,
    bearer,
    client,
    jwt_for,
    key_for,
    raises,
    root_key,
)
from youworker.api.v1 import providers
from youworker.db import session_scope
from youworker.models import ApiKey, AuditEvent, Role, User
from youworker.models.base import utcnow
from youworker.services import access_tokens, accounts, api_keys, sessions
from youworker.services.errors import RateLimited
from youworker.settings import get_settings

__all__ = ["api", "client"]  # fixtures used here

ME = f"{V1}/conversations"


async def deactivate(user: User) -> None:
    async with session_scope() as fresh:
        await fresh.execute(update(User).where(col(User.id) == user.id).values(is_active=False))
        await fresh.commit()


# --- JWT --------------------------------------------------------------------------------------


async def test_token_from_credentials_authenticates(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        f"{V1}/token", json={"email": "Alice@Example.com", "password": "alice-password-1"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == get_settings().api.access_token_minutes * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(alice.id) and claims["exp"] - claims["iat"] == body["expires_in"]

    listed = await client.get(ME, headers=bearer(body["access_token"]))
    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}


async def test_token_refuses_wrong_password_and_missing_fields(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    wrong = await client.post(f"{V1}/token", json={"email": alice.email, "password": "nope"})
    assert_error(wrong, 401, "authentication_failed")
    assert wrong.headers["www-authenticate"] == "Bearer"
    failed = await db.scalar(
        select(AuditEvent).where(col(AuditEvent.action) == "auth.sign_in_failed")
    )
    assert failed is not None  # the same service as the sign-in page, with its audit

    missing = await client.post(f"{V1}/token", json={"email": alice.email})
    assert_error(missing, 422, "validation_error", {"password"})
    assert "alice-password" not in missing.text


async def test_expired_token_is_refused(client: httpx.AsyncClient, alice: User) -> None:
    old = access_tokens.issue(alice, now=utcnow() - timedelta(hours=2))
    response = await client.get(ME, headers=bearer(old.token))
    assert_error(response, 401, "authentication_failed")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_with_another_signature_or_algorithm_is_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    good = jwt.decode(access_tokens.issue(alice).token, options={"verify_signature": False})
    forged = jwt.encode(good, "not-the-server-secret-but-long-enough-1234", algorithm="HS256")
    assert_error(await client.get(ME, headers=bearer(forged)), 401, "authentication_failed")

    unsigned = jwt.encode(good, None, algorithm="none")
    assert_error(await client.get(ME, headers=bearer(unsigned)), 401, "authentication_failed")

    assert_error(await client.get(ME, headers=bearer("a.b.c")), 401, "authentication_failed")


async def test_deactivated_user_token_stops_at_once(client: httpx.AsyncClient, alice: User) -> None:
    headers = jwt_for(alice)
    assert (await client.get(ME, headers=headers)).status_code == 200
    await deactivate(alice)
    assert_error(await client.get(ME, headers=headers), 401, "authentication_failed")
    refused = await client.post(
        f"{V1}/token", json={"email": alice.email, "password": "alice-password-1"}
    )
    assert_error(refused, 401, "authentication_failed")


async def test_password_change_ends_earlier_tokens(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    before = jwt_for(alice)
    await accounts.change_password(
        db, alice, current_password="alice-password-1", new_password="alice-password-2"
    )
    assert_error(await client.get(ME, headers=before), 401, "authentication_failed")
    async with session_scope() as fresh:
        reloaded = await fresh.get(User, alice.id)
    assert reloaded is not None
    assert (await client.get(ME, headers=jwt_for(reloaded))).status_code == 200


# --- API keys -----------------------------------------------------------------------------------


async def test_api_key_authenticates_by_header_or_bearer_and_tracks_last_use(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    key, plain = await api_keys.create(db, alice, "script")
    assert key.last_used_at is None
    assert (await client.get(ME, headers={"x-api-key": plain})).status_code == 200
    assert (await client.get(ME, headers=bearer(plain))).status_code == 200
    async with session_scope() as fresh:
        stored = await fresh.get(ApiKey, key.id)
    assert stored is not None and stored.last_used_at is not None


async def test_revoked_key_and_deactivated_owner_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, bob: User
) -> None:
    key, plain = await api_keys.create(db, alice, "old")
    await api_keys.revoke(db, alice, key.id)
    assert_error(await client.get(ME, headers={"x-api-key": plain}), 401, "authentication_failed")

    bobs = await key_for(db, bob)
    assert (await client.get(ME, headers=bobs)).status_code == 200
    await deactivate(bob)
    assert_error(await client.get(ME, headers=bobs), 401, "authentication_failed")

    unknown = {"x-api-key": "yw_" + "x" * 40}
    assert_error(await client.get(ME, headers=unknown), 401, "authentication_failed")


async def test_a_wrong_token_never_falls_back_to_the_session_cookie(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    code = await sessions.begin(db, alice)
    token = await sessions.complete(db, code, get_settings().security.session_ttl)
    assert token is not None
    client.cookies.set(sessions.COOKIE_NAME, token)
    assert (await client.get(ME)).status_code == 200  # the browser's cookie works
    assert_error(await client.get(ME, headers=bearer("wrong")), 401, "authentication_failed")


async def test_anonymous_is_refused_with_www_authenticate(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", ME),
        ("POST", ME),
        ("GET", f"{V1}/documents"),
        ("GET", f"{V1}/groups"),
        ("GET", f"{V1}/health/detailed"),
    ):
        response = await client.request(method, path, json={})
        assert_error(response, 401, "authentication_failed")
        assert response.headers["www-authenticate"] == "Bearer"


# --- the root key -------------------------------------------------------------------------------


async def test_root_key_acts_as_the_first_admin_and_every_use_is_audited(
    client: httpx.AsyncClient, db: AsyncSession, admin: User, alice: User
) -> None:
    created = await client.post(ME, json={"title": "From the root key"}, headers=root_key())
    assert created.status_code == 201
    listed = await client.get(ME, headers=root_key())
    assert [c["title"] for c in listed.json()["items"]] == ["From the root key"]
    assert (await client.get(f"{V1}/health/detailed", headers=root_key())).status_code == 200

    events = list(
        await db.scalars(
            select(AuditEvent)
            .where(col(AuditEvent.action) == "auth.root_key")
            .order_by(col(AuditEvent.created_at))
        )
    )
    assert len(events) == 3
    assert {e.actor_id for e in events} == {admin.id}
    assert [(e.details["method"], e.details["path"]) for e in events] == [
        ("POST", ME),
        ("GET", ME),
        ("GET", f"{V1}/health/detailed"),
    ]
    assert all(e.ip for e in events)
    secret = get_settings().secret("root_api_key")
    assert all(secret not in str(e.details) for e in events)


async def test_root_key_follows_the_next_active_admin(
    client: httpx.AsyncClient, db: AsyncSession, admin: User, alice: User
) -> None:
    await db.execute(update(User).where(col(User.id) == alice.id).values(role=Role.ADMIN))
    await db.commit()
    await deactivate(admin)
    await client.post(ME, json={"title": "x"}, headers=root_key())
    event = await db.scalar(select(AuditEvent).where(col(AuditEvent.action) == "auth.root_key"))
    assert event is not None and event.actor_id == alice.id

    await deactivate(alice)
    assert_error(await client.get(ME, headers=root_key()), 401, "authentication_failed")


# --- error shapes -------------------------------------------------------------------------------


async def test_validation_errors_name_the_fields(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    headers = jwt_for(alice)
    too_long = await client.post(ME, json={"title": "x" * 201}, headers=headers)
    assert_error(too_long, 422, "validation_error", {"title"})
    page = await client.get(f"{ME}?limit=1000", headers=headers)
    assert_error(page, 422, "validation_error", {"limit"})
    bad_id = await client.get(f"{ME}/not-a-uuid", headers=headers)
    assert_error(bad_id, 422, "validation_error", {"conversation_id"})
    not_json = await client.post(
        ME, content=b"{", headers={**headers, "content-type": "application/json"}
    )
    assert_error(not_json, 422, "validation_error")
    # A check that only the service makes comes back in the same shape.
    blank = await client.post(ME, json={}, headers=headers)
    renamed = await client.patch(
        f"{ME}/{blank.json()['id']}", json={"title": "   "}, headers=headers
    )
    assert_error(renamed, 422, "validation_error", {"title"})


async def test_unknown_endpoint_and_wrong_method_are_json(
    client: httpx.AsyncClient, alice: User
) -> None:
    assert_error(await client.get(f"{V1}/nothing-here"), 404, "not_found")
    wrong = await client.put(f"{V1}/token", json={}, headers=jwt_for(alice))
    assert wrong.status_code in (404, 405)
    assert wrong.json()["error"]["code"] in ("not_found", "method_not_allowed")


async def test_unexpected_failure_is_a_bare_500(
    api: FastAPI, client: httpx.AsyncClient, alice: User
) -> None:
    api.dependency_overrides[providers.embedder] = raises(RuntimeError("secret detail"))
    response = await client.post(
        f"{V1}/documents/search", json={"query": "anything"}, headers=jwt_for(alice)
    )
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "Internal error"}}
    assert "secret detail" not in response.text


async def test_rate_limited_carries_retry_after(
    api: FastAPI, client: httpx.AsyncClient, alice: User
) -> None:
    api.dependency_overrides[providers.embedder] = raises(RateLimited("Slow down.", 7))
    response = await client.post(
        f"{V1}/documents/search", json={"query": "anything"}, headers=jwt_for(alice)
    )
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "7"


async def test_routes_outside_v1_share_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/health/detailed"), 401, "authentication_failed")


# --- documentation ------------------------------------------------------------------------------


async def test_docs_page_loads_its_assets_from_this_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(url.endswith(".js") for url in assets) and any(
        url.endswith(".css") for url in assets
    )
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000
    assert "openapi.json" in page.text


async def test_openapi_lists_the_v1_routes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    expected = {
        f"{V1}/token": {"post"},
        f"{V1}/conversations": {"get", "post"},
        f"{V1}/conversations/{{conversation_id}}": {"get", "patch", "delete"},
        f"{V1}/conversations/{{conversation_id}}/messages": {"get", "post"},
        f"{V1}/documents": {"get", "post"},
        f"{V1}/documents/{{document_id}}": {"get", "delete"},
        f"{V1}/documents/search": {"post"},
        f"{V1}/groups": {"get"},
        f"{V1}/groups/{{group_id}}/members": {"get"},
        f"{V1}/health": {"get"},
        f"{V1}/health/detailed": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), path
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert "ErrorResponse" in schema["components"]["schemas"]


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
async def test_docs_need_no_credentials(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
