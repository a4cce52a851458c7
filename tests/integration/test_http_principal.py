"""One principal for every HTTP route: the same credentials, one error shape, audited root key,
and failed credentials limited per client address. Real HTTP requests through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from limits.aio.storage import MemoryStorage
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.integration.api_v1_support import assert_error, bearer, jwt_for, key_for, root_key
from tests.integration.test_documents import files
from youworker.api.app import create_api
from youworker.models import AuditEvent, User
from youworker.services import runtime
from youworker.services.documents import library
from youworker.services.documents.storage import FileStore
from youworker.services.rate_limits import RateLimits, use_rate_limits
from youworker.settings import RateLimitSettings

__all__ = ["files"]

BASE = "http://testserver"
ATTACKER = ("198.51.100.7", 40000)
NEIGHBOUR = ("203.0.113.50", 40000)


def install_limits(auth_failures: str) -> None:
    generous = RateLimitSettings(
        api_per_key="1000/minute",
        api_auth_failures_per_ip=auth_failures,
    )
    use_rate_limits(RateLimits(generous, MemoryStorage()))


def client_from(address: tuple[str, int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(), client=address)
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.fixture
async def http(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    install_limits("1000/minute")
    async with client_from(NEIGHBOUR) as client:
        yield client


async def root_key_events(db: AsyncSession) -> list[AuditEvent]:
    await db.commit()  # a fresh read: the route wrote through its own session
    rows = await db.scalars(select(AuditEvent).where(col(AuditEvent.action) == "auth.root_key"))
    return list(rows)


async def test_detailed_health_audits_every_root_key_use(
    http: httpx.AsyncClient, db: AsyncSession, admin: User
) -> None:
    response = await http.get("/health/detailed", headers=root_key())
    assert response.status_code == 200, response.text
    (event,) = await root_key_events(db)
    assert event.actor_id == admin.id
    assert event.details == {"method": "GET", "path": "/health/detailed"}
    assert event.ip == NEIGHBOUR[0]


async def test_download_and_audit_csv_take_jwts_and_the_root_key(
    http: httpx.AsyncClient,
    db: AsyncSession,
    admin: User,
    alice: User,
    files: FileStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "get_file_store", lambda: files)
    uploaded = await library.upload(
        db, alice, files, "notes.md", b"# Notes\n\nhello\n", max_bytes=10**6
    )
    download = f"/api/documents/{uploaded.document.id}/download"

    for headers in (jwt_for(alice), await key_for(db, alice)):
        response = await http.get(download, headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == b"# Notes\n\nhello\n"

    for headers in (jwt_for(admin), await key_for(db, admin), root_key()):
        response = await http.get("/api/admin/audit.csv", headers=headers)
        assert response.status_code == 200, response.text
        assert response.text.startswith("time,actor_email")
    assert len(await root_key_events(db)) == 1


async def test_every_route_answers_with_the_one_error_shape(
    http: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    alices = jwt_for(alice)
    assert_error(await http.get("/health/detailed"), 401, "authentication_failed")
    assert_error(await http.get("/health/detailed", headers=alices), 403, "forbidden")
    assert_error(await http.get("/api/admin/audit.csv"), 401, "authentication_failed")
    assert_error(await http.get("/api/admin/audit.csv", headers=alices), 403, "forbidden")
    bad_date = await http.get("/api/admin/audit.csv?start=yesterday", headers=alices)
    assert_error(bad_date, 422, "validation_error", {"start"})
    missing = "/api/documents/00000000-0000-0000-0000-000000000000/download"
    assert_error(await http.get(missing, headers=alices), 404, "not_found")
    assert_error(await http.get("/api/documents/nope/download", headers=alices), 404, "not_found")
    assert_error(await http.get(missing, headers=bearer("made-up")), 401, "authentication_failed")
    stale = await http.post("/auth/session", json={"code": "stale"}, headers={"origin": BASE})
    assert_error(stale, 400, "bad_request")


async def test_failed_credentials_are_limited_per_client_address(
    engine: object, db: AsyncSession, admin: User, alice: User
) -> None:
    install_limits("3/minute")
    alices = await key_for(db, alice)
    async with client_from(ATTACKER) as attacker, client_from(NEIGHBOUR) as neighbour:
        guesses = [bearer("guess-1"), {"x-api-key": "yw_guess"}, bearer("a.b.c")]
        for guess in guesses:
            response = await attacker.get("/health/detailed", headers=guess)
            assert_error(response, 401, "authentication_failed")
        # The window is full: the next guess is not even checked, the right key included.
        for path, headers in (
            ("/health/detailed", root_key()),
            ("/api/v1/conversations", alices),
            ("/api/admin/audit.csv", bearer("guess-4")),
        ):
            refused = await attacker.get(path, headers=headers)
            assert_error(refused, 429, "rate_limited")
            assert int(refused.headers["retry-after"]) > 0
        # Another address is not affected.
        assert (await neighbour.get("/health/detailed", headers=root_key())).status_code == 200
        assert (await neighbour.get("/api/v1/conversations", headers=alices)).status_code == 200
    # The refused root key was never checked, so it left no audit record.
    assert len(await root_key_events(db)) == 1
