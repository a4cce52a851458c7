"""Vector stores for document chunks: hybrid (dense + sparse) retrieval behind an access filter.

Two implementations of one protocol: `EdgeVectorStore`, the Qdrant engine in-process
(qdrant-edge, one shard per collection under DATA_DIR/vectors/<key>/), and `QdrantServerStore`,
a Qdrant server through qdrant-client. Every search applies the access filter inside the engine
query (owner, or any group the document is shared with): nothing filters results afterwards,
so a limit of 10 means 10 readable chunks and no unreadable chunk ever leaves the engine.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from youworker.logging import get_logger
from youworker.settings import Settings

if TYPE_CHECKING:
    import qdrant_edge
    from qdrant_client import AsyncQdrantClient
    from qdrant_client.http import models as qm

logger = get_logger(__name__)

# (token ids, weights), as made by embedders.sparse_vector().
SparseTerms = tuple[list[int], list[float]]

DENSE = "dense"
SPARSE = "sparse"
RRF_K = 60
# Candidates each of dense and sparse contribute to the fusion, per result asked for.
PREFETCH_FACTOR = 5
MIN_PREFETCH = 50
INDEXED_FIELDS = ("owner_id", "group_ids", "document_id")
# Up to this many groups, the embedded store's access filter names each group in its own
# condition; beyond it (where the gain was gone in measurements) one MatchAny holds them all.
EDGE_SPLIT_GROUPS = 64
# qdrant-edge holds the GIL inside every call, so a worker thread does not free the event loop:
# upserts go in slices this size (~13 ms each at 100k points) and the loop runs between them.
EDGE_UPSERT_SLICE = 256
# Keys become directory and collection names: no separators, no "..", bounded length.
_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$")
_MAX_KEY_LENGTH = 100


class VectorStoreError(RuntimeError):
    """A vector store operation failed; the message names the collection and the cause."""


@dataclass(frozen=True)
class AccessFilter:
    """Who is asking: chunks they own plus chunks shared with any of their groups."""

    user_id: str
    group_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkPoint:
    """One chunk to store; payload: document_id, owner_id, group_ids, page, heading, text, ..."""

    id: str
    dense: list[float]
    sparse: SparseTerms
    payload: dict[str, Any]


@dataclass(frozen=True)
class ScoredChunk:
    """A search hit: the chunk's point id, its fused score and payload, and how close its
    meaning is to the query's (cosine of the dense vectors; the fused score is only a rank)."""

    id: str
    score: float
    payload: dict[str, Any]
    similarity: float = 0.0


def cosine(query: Sequence[float], stored: Any) -> float:
    """Cosine of the query to a stored dense vector (stores keep them normalised).

    `stored` is what the engine returns for a point's vectors: a dict by name or the list itself.
    """
    vector = stored.get(DENSE) if isinstance(stored, dict) else stored
    if not vector:
        return 0.0
    norm = sum(x * x for x in query) ** 0.5
    return sum(q * v for q, v in zip(query, vector, strict=False)) / norm if norm else 0.0


@runtime_checkable
class VectorStore(Protocol):
    """Collections of chunk vectors keyed by embedder; hybrid search with an access filter."""

    async def ensure_collection(self, key: str, dimension: int) -> None:
        """Create the collection and its payload indexes if missing (idempotent)."""
        ...

    async def upsert(self, key: str, points: list[ChunkPoint]) -> None:
        """Insert or replace points by id (re-upserting the same ids never duplicates)."""
        ...

    async def delete_document(self, key: str, document_id: str) -> None:
        """Remove every chunk of a document."""
        ...

    async def set_document_access(self, key: str, document_id: str, group_ids: list[str]) -> None:
        """Replace the groups every chunk of a document is shared with."""
        ...

    async def search(
        self,
        key: str,
        dense: list[float],
        sparse: SparseTerms,
        access: AccessFilter,
        limit: int,
        document_ids: list[str] | None = None,
    ) -> list[ScoredChunk]:
        """Readable chunks, best first: dense and sparse top-k fused by RRF (k=60)."""
        ...

    async def count(self, key: str) -> int:
        """Number of points in a collection (0 when it does not exist)."""
        ...

    async def close(self) -> None:
        """Flush and release everything (a later call reopens lazily)."""
        ...


# -- shared helpers ----------------------------------------------------------------------------


def check_key(key: str) -> str:
    """Refuse keys that could escape the vectors directory or break collection names."""
    if len(key) > _MAX_KEY_LENGTH or not _KEY_PATTERN.fullmatch(key):
        raise ValueError(f"invalid collection key {key!r} (lowercase letters, digits, . _ -)")
    return key


def check_points(points: Sequence[ChunkPoint], dimension: int | None) -> None:
    """Refuse points a search could mis-attribute: bad ids, wrong sizes, missing access fields."""
    for point in points:
        try:
            uuid.UUID(point.id)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"point id {point.id!r} is not a UUID") from exc
        if dimension is not None and len(point.dense) != dimension:
            raise ValueError(
                f"point {point.id}: dense vector has {len(point.dense)} values, "
                f"the collection takes {dimension}"
            )
        indices, values = point.sparse
        if len(indices) != len(values):
            raise ValueError(f"point {point.id}: sparse indices and values differ in length")
        payload = point.payload
        for name in ("document_id", "owner_id"):
            if not isinstance(payload.get(name), str) or not payload[name]:
                raise ValueError(f"point {point.id}: payload needs a non-empty {name}")
        groups = payload.get("group_ids")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError(f"point {point.id}: payload group_ids must be a list of strings")


def _check_groups(group_ids: list[str]) -> list[str]:
    if not all(isinstance(g, str) and g for g in group_ids):
        raise ValueError("group ids must be non-empty strings")
    return list(group_ids)


def _check_access(access: AccessFilter) -> None:
    if not access.user_id:
        raise ValueError("a search needs the acting user's id")


def prefetch_limit(limit: int) -> int:
    """How many candidates each of dense and sparse retrieval feeds the fusion."""
    return max(limit * PREFETCH_FACTOR, MIN_PREFETCH)


def rrf_fuse(
    ranked_lists: Sequence[Sequence[ScoredChunk]], limit: int, k: int = RRF_K
) -> list[ScoredChunk]:
    """Reciprocal rank fusion, scored like Qdrant's: sum of 1 / (k + 0-based rank)."""
    scores: dict[str, float] = {}
    first_seen: dict[str, ScoredChunk] = {}
    for ranked in ranked_lists:
        for rank, hit in enumerate(ranked):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (k + rank)
            first_seen.setdefault(hit.id, hit)
    best = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [
        ScoredChunk(pid, score, first_seen[pid].payload, first_seen[pid].similarity)
        for pid, score in best
    ]


# -- embedded: qdrant-edge ---------------------------------------------------------------------


@dataclass
class _EdgeCollection:
    shard: qdrant_edge.EdgeShard
    # qdrant-edge's Python API is synchronous (and holds the GIL); one caller at a time per
    # shard keeps close() from racing an update and writers from interleaving their batches.
    lock: threading.Lock = field(default_factory=threading.Lock)
    dimension: int | None = None  # None: opened without one and not checked yet
    closed: bool = False


def _edge_error(key: str, action: str, exc: Exception) -> VectorStoreError:
    text = str(exc)
    if "WouldBlock" in text:
        return VectorStoreError(
            f"vector collection {key}: already open in another process (the embedded store is "
            "single-process; run the worker in-process or configure LLM__QDRANT_URL)"
        )
    return VectorStoreError(f"vector collection {key}: {action} failed: {text}")


class EdgeVectorStore:
    """Qdrant's engine in-process (qdrant-edge): one on-disk shard per collection key."""

    def __init__(self, root: Path, *, max_search_threads: int | None = None) -> None:
        self.root = Path(root)
        self.max_search_threads = max_search_threads
        self._collections: dict[str, _EdgeCollection] = {}
        self._open_lock = threading.Lock()

    def path_for(self, key: str) -> Path:
        return self.root / check_key(key)

    # -- sync internals (always called in a worker thread) --------------------------------------

    def _config(self, dimension: int | None) -> qdrant_edge.EdgeConfig:
        import qdrant_edge as qe

        return qe.EdgeConfig(
            vectors=(
                {DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)}
                if dimension is not None
                else None
            ),
            # The IDF half of BM25: Qdrant weighs query terms by their inverse document frequency.
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            max_search_threads=self.max_search_threads,
        )

    @staticmethod
    def _exists_on_disk(path: Path) -> bool:
        return (path / "edge_config.json").is_file() or (path / "segments").is_dir()

    def _open(self, key: str, dimension: int | None) -> _EdgeCollection | None:
        """The open collection; loads it from disk, or creates it when a dimension is given."""
        import qdrant_edge as qe

        path = self.path_for(key)
        with self._open_lock:
            collection = self._collections.get(key)
            if collection is not None:
                if dimension is not None and collection.dimension != dimension:
                    self._check_dimension(key, collection, dimension)
                return collection
            exists = self._exists_on_disk(path)
            if not exists and dimension is None:
                return None
            try:
                if exists:
                    # With a config, load() refuses a shard whose vectors do not match it.
                    shard = qe.EdgeShard.load(
                        str(path), self._config(dimension) if dimension is not None else None
                    )
                else:
                    path.mkdir(parents=True, exist_ok=True)
                    shard = qe.EdgeShard.create(str(path), self._config(dimension))
            except Exception as exc:  # qdrant-edge raises bare Exception
                raise _edge_error(key, "open", exc) from exc
            try:
                schema = shard.info().payload_schema
                for name in INDEXED_FIELDS:
                    if name not in schema:
                        shard.update(
                            qe.UpdateOperation.create_field_index(
                                name, qe.PayloadSchemaType.Keyword
                            )
                        )
            except Exception as exc:
                shard.close()
                raise _edge_error(key, "index", exc) from exc
            collection = _EdgeCollection(shard, dimension=dimension)
            self._collections[key] = collection
            logger.info("vector collection opened", store="edge", key=key, created=not exists)
            return collection

    @staticmethod
    def _check_dimension(key: str, collection: _EdgeCollection, dimension: int) -> None:
        """Let the engine compare sizes: a query of the wrong size fails before searching."""
        import qdrant_edge as qe

        probe = qe.QueryRequest(
            limit=1, query=qe.Query.Nearest([1.0] + [0.0] * (dimension - 1), using=DENSE)
        )
        with collection.lock:
            try:
                collection.shard.query(probe)
            except Exception as exc:
                raise _edge_error(key, f"open as {dimension}-d", exc) from exc
            collection.dimension = dimension

    def _run(self, key: str, action: str, fn: Any, default: Any = None) -> Any:
        """Call fn(shard) under the collection's lock; `default` when the collection is absent."""
        while True:
            collection = self._open(key, None)
            if collection is None:
                return default
            with collection.lock:
                if collection.closed:  # close() won the lock first: reopen and try again
                    continue
                try:
                    return fn(collection.shard)
                except Exception as exc:
                    raise _edge_error(key, action, exc) from exc

    def _upsert_sync(self, key: str, points: list[ChunkPoint]) -> None:
        import qdrant_edge as qe

        if self._open(key, None) is None:
            raise VectorStoreError(f"vector collection {key} does not exist: ensure it first")
        operation = qe.UpdateOperation.upsert_points(
            [
                qe.Point(
                    p.id,
                    {DENSE: p.dense, SPARSE: qe.SparseVector(p.sparse[0], p.sparse[1])},
                    p.payload,
                )
                for p in points
            ]
        )
        self._run(key, "upsert", lambda shard: shard.update(operation))

    @staticmethod
    def _document_filter(document_id: str) -> qdrant_edge.Filter:
        import qdrant_edge as qe

        return qe.Filter(must=[qe.FieldCondition("document_id", match=qe.MatchValue(document_id))])

    @staticmethod
    def _access_filter(access: AccessFilter, document_ids: list[str] | None) -> qdrant_edge.Filter:
        import qdrant_edge as qe

        readable: list[Any] = [qe.FieldCondition("owner_id", match=qe.MatchValue(access.user_id))]
        if len(access.group_ids) <= EDGE_SPLIT_GROUPS:
            # One `should` per group: the engine checks these ~10% faster than one MatchAny
            # (measured at 100k chunks for 2 to 32 groups); every prefetch evaluates the filter.
            readable.extend(
                qe.FieldCondition("group_ids", match=qe.MatchValue(group))
                for group in access.group_ids
            )
        else:
            readable.append(qe.FieldCondition("group_ids", match=qe.MatchAny(access.group_ids)))
        # Flat: every `must` and at least one `should` (a nested filter measured ~30% slower).
        must: list[Any] = []
        if document_ids is not None:
            must.append(qe.FieldCondition("document_id", match=qe.MatchAny(document_ids)))
        return qe.Filter(must=must or None, should=readable)

    def _search_sync(
        self,
        key: str,
        dense: list[float],
        sparse: SparseTerms,
        access: AccessFilter,
        limit: int,
        document_ids: list[str] | None,
    ) -> list[ScoredChunk]:
        import qdrant_edge as qe

        where = self._access_filter(access, document_ids)
        candidates = prefetch_limit(limit)
        prefetches = [
            qe.Prefetch(limit=candidates, query=qe.Query.Nearest(dense, using=DENSE), filter=where)
        ]
        if sparse[0]:
            terms = qe.SparseVector(sparse[0], sparse[1])
            prefetches.append(
                qe.Prefetch(
                    limit=candidates, query=qe.Query.Nearest(terms, using=SPARSE), filter=where
                )
            )
        # The stubs type `query` as `Fusion`, but the engine takes the nested `Fusion.Rrf`.
        fusion: Any = qe.Fusion.Rrf(k=RRF_K)
        request = qe.QueryRequest(
            limit=limit,
            prefetches=prefetches,
            query=fusion,
            # Each prefetch carries the filter; a second copy here would only be evaluated again.
            with_payload=True,
            with_vector=[DENSE],
        )
        hits = self._run(key, "search", lambda shard: shard.query(request), default=[])
        return [
            ScoredChunk(
                str(hit.id), float(hit.score), dict(hit.payload or {}), cosine(dense, hit.vector)
            )
            for hit in hits
        ]

    def _close_sync(self) -> None:
        # Under the open lock throughout: a reopen must wait until the shard released its WAL.
        with self._open_lock:
            for key, collection in list(self._collections.items()):
                with collection.lock:
                    collection.closed = True
                    try:
                        collection.shard.flush()
                        collection.shard.close()
                    except Exception as exc:
                        logger.warning("vector collection close failed", key=key, error=str(exc))
            self._collections.clear()

    # -- the VectorStore protocol ---------------------------------------------------------------

    async def ensure_collection(self, key: str, dimension: int) -> None:
        """Open (or create) the shard; a shard built for another dimension is refused."""
        if dimension < 1:
            raise ValueError("dimension must be positive")
        await asyncio.to_thread(self._open, check_key(key), dimension)

    async def upsert(self, key: str, points: list[ChunkPoint]) -> None:
        check_key(key)
        known = self._collections.get(key)
        # All of them before the first slice: a bad point never leaves a partial write.
        check_points(points, known.dimension if known else None)
        for start in range(0, len(points), EDGE_UPSERT_SLICE):
            chunk = points[start : start + EDGE_UPSERT_SLICE]
            await asyncio.to_thread(self._upsert_sync, key, chunk)

    async def delete_document(self, key: str, document_id: str) -> None:
        import qdrant_edge as qe

        operation = qe.UpdateOperation.delete_points_by_filter(self._document_filter(document_id))
        await asyncio.to_thread(
            self._run, check_key(key), "delete", lambda shard: shard.update(operation)
        )

    async def set_document_access(self, key: str, document_id: str, group_ids: list[str]) -> None:
        import qdrant_edge as qe

        operation = qe.UpdateOperation.set_payload_by_filter(
            self._document_filter(document_id), {"group_ids": _check_groups(group_ids)}
        )
        await asyncio.to_thread(
            self._run, check_key(key), "share", lambda shard: shard.update(operation)
        )

    async def search(
        self,
        key: str,
        dense: list[float],
        sparse: SparseTerms,
        access: AccessFilter,
        limit: int,
        document_ids: list[str] | None = None,
    ) -> list[ScoredChunk]:
        _check_access(access)
        check_key(key)
        if limit < 1 or document_ids == []:
            return []
        return await asyncio.to_thread(
            self._search_sync, key, dense, sparse, access, limit, document_ids
        )

    async def count(self, key: str) -> int:
        import qdrant_edge as qe

        request = qe.CountRequest(exact=True)
        counted = await asyncio.to_thread(
            self._run, check_key(key), "count", lambda shard: shard.count(request), 0
        )
        return int(counted)

    async def optimize(self, key: str) -> bool:
        """Build the HNSW index; stalls the whole process (GIL held: ~80 s at 100k points)."""
        optimized = await asyncio.to_thread(
            self._run, check_key(key), "optimize", lambda shard: shard.optimize(), False
        )
        return bool(optimized)

    async def close(self) -> None:
        await asyncio.to_thread(self._close_sync)


# -- Qdrant server: qdrant-client --------------------------------------------------------------


def _server_error(name: str, action: str, exc: Exception) -> VectorStoreError:
    return VectorStoreError(f"vector collection {name}: {action} failed: {exc}")


def _server_failures() -> tuple[type[Exception], ...]:
    """What qdrant-client raises for a refused request or a lost server."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    return (UnexpectedResponse, ResponseHandlingException, httpx.HTTPError)


class QdrantServerStore:
    """A Qdrant server through AsyncQdrantClient; collections are named f"{prefix}_{key}"."""

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "youworker",
        client: AsyncQdrantClient | None = None,
        server_fusion: bool = True,
        timeout: int = 30,
    ) -> None:
        if client is None and not url:
            raise ValueError("QdrantServerStore needs a url or a client")
        self.url = url
        self.timeout = timeout
        self._client = client
        self._owns_client = client is None
        self.prefix = prefix
        # False fuses in Python (two queries in one batch); switched off by itself when a
        # server too old for parametrised RRF (`RrfQuery(rrf=Rrf(k=60))`) refuses the query.
        self.server_fusion = server_fusion
        self._known: set[str] = set()
        self._dimensions: dict[str, int] = {}

    @property
    def client(self) -> AsyncQdrantClient:
        """The client, created on first use (opening the store touches no network)."""
        if self._client is None:
            from qdrant_client import AsyncQdrantClient

            self._client = AsyncQdrantClient(url=self.url, timeout=self.timeout)
        return self._client

    def collection_name(self, key: str) -> str:
        return f"{self.prefix}_{check_key(key)}"

    async def _exists(self, name: str) -> bool:
        if name in self._known:
            return True
        try:
            exists = await self.client.collection_exists(name)
        except _server_failures() as exc:
            raise _server_error(name, "lookup", exc) from exc
        if exists:
            self._known.add(name)
        return exists

    @staticmethod
    def _document_filter(document_id: str) -> qm.Filter:
        from qdrant_client.http import models

        return models.Filter(
            must=[
                models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))
            ]
        )

    @staticmethod
    def _access_filter(access: AccessFilter, document_ids: list[str] | None) -> qm.Filter:
        from qdrant_client.http import models

        readable: list[Any] = [
            models.FieldCondition(key="owner_id", match=models.MatchValue(value=access.user_id))
        ]
        if access.group_ids:
            readable.append(
                models.FieldCondition(
                    key="group_ids", match=models.MatchAny(any=list(access.group_ids))
                )
            )
        # Every `must` and at least one `should`: own documents or a shared group.
        must: list[Any] = []
        if document_ids is not None:
            must.append(
                models.FieldCondition(key="document_id", match=models.MatchAny(any=document_ids))
            )
        return models.Filter(must=must or None, should=readable)

    async def ensure_collection(self, key: str, dimension: int) -> None:
        """Create the collection (named dense + IDF sparse vectors) and keyword indexes."""
        if dimension < 1:
            raise ValueError("dimension must be positive")
        name = self.collection_name(key)
        if self._dimensions.get(name) == dimension:
            return
        try:
            await self._ensure(name, dimension)
        except _server_failures() as exc:
            raise _server_error(name, "create", exc) from exc
        self._known.add(name)
        self._dimensions[name] = dimension

    async def _ensure(self, name: str, dimension: int) -> None:
        from qdrant_client.http import models
        from qdrant_client.http.exceptions import UnexpectedResponse

        if await self.client.collection_exists(name):
            vectors = (await self.client.get_collection(name)).config.params.vectors
            params = vectors.get(DENSE) if isinstance(vectors, dict) else None
            if params is None or params.size != dimension:
                size = params.size if params is not None else "no dense"
                raise VectorStoreError(
                    f"vector collection {name} holds {size} vectors, not {dimension}-d ones"
                )
        else:
            try:
                await self.client.create_collection(
                    name,
                    vectors_config={
                        DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={
                        SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                )
            except UnexpectedResponse as exc:
                # Another process created it between the check and the create: fine.
                if exc.status_code != 409:
                    raise
            logger.info("vector collection created", store="qdrant", name=name, dimension=dimension)
        for field_name in INDEXED_FIELDS:
            # Creating an index that exists is a no-op on the server.
            await self.client.create_payload_index(
                name, field_name, field_schema=models.PayloadSchemaType.KEYWORD, wait=True
            )

    async def upsert(self, key: str, points: list[ChunkPoint]) -> None:
        from qdrant_client.http import models

        if not points:
            return
        name = self.collection_name(key)
        check_points(points, self._dimensions.get(name))
        if not await self._exists(name):
            raise VectorStoreError(f"vector collection {name} does not exist: ensure it first")
        structs = [
            models.PointStruct(
                id=p.id,
                vector={
                    DENSE: p.dense,
                    SPARSE: models.SparseVector(indices=p.sparse[0], values=p.sparse[1]),
                },
                payload=p.payload,
            )
            for p in points
        ]
        try:
            await self.client.upsert(name, points=structs, wait=True)
        except _server_failures() as exc:
            raise _server_error(name, "upsert", exc) from exc

    async def delete_document(self, key: str, document_id: str) -> None:
        from qdrant_client.http import models

        name = self.collection_name(key)
        if not await self._exists(name):
            return
        selector = models.FilterSelector(filter=self._document_filter(document_id))
        try:
            await self.client.delete(name, points_selector=selector, wait=True)
        except _server_failures() as exc:
            raise _server_error(name, "delete", exc) from exc

    async def set_document_access(self, key: str, document_id: str, group_ids: list[str]) -> None:
        name = self.collection_name(key)
        groups = _check_groups(group_ids)
        if not await self._exists(name):
            return
        try:
            await self.client.set_payload(
                name,
                payload={"group_ids": groups},
                points=self._document_filter(document_id),
                wait=True,
            )
        except _server_failures() as exc:
            raise _server_error(name, "share", exc) from exc

    async def search(
        self,
        key: str,
        dense: list[float],
        sparse: SparseTerms,
        access: AccessFilter,
        limit: int,
        document_ids: list[str] | None = None,
    ) -> list[ScoredChunk]:
        from qdrant_client.http import models
        from qdrant_client.http.exceptions import UnexpectedResponse

        _check_access(access)
        name = self.collection_name(key)
        if limit < 1 or document_ids == [] or not await self._exists(name):
            return []
        where = self._access_filter(access, document_ids)
        queries: list[tuple[str, Any]] = [(DENSE, dense)]
        if sparse[0]:
            terms = models.SparseVector(indices=list(sparse[0]), values=list(sparse[1]))
            queries.append((SPARSE, terms))
        try:
            if self.server_fusion:
                try:
                    return await self._search_fused(name, dense, queries, where, limit)
                except UnexpectedResponse as exc:
                    if exc.status_code not in (400, 422):
                        raise
                    self.server_fusion = False
                    logger.warning(
                        "qdrant refused the RRF query; fusing in Python", name=name, error=str(exc)
                    )
            return await self._search_python_fusion(name, dense, queries, where, limit)
        except _server_failures() as exc:
            raise _server_error(name, "search", exc) from exc

    async def _search_fused(
        self,
        name: str,
        dense: list[float],
        queries: list[tuple[str, Any]],
        where: qm.Filter,
        limit: int,
    ) -> list[ScoredChunk]:
        from qdrant_client.http import models

        candidates = prefetch_limit(limit)
        response = await self.client.query_points(
            name,
            prefetch=[
                models.Prefetch(query=query, using=using, filter=where, limit=candidates)
                for using, query in queries
            ],
            query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            limit=limit,
            with_payload=True,
            with_vectors=[DENSE],
        )
        return [
            ScoredChunk(
                str(hit.id), float(hit.score), dict(hit.payload or {}), cosine(dense, hit.vector)
            )
            for hit in response.points
        ]

    async def _search_python_fusion(
        self,
        name: str,
        dense: list[float],
        queries: list[tuple[str, Any]],
        where: qm.Filter,
        limit: int,
    ) -> list[ScoredChunk]:
        from qdrant_client.http import models

        candidates = prefetch_limit(limit)
        responses = await self.client.query_batch_points(
            name,
            requests=[
                models.QueryRequest(
                    query=query,
                    using=using,
                    filter=where,
                    limit=candidates,
                    with_payload=True,
                    with_vector=[DENSE],
                )
                for using, query in queries
            ],
        )
        ranked = [
            [
                ScoredChunk(
                    str(hit.id),
                    float(hit.score),
                    dict(hit.payload or {}),
                    cosine(dense, hit.vector),
                )
                for hit in r.points
            ]
            for r in responses
        ]
        return rrf_fuse(ranked, limit)

    async def count(self, key: str) -> int:
        name = self.collection_name(key)
        if not await self._exists(name):
            return 0
        try:
            return int((await self.client.count(name, exact=True)).count)
        except _server_failures() as exc:
            raise _server_error(name, "count", exc) from exc

    async def close(self) -> None:
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            self._known.clear()
            self._dimensions.clear()
            await client.close()


def open_vector_store(settings: Settings) -> VectorStore:
    """The Qdrant server at LLM__QDRANT_URL when set, else the embedded store in DATA_DIR."""
    url = settings.llm.qdrant_url
    if url is not None:
        logger.info("vector store", store="qdrant", url=str(url))
        return QdrantServerStore(str(url), prefix=settings.llm.qdrant_collection)
    root = (settings.data_dir / "vectors").resolve()
    if settings.redis.url is not None:
        # Several workers (REDIS__URL) share the data directory: they take turns on the shards.
        from youworker.services.documents.shared_edge import SharedEdgeVectorStore

        logger.info("vector store", store="edge-shared", path=str(root))
        return SharedEdgeVectorStore(root)
    logger.info("vector store", store="edge", path=str(root))
    return EdgeVectorStore(root)
