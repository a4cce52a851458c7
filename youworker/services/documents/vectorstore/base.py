"""What every vector store shares: the protocol, points and hits, the access filter, key and
point checks, and reciprocal-rank fusion of the dense and sparse lists."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    pass


# (token ids, weights), as made by embedders.sparse_vector().
SparseTerms = tuple[list[int], list[float]]

DENSE = "dense"
SPARSE = "sparse"
RRF_K = 60
# Candidates each of dense and sparse contribute to the fusion, per result asked for.
PREFETCH_FACTOR = 5
MIN_PREFETCH = 50
INDEXED_FIELDS = ("owner_id", "group_ids", "document_id")
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


def check_groups(group_ids: list[str]) -> list[str]:
    if not all(isinstance(g, str) and g for g in group_ids):
        raise ValueError("group ids must be non-empty strings")
    return list(group_ids)


def check_access(access: AccessFilter) -> None:
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
