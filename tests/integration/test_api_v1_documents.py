"""/api/v1 documents (upload, ingestion, search under the access filter), groups and health.

Real ingestion: the built-in ONNX embedder and the embedded vector store, as in test_documents.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.api_v1_support import (
    V1,
    api,
    assert_error,
    client,
    jwt_for,
    key_for,
    root_key,
)
from tests.integration.test_documents import context, files, store, worker
from youworker.api.v1 import providers
from youworker.models import User
from youworker.services import groups, sharing
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.settings import get_settings

__all__ = ["api", "client", "context", "files", "store", "worker"]  # fixtures used here

DOCUMENTS = f"{V1}/documents"
TRAVEL = "Travel policy.\n\nThe daily meal allowance for business trips is 42 euros.\n"
BOBS = "Bob's notes.\n\nThe daily meal allowance for business trips is 99 euros in Bob's team.\n"


@pytest.fixture
def wired(api: FastAPI, files: FileStore, store: EdgeVectorStore) -> FastAPI:
    """The app stores files and vectors where the test worker ingests from."""
    api.dependency_overrides[providers.file_store] = lambda: files
    api.dependency_overrides[providers.vector_store] = lambda: store
    api.dependency_overrides[providers.embedder] = get_onnx_embedder
    return api


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], *named: tuple[str, bytes, str]
) -> httpx.Response:
    return await client.post(DOCUMENTS, files=[("files", item) for item in named], headers=headers)


async def ready(
    client: httpx.AsyncClient, headers: dict[str, str], worker: IngestionWorker, ids: list[str]
) -> list[dict[str, Any]]:
    """Run the ingestion worker until idle, then read each document's status over the API."""
    await worker.run_until_idle()
    documents = [(await client.get(f"{DOCUMENTS}/{i}", headers=headers)).json() for i in ids]
    assert [d["status"] for d in documents] == ["ready"] * len(ids), documents
    return documents


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"{DOCUMENTS}/search", json=body, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_upload_several_files_wait_for_ready_and_search(
    client: httpx.AsyncClient, wired: FastAPI, alice: User, worker: IngestionWorker
) -> None:
    headers = jwt_for(alice)
    response = await upload(
        client,
        headers,
        ("handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]), "application/pdf"),
        ("travel.md", TRAVEL.encode(), "text/markdown"),
    )
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [(i["filename"], i["outcome"]) for i in items] == [
        ("handbook.pdf", "created"),
        ("travel.md", "created"),
    ]
    assert items[0]["document"]["status"] == "queued"
    assert items[0]["document"]["kind"] == "pdf" and items[1]["document"]["kind"] == "markdown"
    ids = [i["document"]["id"] for i in items]

    documents = await ready(client, headers, worker, ids)
    assert documents[0]["page_count"] == 2 and documents[0]["chunk_count"] >= 2

    listed = (await client.get(f"{DOCUMENTS}?sort=name&order=asc", headers=headers)).json()
    assert [d["name"] for d in listed["items"]] == ["handbook.pdf", "travel.md"]
    assert listed["total"] == 2

    passages = await search(client, headers, query="meal allowance on business trips")
    assert passages and all(p["document_id"] in ids for p in passages)
    assert any("42 euros" in p["text"] for p in passages)
    only = await search(client, headers, query="meal allowance", document_ids=[ids[0]])
    assert only and {p["document_id"] for p in only} == {ids[0]}
    assert only[0]["page"] == 2

    again = await upload(client, headers, ("copy.md", TRAVEL.encode(), "text/markdown"))
    assert again.status_code == 200
    assert again.json()["items"][0]["outcome"] == "duplicate"
    assert again.json()["items"][0]["document"]["id"] == ids[1]


async def test_search_returns_only_readable_passages(
    client: httpx.AsyncClient,
    wired: FastAPI,
    db: AsyncSession,
    alice: User,
    bob: User,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    alices, bobs = jwt_for(alice), await key_for(db, bob)
    mine = (await upload(client, alices, ("travel.md", TRAVEL.encode(), "text/markdown"))).json()
    theirs = (await upload(client, bobs, ("notes.md", BOBS.encode(), "text/markdown"))).json()
    alice_doc = mine["items"][0]["document"]["id"]
    bob_doc = theirs["items"][0]["document"]["id"]
    await worker.run_until_idle()

    for_alice = await search(client, alices, query="meal allowance business trips", limit=20)
    assert for_alice and {p["document_id"] for p in for_alice} == {alice_doc}
    assert not any("99 euros" in p["text"] for p in for_alice)
    # Naming another user's document does not widen the filter.
    assert await search(client, alices, query="meal allowance", document_ids=[bob_doc]) == []

    # Shared with a group Alice belongs to, Bob's document becomes readable to her.
    group = await groups.create_group(db, bob, "Travel")
    await groups.add_member(db, group.id, alice.id)
    await db.commit()
    await sharing.set_document_shared(db, bob, uuid.UUID(bob_doc), group.id, True, store)
    shared = await search(client, alices, query="meal allowance business trips", limit=20)
    assert {p["document_id"] for p in shared} == {alice_doc, bob_doc}
    seen = (await client.get(f"{DOCUMENTS}/{bob_doc}", headers=alices)).json()
    assert (seen["is_owner"], seen["owner_name"]) == (False, "Bob")
    # Readable is not deletable: only the owner deletes.
    assert_error(await client.delete(f"{DOCUMENTS}/{bob_doc}", headers=alices), 404, "not_found")


async def test_another_users_document_reads_as_not_found(
    client: httpx.AsyncClient, wired: FastAPI, alice: User, bob: User
) -> None:
    mine = (await upload(client, jwt_for(alice), ("a.md", TRAVEL.encode(), "text/markdown"))).json()
    document_id = mine["items"][0]["document"]["id"]
    other = jwt_for(bob)
    assert_error(await client.get(f"{DOCUMENTS}/{document_id}", headers=other), 404, "not_found")
    assert_error(await client.delete(f"{DOCUMENTS}/{document_id}", headers=other), 404, "not_found")
    assert (await client.get(DOCUMENTS, headers=other)).json()["total"] == 0
    missing = await client.get(f"{DOCUMENTS}/{uuid.uuid4()}", headers=other)
    assert_error(missing, 404, "not_found")


async def test_delete_removes_the_document_and_its_passages(
    client: httpx.AsyncClient,
    wired: FastAPI,
    db: AsyncSession,
    alice: User,
    files: FileStore,
    worker: IngestionWorker,
) -> None:
    headers = jwt_for(alice)
    made = (await upload(client, headers, ("t.md", TRAVEL.encode(), "text/markdown"))).json()
    document_id = made["items"][0]["document"]["id"]
    await ready(client, headers, worker, [document_id])
    assert (await client.delete(f"{DOCUMENTS}/{document_id}", headers=headers)).status_code == 204
    assert_error(await client.get(f"{DOCUMENTS}/{document_id}", headers=headers), 404, "not_found")
    assert await count_rows(db, "document_chunks") == 0
    assert not files.exists(uuid.UUID(document_id))
    assert await search(client, headers, query="meal allowance") == []


async def test_rejected_files_are_reported_per_file_or_fail_the_request(
    client: httpx.AsyncClient,
    wired: FastAPI,
    db: AsyncSession,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = jwt_for(alice)
    mixed = await upload(
        client,
        headers,
        ("good.md", TRAVEL.encode(), "text/markdown"),
        ("../../etc/passwd.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png"),
        ("empty.txt", b"", "text/plain"),
    )
    assert mixed.status_code == 201
    outcomes = [(i["outcome"], (i.get("error") or {}).get("code")) for i in mixed.json()["items"]]
    assert outcomes == [
        ("created", None),
        ("rejected", "document_rejected"),
        ("rejected", "document_rejected"),
    ]
    assert await count_rows(db, "documents") == 1

    all_bad = await upload(client, headers, ("x.png", b"\x89PNG\r\n\x1a\n0000", "image/png"))
    assert_error(all_bad, 422, "validation_error", {"files.0"})

    monkeypatch.setattr(get_settings().documents, "max_upload_mb", 1)
    too_big = await upload(client, headers, ("big.txt", b"a" * (1024 * 1024 + 1), "text/plain"))
    assert_error(too_big, 413, "payload_too_large", {"files.0"})

    none = await client.post(DOCUMENTS, headers=headers)
    assert_error(none, 422, "validation_error", {"files"})

    monkeypatch.setattr(get_settings().documents, "max_batch_files", 2)
    three = [(f"n{n}.txt", f"note {n}".encode(), "text/plain") for n in range(3)]
    too_many = await upload(client, headers, *three)
    assert_error(too_many, 422, "validation_error")
    assert "At most 2 files at once." in too_many.text
    assert await count_rows(db, "documents") == 1


# --- groups -----------------------------------------------------------------------------------


async def test_groups_list_mine_and_members(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, bob: User, admin: User
) -> None:
    team = await groups.create_group(db, alice, "Team", "Our team")
    await groups.add_member(db, team.id, bob.id)
    await db.commit()
    await groups.create_group(db, admin, "Admins only")

    mine = (await client.get(f"{V1}/groups", headers=jwt_for(bob))).json()["items"]
    assert [(g["name"], g["member_count"], g["my_role"]) for g in mine] == [("Team", 2, "member")]

    members = await client.get(f"{V1}/groups/{team.id}/members", headers=jwt_for(bob))
    assert members.status_code == 200
    assert [(m["display_name"], m["role"]) for m in members.json()["items"]] == [
        ("Alice", "admin"),
        ("Bob", "member"),
    ]


async def test_a_group_you_are_not_in_reads_as_not_found(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, bob: User
) -> None:
    private = await groups.create_group(db, alice, "Private")
    response = await client.get(f"{V1}/groups/{private.id}/members", headers=jwt_for(bob))
    assert_error(response, 404, "not_found")
    assert (await client.get(f"{V1}/groups", headers=jwt_for(bob))).json()["items"] == []


# --- health -----------------------------------------------------------------------------------


async def test_health_liveness_and_detailed_for_admins_only(
    client: httpx.AsyncClient, admin: User, alice: User
) -> None:
    live = await client.get(f"{V1}/health")
    assert live.status_code == 200 and live.json() == {"status": "ok"}

    assert_error(await client.get(f"{V1}/health/detailed"), 401, "authentication_failed")
    forbidden = await client.get(f"{V1}/health/detailed", headers=jwt_for(alice))
    assert_error(forbidden, 403, "forbidden")

    for headers in (jwt_for(admin), root_key()):
        detailed = await client.get(f"{V1}/health/detailed", headers=headers)
        assert detailed.status_code == 200
        body = detailed.json()
        assert set(body["checks"]) == {"database", "vector_store", "llm", "redis", "ingestion"}
        assert body["checks"]["database"]["status"] == "ok"
        assert get_settings().secret("root_api_key") not in detailed.text
