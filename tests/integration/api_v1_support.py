"""Helpers for the /api/v1 tests: the real REST app over ASGI, and ways to authenticate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from youworker.api.app import create_api
from youworker.models import User
from youworker.services import access_tokens, api_keys
from youworker.services.errors import ServiceError
from youworker.settings import get_settings

BASE = "http://testserver"
V1 = "/api/v1"


@pytest.fixture
def api(engine: object) -> FastAPI:
    return create_api()


@pytest.fixture
async def client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def jwt_for(user: User) -> dict[str, str]:
    return bearer(access_tokens.issue(user).token)


def root_key() -> dict[str, str]:
    return bearer(get_settings().secret("root_api_key"))


async def key_for(db: object, user: User) -> dict[str, str]:
    _, plain = await api_keys.create(db, user, "tests")  # type: ignore[arg-type]
    return {"x-api-key": plain}


def assert_error(
    response: httpx.Response, status: int, code: str, fields: set[str] | None = None
) -> dict[str, object]:
    """The response is the API's JSON error with this status and code (and these fields)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code and error["message"]
    if fields is not None:
        assert set(error.get("fields") or {}) == fields, error
    assert "Traceback" not in response.text
    return dict(error)


def raises(exc: ServiceError | Exception) -> object:
    """A dependency override that fails with `exc`."""

    def dependency() -> object:
        raise exc

    return dependency
