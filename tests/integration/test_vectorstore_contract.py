"""One contract for every vector store: hybrid retrieval, the access filter, deletes, persistence.

The stores run against real engines: qdrant-edge on disk, and qdrant-client's local mode standing
in for a Qdrant server (none can be installed here), both with Qdrant's own RRF fusion and with
the Python fusion used for servers older than parametrised RRF. Chunks are embedded by the real
built-in ONNX embedder, so the ranking assertions are about real vectors.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from httpx import Headers
from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import UnexpectedResponse

from youworker.services.documents.embedders import (
    OnnxMiniLMEmbedder,
    get_onnx_embedder,
    sparse_vector,
    sparse_vectors,
)
from youworker.services.documents.vectorstore import (
    AccessFilter,
    ChunkPoint,
    EdgeVectorStore,
    QdrantServerStore,
    ScoredChunk,
    VectorStore,
    VectorStoreError,
    open_vector_store,
)
from youworker.services.documents.vectorstore.base import rrf_fuse
from youworker.settings import load_settings

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")

KEY = "minilm-int8-384"
DIM = 384
ALICE, BOB = "user-alice", "user-bob"
A_HANDBOOK, A_ERRORS, B_OFFICE = "doc-a-handbook", "doc-a-errors", "doc-b-office"

CORPUS: dict[str, tuple[str, str, str]] = {
    # name: (document, owner, text)
    "password": (
        A_HANDBOOK,
        ALICE,
        "Forgot your password? Open the sign-in page, choose Reset password and follow the "
        "link we email you.",
    ),
    "backup": (
        A_HANDBOOK,
        ALICE,
        "Nightly backups of the database are kept for fourteen days in a separate region.",
    ),
    "laptop": (
        A_HANDBOOK,
        ALICE,
        "New laptops are ordered through the IT portal and arrive within a week.",
    ),
    "e4471": (
        A_ERRORS,
        ALICE,
        "Error code XK-4471 means the upload exceeded the storage quota of your workspace.",
    ),
    "e4417": (
        A_ERRORS,
        ALICE,
        "Error code XK-4417 means the upload was rejected because the file type is not allowed.",
    ),
    "e7144": (
        A_ERRORS,
        ALICE,
        "Error code XK-7144 means the upload stopped because the network connection dropped.",
    ),
    "vacation": (
        B_OFFICE,
        BOB,
        "Employees accrue twenty-five days of paid vacation per year; unused days expire in March.",
    ),
    "kitchen": (
        B_OFFICE,
        BOB,
        "The office kitchen is cleaned every Friday afternoon; please label your food.",
    ),
    "parking": (
        B_OFFICE,
        BOB,
        "Visitor parking is available in the north garage; register the licence plate at "
        "reception.",
    ),
}


def chunk_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"youworker-test/{name}"))


NAME_OF = {chunk_id(name): name for name in CORPUS}


@dataclass(frozen=True)
class Query:
    dense: list[float]
    sparse: tuple[list[int], list[float]]


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return get_onnx_embedder()


@pytest.fixture(scope="module")
def points(embedder: OnnxMiniLMEmbedder) -> list[ChunkPoint]:
    texts = [text for _, _, text in CORPUS.values()]
    dense = embedder.encode(texts).tolist()
    sparse = sparse_vectors(texts)
    out = []
    for index, (name, (document, owner, text)) in enumerate(CORPUS.items()):
        payload = {
            "document_id": document,
            "owner_id": owner,
            "group_ids": [],
            "page": 1 + index % 2,
            "heading": name.title(),
            "text": text,
            "chunk_index": index,
            "document_name": f"{document}.pdf",
        }
        out.append(ChunkPoint(chunk_id(name), dense[index], sparse[index], payload))
    return out


@pytest.fixture(scope="module")
def ask(embedder: OnnxMiniLMEmbedder) -> dict[str, Query]:
    """Queries embedded once: text -> (dense, sparse)."""
    texts = [
        "How do I reset my password?",
        "I can't remember my login credentials",
        "XK-4471",
        "XK-7144",
        "office kitchen cleaning",
        "holiday allowance",
    ]
    dense = embedder.encode(texts).tolist()
    return {t: Query(dense[i], sparse_vector(t, query=True)) for i, t in enumerate(texts)}


@pytest.fixture(params=["edge", "qdrant-local", "qdrant-local-python-fusion"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    client: AsyncQdrantClient | None = None
    if request.param == "edge":
        vector_store: VectorStore = EdgeVectorStore(tmp_path / "vectors")
    else:
        client = AsyncQdrantClient(location=":memory:")
        vector_store = QdrantServerStore(
            client=client, prefix="test", server_fusion=request.param == "qdrant-local"
        )
    yield vector_store
    await vector_store.close()
    if client is not None:
        await client.close()


@pytest.fixture
async def seeded(store: VectorStore, points: list[ChunkPoint]) -> VectorStore:
    await store.ensure_collection(KEY, DIM)
    await store.upsert(KEY, points)
    return store


async def search(
    store: VectorStore,
    query: Query,
    access: AccessFilter,
    limit: int = 10,
    document_ids: list[str] | None = None,
) -> list[ScoredChunk]:
    return await store.search(KEY, query.dense, query.sparse, access, limit, document_ids)


def names(hits: list[ScoredChunk]) -> list[str]:
    return [NAME_OF[hit.id] for hit in hits]


def readable(hit: ScoredChunk, access: AccessFilter) -> bool:
    payload = hit.payload
    return payload["owner_id"] == access.user_id or bool(
        set(payload["group_ids"]) & set(access.group_ids)
    )


# -- retrieval ---------------------------------------------------------------------------------


async def test_semantic_query_finds_the_passage(seeded: VectorStore, ask: dict[str, Query]) -> None:
    alice = AccessFilter(ALICE)
    assert names(await search(seeded, ask["How do I reset my password?"], alice))[0] == "password"
    # No word in common with the passage: the dense vectors carry it.
    hits = await search(seeded, ask["I can't remember my login credentials"], alice)
    assert names(hits)[0] == "password"


async def test_exact_term_query_finds_the_passage(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    hits = await search(seeded, ask["XK-4471"], AccessFilter(ALICE))
    assert names(hits)[0] == "e4471"


async def test_sparse_terms_decide_when_the_dense_vector_does_not_help(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    # The dense half points at the kitchen; only the sparse half knows the error code.
    unhelpful = Query(ask["office kitchen cleaning"].dense, ask["XK-7144"].sparse)
    hits = await search(seeded, unhelpful, AccessFilter(ALICE, ["g-x"]))
    assert names(hits)[0] == "e7144"


async def test_results_are_fused_ranked_and_limited(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    hits = await search(seeded, ask["How do I reset my password?"], AccessFilter(ALICE), limit=3)
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.id for h in hits}) == 3
    top = hits[0].payload
    assert top["document_id"] == A_HANDBOOK
    assert top["text"].startswith("Forgot your password?")
    assert {"page", "heading", "chunk_index", "document_name"} <= top.keys()


async def test_hits_carry_their_dense_cosine_to_the_query(
    seeded: VectorStore, ask: dict[str, Query], points: list[ChunkPoint]
) -> None:
    # The fused score is only a rank; the similarity is what the relevance floor reads.
    query = ask["How do I reset my password?"]
    stored = {point.id: point.dense for point in points}
    hits = await search(seeded, query, AccessFilter(ALICE, ["g-x"]))
    assert hits
    for hit in hits:
        vector = stored[hit.id]
        dot = sum(q * v for q, v in zip(query.dense, vector, strict=True))
        norms = math.hypot(*query.dense) * math.hypot(*vector)
        assert hit.similarity == pytest.approx(dot / norms, abs=1e-4)


async def test_dense_only_when_the_query_has_no_terms(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    query = Query(ask["holiday allowance"].dense, ([], []))
    assert names(await search(seeded, query, AccessFilter(BOB)))[0] == "vacation"


# -- access ------------------------------------------------------------------------------------


async def test_a_user_never_gets_another_users_chunks(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    bob = AccessFilter(BOB, ["g-sales"])
    for query in ask.values():
        hits = await search(seeded, query, bob)
        assert hits, "Bob's own chunks are still found"
        assert {h.payload["owner_id"] for h in hits} == {BOB}
    # Restricting to Alice's document does not open it either.
    hits = await search(seeded, ask["XK-4471"], bob, document_ids=[A_ERRORS])
    assert hits == []


async def test_sharing_with_a_group_grants_and_revoking_removes_access(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    question = ask["How do I reset my password?"]
    in_group, outside = AccessFilter(BOB, ["g-eng"]), AccessFilter(BOB, ["g-sales"])

    await seeded.set_document_access(KEY, A_HANDBOOK, ["g-eng", "g-ops"])
    hits = await search(seeded, question, in_group)
    assert names(hits)[0] == "password"
    assert hits[0].payload["group_ids"] == ["g-eng", "g-ops"]
    # Only the shared document opens, not Alice's other one.
    assert {h.payload["document_id"] for h in hits} == {A_HANDBOOK, B_OFFICE}
    assert all(readable(h, in_group) for h in hits)
    assert {h.payload["owner_id"] for h in await search(seeded, question, outside)} == {BOB}
    assert await seeded.count(KEY) == len(CORPUS)  # sharing rewrites payloads, adds nothing

    await seeded.set_document_access(KEY, A_HANDBOOK, ["g-ops"])
    assert {h.payload["owner_id"] for h in await search(seeded, question, in_group)} == {BOB}
    await seeded.set_document_access(KEY, A_HANDBOOK, [])
    ops = AccessFilter(BOB, ["g-ops"])
    assert {h.payload["owner_id"] for h in await search(seeded, question, ops)} == {BOB}
    # The owner keeps access throughout.
    assert names(await search(seeded, question, AccessFilter(ALICE)))[0] == "password"


async def test_document_ids_restrict_the_search(seeded: VectorStore, ask: dict[str, Query]) -> None:
    alice = AccessFilter(ALICE)
    hits = await search(seeded, ask["How do I reset my password?"], alice, document_ids=[A_ERRORS])
    assert hits and {h.payload["document_id"] for h in hits} == {A_ERRORS}
    both = await search(seeded, ask["XK-4471"], alice, document_ids=[A_ERRORS, A_HANDBOOK])
    assert {h.payload["document_id"] for h in both} == {A_ERRORS, A_HANDBOOK}
    # An empty restriction means "none of them", never "all".
    assert await search(seeded, ask["XK-4471"], alice, document_ids=[]) == []


async def test_a_search_needs_a_user(seeded: VectorStore, ask: dict[str, Query]) -> None:
    with pytest.raises(ValueError, match="user"):
        await search(seeded, ask["XK-4471"], AccessFilter(""))


# -- writes ------------------------------------------------------------------------------------


async def test_delete_document_removes_all_its_points(
    seeded: VectorStore, ask: dict[str, Query]
) -> None:
    errors = sum(1 for document, _, _ in CORPUS.values() if document == A_ERRORS)
    await seeded.delete_document(KEY, A_ERRORS)
    assert await seeded.count(KEY) == len(CORPUS) - errors
    for query in ask.values():
        hits = await search(seeded, query, AccessFilter(ALICE))
        assert A_ERRORS not in {h.payload["document_id"] for h in hits}
    await seeded.delete_document(KEY, "doc-that-never-existed")
    assert await seeded.count(KEY) == len(CORPUS) - errors


async def test_reupserting_the_same_ids_is_idempotent(
    seeded: VectorStore, points: list[ChunkPoint], ask: dict[str, Query]
) -> None:
    await seeded.upsert(KEY, points)
    await seeded.upsert(KEY, points[:3])
    assert await seeded.count(KEY) == len(CORPUS)
    hits = await search(seeded, ask["How do I reset my password?"], AccessFilter(ALICE))
    assert len({h.id for h in hits}) == len(hits) == 6  # Alice's six chunks, once each
    # An upsert replaces the payload too (a re-index after an edit).
    changed = ChunkPoint(
        points[0].id, points[0].dense, points[0].sparse, {**points[0].payload, "page": 9}
    )
    await seeded.upsert(KEY, [changed])
    hits = await search(seeded, ask["How do I reset my password?"], AccessFilter(ALICE))
    assert hits[0].payload["page"] == 9
    assert await seeded.count(KEY) == len(CORPUS)


async def test_ensure_collection_is_idempotent_and_checks_the_dimension(
    seeded: VectorStore,
) -> None:
    await seeded.ensure_collection(KEY, DIM)
    assert await seeded.count(KEY) == len(CORPUS)
    with pytest.raises(VectorStoreError):
        await seeded.ensure_collection(KEY, 768)


async def test_missing_collections_read_as_empty(
    store: VectorStore, ask: dict[str, Query], points: list[ChunkPoint]
) -> None:
    query = ask["XK-4471"]
    assert (
        await store.search("nothing-384", query.dense, query.sparse, AccessFilter(ALICE), 5) == []
    )
    assert await store.count("nothing-384") == 0
    await store.delete_document("nothing-384", A_ERRORS)
    await store.set_document_access("nothing-384", A_ERRORS, ["g"])
    with pytest.raises(VectorStoreError, match="ensure"):
        await store.upsert("nothing-384", points[:1])


async def test_bad_keys_and_points_are_refused(
    seeded: VectorStore, points: list[ChunkPoint]
) -> None:
    for key in ("../escape", "a/b", "", "UPPER", ".hidden"):
        with pytest.raises(ValueError, match="key"):
            await seeded.count(key)
    point = points[0]
    bad = [
        ChunkPoint("not-a-uuid", point.dense, point.sparse, point.payload),
        ChunkPoint(point.id, point.dense, ([1, 2], [1.0]), point.payload),
        ChunkPoint(point.id, point.dense, point.sparse, {**point.payload, "owner_id": ""}),
        ChunkPoint(point.id, point.dense, point.sparse, {**point.payload, "group_ids": "g-eng"}),
    ]
    for candidate in bad:
        with pytest.raises(ValueError):
            await seeded.upsert(KEY, [candidate])
    with pytest.raises(ValueError, match="group"):
        await seeded.set_document_access(KEY, A_HANDBOOK, [""])
    wrong_size = ChunkPoint(str(uuid.uuid4()), [0.1] * 8, point.sparse, point.payload)
    with pytest.raises((ValueError, VectorStoreError)):
        await seeded.upsert(KEY, [wrong_size])
    assert await seeded.count(KEY) == len(CORPUS)


async def test_concurrent_writes_and_searches(
    seeded: VectorStore, points: list[ChunkPoint], ask: dict[str, Query]
) -> None:
    query = ask["How do I reset my password?"]
    copies = [
        ChunkPoint(str(uuid.uuid4()), p.dense, p.sparse, {**p.payload, "document_id": "doc-copy"})
        for p in points
    ]
    results = await asyncio.gather(
        *(seeded.upsert(KEY, [copy]) for copy in copies),
        *(search(seeded, query, AccessFilter(ALICE)) for _ in range(10)),
    )
    assert all(isinstance(r, list) for r in results[len(copies) :])
    assert await seeded.count(KEY) == 2 * len(CORPUS)


# -- embedded store specifics ------------------------------------------------------------------


async def test_edge_store_persists_across_close_and_reopen(
    tmp_path: Path, points: list[ChunkPoint], ask: dict[str, Query]
) -> None:
    root = tmp_path / "vectors"
    first = EdgeVectorStore(root)
    await first.ensure_collection(KEY, DIM)
    await first.upsert(KEY, points)
    await first.set_document_access(KEY, A_HANDBOOK, ["g-eng"])
    await first.close()
    assert (root / KEY).is_dir()

    reopened = EdgeVectorStore(root)
    try:
        assert await reopened.count(KEY) == len(CORPUS)  # opened lazily, without ensure
        hits = await search(
            reopened, ask["How do I reset my password?"], AccessFilter(BOB, ["g-eng"])
        )
        assert names(hits)[0] == "password"
        await reopened.ensure_collection(KEY, DIM)
        with pytest.raises(VectorStoreError):
            await reopened.ensure_collection(KEY, 768)
    finally:
        await reopened.close()


async def test_edge_store_close_while_busy_reopens_cleanly(
    tmp_path: Path, points: list[ChunkPoint], ask: dict[str, Query]
) -> None:
    store = EdgeVectorStore(tmp_path / "vectors")
    await store.ensure_collection(KEY, DIM)
    await store.upsert(KEY, points)
    question = ask["How do I reset my password?"]
    searches = [search(store, question, AccessFilter(ALICE)) for _ in range(6)]
    results = await asyncio.gather(*searches[:3], store.close(), *searches[3:])
    for hits in (r for r in results if r is not None):
        assert names(hits)[0] == "password"
    assert await store.count(KEY) == len(CORPUS)
    await store.close()


async def test_edge_store_refuses_a_second_opener(tmp_path: Path) -> None:
    root = tmp_path / "vectors"
    first, second = EdgeVectorStore(root), EdgeVectorStore(root)
    await first.ensure_collection(KEY, DIM)
    try:
        with pytest.raises(VectorStoreError, match="another process"):
            await second.count(KEY)
    finally:
        await first.close()
        await second.close()
    assert await second.count(KEY) == 0  # free again once the first one closed
    await second.close()


async def test_open_vector_store_follows_the_settings(tmp_path: Path) -> None:
    embedded = open_vector_store(load_settings(data_dir=tmp_path))
    assert isinstance(embedded, EdgeVectorStore)
    assert embedded.root == (tmp_path / "vectors").resolve()
    server = open_vector_store(
        load_settings(
            data_dir=tmp_path,
            llm={"qdrant_url": "http://127.0.0.1:6333", "qdrant_collection": "acme"},
        )
    )
    assert isinstance(server, QdrantServerStore)
    assert server.collection_name(KEY) == f"acme_{KEY}"
    await server.close()


def test_rrf_fuse_matches_qdrant_scoring() -> None:
    def hit(pid: str) -> ScoredChunk:
        return ScoredChunk(pid, 0.0, {"id": pid})

    fused = rrf_fuse([[hit("a"), hit("b")], [hit("b"), hit("c")]], limit=3)
    assert [h.id for h in fused] == ["b", "a", "c"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 60)
    assert fused[1].score == pytest.approx(1 / 60)
    assert rrf_fuse([], limit=3) == []


async def test_server_store_falls_back_to_python_fusion_when_rrf_is_refused(
    points: list[ChunkPoint], ask: dict[str, Query], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = AsyncQdrantClient(location=":memory:")
    store = QdrantServerStore(client=client, prefix="old")
    await store.ensure_collection(KEY, DIM)
    await store.upsert(KEY, points)

    async def refuse(*args: object, **kwargs: object) -> None:
        raise UnexpectedResponse(
            400, "Bad Request", b'{"status": "unknown variant rrf"}', Headers()
        )

    monkeypatch.setattr(client, "query_points", refuse)
    hits = await search(store, ask["How do I reset my password?"], AccessFilter(ALICE))
    assert names(hits)[0] == "password"
    assert store.server_fusion is False
    await store.close()
    await client.close()


async def test_large_upserts_are_complete_or_refused_whole(
    seeded: VectorStore, points: list[ChunkPoint]
) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((600, DIM))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    template = points[0]
    many = [
        ChunkPoint(
            str(uuid.uuid4()),
            vector.tolist(),
            ([int(n) + 1000], [1.0]),
            {**template.payload, "document_id": "doc-big", "chunk_index": n},
        )
        for n, vector in enumerate(vectors)
    ]
    bad_last = [*many[:-1], ChunkPoint("oops", many[-1].dense, many[-1].sparse, template.payload)]
    with pytest.raises(ValueError):
        await seeded.upsert(KEY, bad_last)
    assert await seeded.count(KEY) == len(CORPUS)
    await seeded.upsert(KEY, many)
    assert await seeded.count(KEY) == len(CORPUS) + len(many)
    await seeded.delete_document(KEY, "doc-big")
    assert await seeded.count(KEY) == len(CORPUS)
