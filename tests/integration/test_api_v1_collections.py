"""/api/v1/collections: create, fill, list documents in, search within; others get 404."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.integration.api_v1_support import V1, api, assert_error, client, jwt_for
from tests.integration.test_api_v1_documents import DOCUMENTS, search, upload, wired
from tests.integration.test_documents import context, files, store, worker
from youworker.models import User
from youworker.services.documents.worker import IngestionWorker

__all__ = ["api", "client", "context", "files", "store", "wired", "worker"]  # fixtures

COLLECTIONS = f"{V1}/collections"
QUESTION = "How much is the daily meal allowance?"


async def test_a_collection_over_the_api(
    client: httpx.AsyncClient, wired: FastAPI, alice: User, bob: User, worker: IngestionWorker
) -> None:
    alices, bobs = jwt_for(alice), jwt_for(bob)
    created = await client.post(COLLECTIONS, json={"name": "Travel"}, headers=alices)
    assert created.status_code == 201, created.text
    travel = created.json()
    assert (travel["name"], travel["document_count"], travel["can_manage"]) == ("Travel", 0, True)
    url = f"{COLLECTIONS}/{travel['id']}"

    uploaded = await upload(
        client,
        alices,
        ("france.md", b"# France\n\nThe daily meal allowance is 42 euros.\n", "text/markdown"),
        ("spain.md", b"# Spain\n\nThe daily meal allowance is 35 euros.\n", "text/markdown"),
    )
    france, spain = [item["document"]["id"] for item in uploaded.json()["items"]]
    await worker.run_until_idle()

    added = await client.post(f"{url}/documents", json={"document_ids": [france]}, headers=alices)
    assert added.json() == {"changed": 1}
    listed = (await client.get(f"{DOCUMENTS}?collection_id={travel['id']}", headers=alices)).json()
    assert [d["name"] for d in listed["items"]] == ["france.md"]
    within = await search(client, alices, query=QUESTION, collection_ids=[travel["id"]])
    assert {p["document_id"] for p in within} == {france}
    everywhere = await search(client, alices, query=QUESTION)
    assert {p["document_id"] for p in everywhere} == {france, spain}

    # Someone else: not found, whichever way they ask.
    assert_error(await client.get(url, headers=bobs), 404, "not_found")
    bob_list = await client.get(f"{DOCUMENTS}?collection_id={travel['id']}", headers=bobs)
    assert_error(bob_list, 404, "not_found")
    bob_search = await client.post(
        f"{DOCUMENTS}/search",
        json={"query": QUESTION, "collection_ids": [travel["id"]]},
        headers=bobs,
    )
    assert_error(bob_search, 404, "not_found")
    bob_add = await client.post(f"{url}/documents", json={"document_ids": [france]}, headers=bobs)
    assert_error(bob_add, 404, "not_found")
    assert (await client.get(COLLECTIONS, headers=bobs)).json() == {"items": []}

    # Names are checked; a name is unique per person.
    await client.post(COLLECTIONS, json={"name": "Other"}, headers=alices)
    taken = await client.patch(url, json={"name": "Other"}, headers=alices)
    assert_error(taken, 409, "conflict")
    assert_error(
        await client.patch(url, json={"name": ""}, headers=alices), 422, "validation_error"
    )
    renamed = await client.patch(url, json={"name": "Trips"}, headers=alices)
    assert renamed.json()["name"] == "Trips" and renamed.json()["document_count"] == 1

    removed = await client.post(
        f"{url}/documents/remove", json={"document_ids": [france]}, headers=alices
    )
    assert removed.json() == {"changed": 1}
    assert await search(client, alices, query=QUESTION, collection_ids=[travel["id"]]) == []
    assert (await client.delete(url, headers=alices)).status_code == 204
    assert_error(await client.get(url, headers=alices), 404, "not_found")
    assert (await client.get(f"{DOCUMENTS}/{france}", headers=alices)).status_code == 200
