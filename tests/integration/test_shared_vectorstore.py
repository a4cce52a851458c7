"""The embedded vector store shared by several workers on one machine (REDIS__URL, no Qdrant
server): two stores on one directory stand in for two processes; each sees the other's writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from youworker.services.documents.vectorstore import (
    AccessFilter,
    ChunkPoint,
    EdgeVectorStore,
    open_vector_store,
)
from youworker.settings import load_settings

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")

KEY = "test-4"
ALICE = AccessFilter(user_id="user-alice")


def point(number: int, document: str) -> ChunkPoint:
    dense = [0.0, 0.0, 0.0, 0.0]
    dense[number % 4] = 1.0
    payload = {"document_id": document, "owner_id": "user-alice", "group_ids": [], "text": "t"}
    return ChunkPoint(f"00000000-0000-0000-0000-{number:012d}", dense, ([number], [1.0]), payload)


async def test_two_workers_on_one_directory_see_each_others_writes(tmp_path: Path) -> None:
    one, two = EdgeVectorStore(tmp_path, shared=True), EdgeVectorStore(tmp_path, shared=True)
    await one.ensure_collection(KEY, 4)
    await one.upsert(KEY, [point(1, "doc-one")])
    await two.ensure_collection(KEY, 4)
    await two.upsert(KEY, [point(2, "doc-two")])

    assert await one.count(KEY) == 2 and await two.count(KEY) == 2
    hits = await one.search(KEY, [0.0, 0.0, 1.0, 0.0], ([2], [1.0]), ALICE, 5)
    assert hits[0].payload["document_id"] == "doc-two"

    await one.delete_document(KEY, "doc-two")
    assert await two.count(KEY) == 1
    await one.close()
    await two.close()


def test_the_embedded_store_is_shared_only_when_several_workers_may_run(tmp_path: Path) -> None:
    alone = open_vector_store(load_settings(data_dir=tmp_path))
    several = open_vector_store(load_settings(data_dir=tmp_path, redis={"url": "redis://x:6379/0"}))
    assert isinstance(alone, EdgeVectorStore) and not alone.shared
    assert isinstance(several, EdgeVectorStore) and several.shared
