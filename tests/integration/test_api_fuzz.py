"""Schemathesis fuzzes every operation of /openapi.json through the stack Reflex serves.

The schema comes from the in-process app (nothing is fetched); requests go over ASGI to
`create_api()` wrapped in `asgi_middleware()`, on SQLite and PostgreSQL. Each operation is its
own test on a fresh database seeded with users, API keys, a conversation with an answer,
documents (indexed on the first search) and groups. Credentials are drawn per request: Alice's
API key (header or bearer), her JWT, the administrator's JWT or the root key, or whatever
Schemathesis generated (junk: the 401 path); the token sometimes gets Alice's real password.
Path ids are drawn too: the generated one, a seeded row of the caller's, or someone else's; and
opaque parameters (conversation cursors, audit dates) sometimes get values of their real shape.
Answers stream from the Ollama-protocol test server.

No response may be a 5xx; status (under /api/v1), content type, headers and body must match the
schema where it declares them; invalid input must be refused; an /api/v1 error must be
`{"error": {"code", "message"}}`, and no body a stack trace. Every /api/v1 operation must
succeed at least once, so the run cannot quietly decay into 401s. Generation is derandomized and
bounded by MAX_EXAMPLES per operation. Rate limits are generous for this test's event loop, so
nothing is throttled; a 429 would still pass (declared, of the error shape).

The tests at the end pin the bugs the fuzzing found.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from limits.aio.storage import MemoryStorage
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp

from tests.conftest import count_rows
from tests.integration.api_v1_support import api, assert_error, client, key_for
from tests.integration.test_chat_runs import backend, finished, server
from tests.integration.test_documents import context, files, store, worker
from youworker.api.app import create_api
from youworker.api.middleware import asgi_middleware
from youworker.api.v1 import providers
from youworker.models import User
from youworker.services import access_tokens, api_keys, chat, groups, runtime
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import collections, library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.rate_limits import RateLimits, use_rate_limits
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import RateLimitSettings, get_settings

# fixtures used here
__all__ = ["api", "backend", "client", "context", "files", "server", "store", "worker"]

BASE = "http://testserver"
MAX_EXAMPLES = 25
# Refusing invalid data includes 413: the body limit answers before any validation.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTED, "5xx"]}}}
)
SCHEMA = schemathesis.openapi.from_dict(create_api().openapi(), config=CONFIG)
LEGACY_CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
V1_CHECKS = [*LEGACY_CHECKS, status_code_conformance, negative_data_rejection]
GENEROUS = "100000/minute"
# The keyword arguments of requests.Request (the serialized case may carry more).
REQUEST_FIELDS = ("method", "url", "headers", "files", "data", "json", "params", "auth", "cookies")
AUTH_HEADERS = ("authorization", "x-api-key")
V1_PREFIX = "/api/v1"
SEARCH = f"{V1_PREFIX}/documents/search"
TOKEN = f"{V1_PREFIX}/token"
ALICE_EMAIL, ALICE_PASSWORD = "alice@example.com", "alice-password-1"  # as tests/conftest.py has
PATH, QUERY, HEADER, BODY = (
    ParameterLocation.PATH,
    ParameterLocation.QUERY,
    ParameterLocation.HEADER,
    ParameterLocation.BODY,
)
NOTES = "Travel policy.\n\nThe daily meal allowance for business trips is 42 euros.\n"


def cursor_of(*parts: object) -> str:
    """A conversation cursor the way encode_cursor writes one: base64 JSON `[timestamp, id]`."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def cursor_tokens() -> st.SearchStrategy[str]:
    """Cursors of the real shape, their parts fuzzed."""
    zones = st.sampled_from([None, UTC, timezone(timedelta(hours=14))])
    stamps = st.datetimes(timezones=zones).map(datetime.isoformat) | st.text(max_size=30)
    keys = st.uuids().map(str) | st.integers() | st.text(max_size=40)
    return st.tuples(stamps, keys).map(lambda parts: cursor_of(*parts))


DAYS = (st.sampled_from([date.max, date.min]) | st.dates()).map(date.isoformat)
# Opaque parameters: Schemathesis only knows them as strings, the routes parse them further.
SHAPED: dict[str, st.SearchStrategy[str]] = {"cursor": cursor_tokens(), "start": DAYS, "end": DAYS}


@dataclass
class Fuzz:
    """The app under test, the loop its fixtures run on, and the seeded rows to aim at."""

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    credentials: dict[str, dict[str, str]]
    ids: dict[str, list[str]]
    worker: IngestionWorker
    indexed: bool = False
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def send(self, case: schemathesis.Case, data: st.DataObject) -> schemathesis.Response:
        """Aim the case at seeded rows with a drawn credential, send it, and return the answer."""
        self._aim(case, data)
        if case.path == SEARCH and not self.indexed:
            # Indexing is the slowest seeding step and only search reads the index.
            self.loop.run_until_complete(self.worker.run_until_idle())
            self.indexed = True
        kwargs = case.as_transport_kwargs(base_url=BASE)
        prepared = requests.Request(**{k: kwargs[k] for k in REQUEST_FIELDS if k in kwargs})
        wire = prepared.prepare()
        body = wire.body.encode() if isinstance(wire.body, str) else wire.body
        assert body is None or isinstance(body, bytes)
        # Bytes as on the wire: http.client sends header values as latin-1.
        headers = [(latin1(name), latin1(value)) for name, value in wire.headers.items()]
        started = time.perf_counter()
        response = self.loop.run_until_complete(
            self.client.request(str(wire.method), str(wire.url), headers=headers, content=body)
        )
        self.statuses.setdefault(case.operation.label, []).append(response.status_code)
        return schemathesis.Response(
            status_code=response.status_code,
            headers={name: response.headers.get_list(name) for name in response.headers},
            content=response.content,
            request=wire,
            elapsed=time.perf_counter() - started,
            verify=True,
            message=response.reason_phrase,
            encoding=response.encoding,
        )

    def assert_some_success(self) -> None:
        """Each /api/v1 operation succeeded at least once: the run did not decay into refusals."""
        for label, statuses in self.statuses.items():
            if label.split(" ")[1].startswith(V1_PREFIX + "/"):
                assert any(200 <= status < 300 for status in statuses), (label, statuses)

    def _aim(self, case: schemathesis.Case, data: st.DataObject) -> None:
        """Swap in seeded ids and a real credential, each drawn against Schemathesis' own.

        Hypothesis draws the first choices most often: the caller's own row and Alice's key. A
        component a negative case made invalid stays as generated: a valid value swapped in would
        make the request valid, and rightly accepted.
        """
        meta = case.meta
        for location, params in ((PATH, case.path_parameters), (QUERY, case.query)):
            if meta is not None and meta.is_negative_at(location):
                continue
            assert params is None or isinstance(params, dict)
            for name in [name for name in params or {} if name in self.ids]:
                own, *others = self.ids[name]
                picked = data.draw(st.sampled_from([own, None, *others]), label=name)
                if picked is not None:
                    assert params is not None
                    params[name] = picked
            declared = [param.name for param in case.operation.query] if location is QUERY else []
            for name in [name for name in declared if name in SHAPED]:
                if isinstance(params, dict) and data.draw(st.booleans(), label=f"shape {name}"):
                    params[name] = data.draw(SHAPED[name], label=name)
        body_ids = case.body if isinstance(case.body, dict) else {}
        if not (meta and meta.is_negative_at(BODY)) and isinstance(
            body_ids.get("document_ids"), list
        ):  # a list of ids in a body (collections): sometimes the seeded ones
            own, *others = self.ids["document_id"]
            picked = data.draw(st.sampled_from([[own], None, others]), label="document_ids")
            if picked is not None:
                body_ids["document_ids"] = picked
            if "target_id" in body_ids:  # a move: sometimes to Alice's other collection
                target = data.draw(st.sampled_from([*self.ids["target_id"], None]), label="target")
                if target is not None:
                    body_ids["target_id"] = target
        if case.path == TOKEN:  # authenticates with its body, sometimes Alice's real one
            body = case.body
            real = isinstance(body, dict) and not (meta and meta.is_negative_at(BODY))
            if real and data.draw(st.booleans(), label="real password"):
                assert isinstance(body, dict)
                body.update(email=ALICE_EMAIL, password=ALICE_PASSWORD)
            return
        if meta is not None and meta.is_negative_at(HEADER):
            return
        if case.path.startswith(V1_PREFIX + "/"):
            names = list(self.credentials)
        else:  # the browser's routes: same-origin writes, the key they need drawn most often
            case.headers["Origin"] = BASE
            names = ["alice_key", "admin_key"]
            if "/admin/" in case.path:
                names.reverse()
        choice = data.draw(st.sampled_from([*names, "generated"]), label="credential")
        if choice != "generated":
            for name in AUTH_HEADERS:
                case.headers.pop(name, None)  # case-insensitive
            case.headers.update(self.credentials[choice])


def latin1(value: str | bytes) -> bytes:
    """A header name or value as http.client puts it on the wire."""
    return value.encode("latin-1") if isinstance(value, str) else value


def generous_rate_limits() -> None:
    """Fresh in-memory counters for this event loop, with limits no fuzz run reaches."""
    names = (
        "sign_in_per_ip",
        "sign_in_per_account",
        "sign_in_per_account_all_ips",
        "register_per_ip",
        "messages_per_user",
        "upload_files_per_user",
        "upload_mb_per_user",
        "api_per_key",
    )
    use_rate_limits(
        RateLimits(RateLimitSettings(**dict.fromkeys(names, GENEROUS)), MemoryStorage())
    )


def full_stack(api: FastAPI) -> ASGIApp:
    """The REST app inside every middleware, applied the way Reflex applies api_transformer."""
    app: ASGIApp = api
    for middleware in asgi_middleware():
        app = middleware(app)
    return app


@pytest.fixture
async def runs(engine: object, backend: OllamaBackend) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-plain"

    chat_runs = ChatRuns(resolve, ToolRegistry())
    yield chat_runs
    await chat_runs.shutdown()


@pytest.fixture
async def fuzz(
    db: AsyncSession,
    admin: User,
    alice: User,
    bob: User,
    runs: ChatRuns,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Fuzz]:
    """Seeded rows and the wired app; the test sends on this fixture's event loop."""
    generous_rate_limits()
    monkeypatch.setattr(runtime, "get_file_store", lambda: files)  # the download route's store
    _, alice_key = await api_keys.create(db, alice, "fuzz")
    _, admin_key = await api_keys.create(db, admin, "fuzz")

    conversation = await chat.create_conversation(db, alice, model="")
    await runs.start(alice, conversation.id, "Hello there")
    await finished(runs, conversation.id)
    page = await chat.list_messages(db, alice, conversation.id, limit=10)
    bobs_conversation = await chat.create_conversation(db, bob, model="")

    mine = await library.upload(db, alice, files, "notes.md", NOTES.encode(), max_bytes=1 << 20)
    theirs = await library.upload(db, bob, files, "bob.md", b"Bob's own notes.", max_bytes=1 << 20)

    group = await groups.create_group(db, alice, "Fuzzers")
    other_group = await groups.create_group(db, bob, "Bob's team")
    shelf = await collections.create_collection(db, alice, "Shelf")
    await collections.add_documents(db, alice, uuid.UUID(shelf.id), [uuid.UUID(mine.document.id)])
    bobs_shelf = await collections.create_collection(db, bob, "Bob's shelf")
    archive = await collections.create_collection(db, alice, "Archive")

    api = create_api()
    api.dependency_overrides[providers.chat_runs] = lambda: runs
    api.dependency_overrides[providers.file_store] = lambda: files
    api.dependency_overrides[providers.vector_store] = lambda: store
    api.dependency_overrides[providers.embedder] = get_onnx_embedder
    transport = httpx.ASGITransport(app=full_stack(api))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        fuzz = Fuzz(
            loop=asyncio.get_running_loop(),
            client=client,
            credentials={
                "alice_key": {"X-API-Key": alice_key},
                "alice_key_bearer": {"Authorization": f"Bearer {alice_key}"},
                "alice_jwt": {"Authorization": f"Bearer {access_tokens.issue(alice).token}"},
                "admin_jwt": {"Authorization": f"Bearer {access_tokens.issue(admin).token}"},
                "admin_key": {"X-API-Key": admin_key},
                "root_key": {"Authorization": f"Bearer {get_settings().secret('root_api_key')}"},
            },
            ids={
                "conversation_id": [str(conversation.id), str(bobs_conversation.id)],
                "document_id": [str(mine.document.id), str(theirs.document.id)],
                "group_id": [str(group.id), str(other_group.id)],
                "collection_id": [shelf.id, bobs_shelf.id],
                "target_id": [archive.id, shelf.id],
                "before": [str(view.id) for view in page.messages],
            },
            worker=worker,
        )
        yield fuzz
    fuzz.assert_some_success()


def checks_for(case: schemathesis.Case) -> list[CheckFunction]:
    """Legacy routes answer FastAPI's undocumented `{"detail"}` errors; /api/v1 documents its own.

    A multipart part is bytes whatever JSON type the negative case meant for it (an "array" file
    holds the text `[]`), so accepting one is no failure to reject invalid data.
    """
    if not case.path.startswith(V1_PREFIX + "/"):
        return LEGACY_CHECKS
    if case.media_type and case.media_type.startswith("multipart/"):
        return [check for check in V1_CHECKS if check is not negative_data_rejection]
    return V1_CHECKS


def assert_error_shape(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """No stack trace anywhere; every route's errors are the API's JSON error."""
    assert "Traceback" not in response.content.decode(errors="replace"), response.content
    if response.status_code < 400:
        return
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"], body
    assert isinstance(error["message"], str) and error["message"], body
    assert set(error) <= {"code", "message", "fields"}, body


@SCHEMA.parametrize()
@SCHEMA.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, data: st.DataObject, fuzz: Fuzz
) -> None:
    response = fuzz.send(case, data)
    case.validate_response(response, checks=checks_for(case))
    assert_error_shape(case, response)


# --- what the fuzzing found ----------------------------------------------------------------------

NUL_TEXT = "quarterly\x00plan"
NOWHERE = uuid.UUID(int=1)  # no such row: the guard answers before any lookup


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "field_name"),
    [
        ("POST", "/token", {"json": {"email": NUL_TEXT, "password": "p" * 12}}, "email"),
        ("GET", "/conversations", {"params": {"q": NUL_TEXT}}, "q"),
        ("POST", "/conversations", {"json": {"title": NUL_TEXT}}, "title"),
        ("PATCH", f"/conversations/{NOWHERE}", {"json": {"model": NUL_TEXT}}, "model"),
        ("POST", f"/conversations/{NOWHERE}/messages", {"json": {"content": NUL_TEXT}}, "content"),
        ("GET", "/documents", {"params": {"q": NUL_TEXT}}, "q"),
        ("POST", "/documents/search", {"json": {"query": NUL_TEXT}}, "query"),
    ],
    ids=["token", "conversations-q", "create", "rename", "send", "documents-q", "search"],
)
async def test_nul_characters_are_a_validation_error_not_a_500(
    client: httpx.AsyncClient,
    db: AsyncSession,
    alice: User,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    field_name: str,
) -> None:
    """PostgreSQL text cannot hold NUL: these were 500s there (SQLite stored them)."""
    headers = await key_for(db, alice)
    response = await client.request(method, V1_PREFIX + path, headers=headers, **request_kwargs)
    error = assert_error(response, 422, "validation_error", {field_name})
    assert error["fields"] == {field_name: "Must not contain NUL characters"}
    assert await count_rows(db, "conversations") == 0


async def test_nul_characters_outside_v1_get_the_same_validation_error(
    client: httpx.AsyncClient, db: AsyncSession, admin: User
) -> None:
    response = await client.get(
        "/api/admin/audit.csv", params={"actor": NUL_TEXT}, headers=await key_for(db, admin)
    )
    assert_error(response, 422, "validation_error", {"actor"})


async def test_unreadable_and_oversized_bodies_are_documented_errors(
    api: FastAPI, db: AsyncSession, alice: User
) -> None:
    """Undocumented before: 400 for a body that is not UTF-8, 413 over the request limit."""
    paths = api.openapi()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            if path.startswith(V1_PREFIX + "/") and "requestBody" in operation:
                assert {"400", "413"} <= set(operation["responses"]), path
    csv = paths["/api/admin/audit.csv"]["get"]["responses"]["200"]["content"]
    download = paths["/api/documents/{document_id}/download"]["get"]["responses"]["200"]
    assert set(csv) == {"text/csv"} and set(download["content"]) == {"*/*"}

    headers = {**await key_for(db, alice), "content-type": "application/json"}
    transport = httpx.ASGITransport(app=full_stack(api))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        unreadable = await http.post(
            f"{V1_PREFIX}/conversations", content=b'{"title": "\xff"}', headers=headers
        )
        assert_error(unreadable, 400, "bad_request")
        limit = get_settings().security.max_request_bytes
        oversized = await http.post(
            f"{V1_PREFIX}/conversations", content=b" " * (limit + 1), headers=headers
        )
        assert_error(oversized, 413, "payload_too_large")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("2026-01-01T00:00:00", str(NOWHERE)),  # naive: the database refused it
        cursor_of("2026-01-01T00:00:00+00:00", 7),  # uuid.UUID(7) is an AttributeError
    ],
    ids=["naive-timestamp", "numeric-id"],
)
async def test_hand_made_cursors_are_refused_not_a_500(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, cursor: str
) -> None:
    headers = await key_for(db, alice)
    response = await client.get(f"{V1_PREFIX}/conversations?cursor={cursor}", headers=headers)
    assert_error(response, 422, "validation_error", {"cursor"})
    aware = cursor_of("2026-01-01T00:00:00+00:00", str(NOWHERE))
    listed = await client.get(f"{V1_PREFIX}/conversations?cursor={aware}", headers=headers)
    assert listed.status_code == 200, listed.text


async def test_audit_export_ending_on_the_last_day_is_refused_not_a_broken_stream(
    client: httpx.AsyncClient, db: AsyncSession, admin: User
) -> None:
    """The range ended at the next midnight: 9999-12-31 overflowed mid-stream."""
    headers = await key_for(db, admin)
    response = await client.get(
        "/api/admin/audit.csv", params={"end": "9999-12-31"}, headers=headers
    )
    assert_error(response, 422, "validation_error", {"end"})
    assert response.json()["error"]["fields"]["end"] == "Use an end date before 9999-12-31."
    earlier = await client.get(
        "/api/admin/audit.csv", params={"end": "9999-12-30"}, headers=headers
    )
    assert earlier.status_code == 200 and earlier.text.startswith("time,")
