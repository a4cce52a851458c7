"""The embedded store's access filter reads the same chunks whichever form it takes.

Up to EDGE_SPLIT_GROUPS groups it names each group in its own condition, beyond that one
MatchAny holds them; both must open exactly the owner's chunks and those shared with a group.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from youworker.services.documents.vectorstore import (
    EDGE_SPLIT_GROUPS,
    AccessFilter,
    ChunkPoint,
    EdgeVectorStore,
)

KEY = "access-forms"
DIM = 8
# (owner, groups the document is shared with), five chunks each.
DOCUMENTS = {
    "doc-own": ("u-reader", []),
    "doc-g1": ("u-other", ["g-1"]),
    "doc-g2-g3": ("u-other", ["g-2", "g-3"]),
    "doc-g9": ("u-other", ["g-9"]),
    "doc-private": ("u-other", []),
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EdgeVectorStore]:
    rng = random.Random(5)
    edge = EdgeVectorStore(tmp_path)
    await edge.ensure_collection(KEY, DIM)
    points = [
        ChunkPoint(
            str(uuid.uuid4()),
            [rng.uniform(-1, 1) for _ in range(DIM)],
            ([1000 + n, 2000 + n], [1.0, 1.0]),
            {"document_id": document, "owner_id": owner, "group_ids": groups, "text": "t"},
        )
        for document, (owner, groups) in DOCUMENTS.items()
        for n in range(5)
    ]
    await edge.upsert(KEY, points)
    yield edge
    await edge.close()


def padded(groups: list[str], size: int) -> list[str]:
    """`groups` plus groups no document is shared with, `size` in all."""
    return groups + [f"g-none-{n}" for n in range(size - len(groups))]


@pytest.mark.parametrize("size", [3, EDGE_SPLIT_GROUPS, EDGE_SPLIT_GROUPS + 1])
@pytest.mark.parametrize("with_terms", [True, False])
async def test_both_filter_forms_open_the_same_documents(
    store: EdgeVectorStore, size: int, with_terms: bool
) -> None:
    access = AccessFilter("u-reader", padded(["g-1", "g-3"], size))
    dense = [0.5] * DIM
    sparse = ([1000, 2001], [1.0, 1.0]) if with_terms else ([], [])
    hits = await store.search(KEY, dense, sparse, access, 50)
    assert len(hits) == 15
    assert {hit.payload["document_id"] for hit in hits} == {"doc-own", "doc-g1", "doc-g2-g3"}

    limited = await store.search(KEY, dense, sparse, access, 50, ["doc-g2-g3", "doc-g9"])
    assert {hit.payload["document_id"] for hit in limited} == {"doc-g2-g3"}


@pytest.mark.parametrize("size", [0, 1, EDGE_SPLIT_GROUPS + 1])
async def test_groups_without_shared_documents_open_only_the_owners(
    store: EdgeVectorStore, size: int
) -> None:
    access = AccessFilter("u-reader", padded([], size))
    hits = await store.search(KEY, [0.5] * DIM, ([1000], [1.0]), access, 50)
    assert {hit.payload["document_id"] for hit in hits} == {"doc-own"}
