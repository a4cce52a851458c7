"""The embedded store: Qdrant's engine in-process (qdrant-edge), one on-disk shard per
collection key under DATA_DIR/vectors/<key>/. Shared by several processes, it takes turns
(turns.py) and closes its shards after each."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from youworker.logging import get_logger
from youworker.services.documents.vectorstore.base import (
    DENSE,
    INDEXED_FIELDS,
    RRF_K,
    SPARSE,
    AccessFilter,
    ChunkPoint,
    ScoredChunk,
    SparseTerms,
    VectorStoreError,
    check_access,
    check_groups,
    check_key,
    check_points,
    cosine,
    prefetch_limit,
)
from youworker.services.documents.vectorstore.turns import ProcessTurns

if TYPE_CHECKING:
    import qdrant_edge


logger = get_logger(__name__)

# Up to this many groups, the embedded store's access filter names each group in its own
# condition; beyond it (where the gain was gone in measurements) one MatchAny holds them all.
EDGE_SPLIT_GROUPS = 64
# qdrant-edge holds the GIL inside every call, so a worker thread does not free the event loop:
# upserts go in slices this size (~13 ms each at 100k points) and the loop runs between them.
EDGE_UPSERT_SLICE = 256


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

    def __init__(
        self, root: Path, *, max_search_threads: int | None = None, shared: bool = False
    ) -> None:
        """`shared`: other processes use the same directory; every call takes its turn."""
        self.root = Path(root)
        self.max_search_threads = max_search_threads
        self.shared = shared
        self._collections: dict[str, _EdgeCollection] = {}
        self._open_lock = threading.Lock()
        self._turn: Callable[[], contextlib.AbstractContextManager[None]] = (
            ProcessTurns(self.root, release=self._close_sync).turn
            if shared
            else contextlib.nullcontext
        )

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
        with self._turn():
            return self._open_now(key, dimension)

    def _open_now(self, key: str, dimension: int | None) -> _EdgeCollection | None:
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
        with self._turn():
            return self._run_now(key, action, fn, default)

    def _run_now(self, key: str, action: str, fn: Any, default: Any) -> Any:
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
        with self._turn():
            self._upsert_now(key, points)

    def _upsert_now(self, key: str, points: list[ChunkPoint]) -> None:
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
            self._document_filter(document_id), {"group_ids": check_groups(group_ids)}
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
        check_access(access)
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
