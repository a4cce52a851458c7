"""Passages for a question: hybrid search under the actor's access filter, named and numbered.

The filter (own documents plus documents shared with the actor's groups) goes into the engine
query; then each hit's document is checked against the database as well, so a vector left
behind by a deleted or unshared document is never returned.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.logging import get_logger
from youworker.models import Document, User
from youworker.services.authz import require_active
from youworker.services.documents.collections import document_ids_in
from youworker.services.documents.embedders import (
    MINILM_NAME,
    Embedder,
    EmbedderError,
    sparse_vector,
)
from youworker.services.documents.library import group_ids_of, readable_clause
from youworker.services.documents.vectorstore import (
    AccessFilter,
    ScoredChunk,
    VectorStore,
    VectorStoreError,
)
from youworker.services.errors import Unavailable, ValidationFailed

log = get_logger(__name__)

QUERY_MAX_CHARS = 2000
MAX_RESULTS = 50
# When even the closest passage's cosine to the question is below this, no passage is about it
# and the search finds nothing (else every question "finds" the top 5 of unrelated text). Per
# embedder, because each has its own scale; measured for the built-in one on the test handbook:
# off-topic questions 0.02-0.15, questions about it 0.21-0.82 (tests/unit/test_relevance_floor.py).
RELEVANCE_FLOORS = {MINILM_NAME: 0.18}
FUSION_K = 60  # as the stores fuse dense and sparse lists
MAX_EXPANSIONS = 5


@dataclass(frozen=True)
class Passage:
    """A retrieved passage; `number` is its citation number in an answer ([1], [2], ...)."""

    number: int
    chunk_id: str
    document_id: str
    document_name: str
    page: int
    heading: str | None
    text: str
    score: float


def check_query(query: str) -> str:
    text = " ".join(query.split())
    if not text:
        raise ValidationFailed({"query": "Say what to search for."})
    if len(text) > QUERY_MAX_CHARS:
        raise ValidationFailed({"query": f"Keep the search under {QUERY_MAX_CHARS} characters."})
    return text


async def search_passages(
    session: AsyncSession,
    actor: User,
    query: str,
    *,
    store: VectorStore,
    embedder: Embedder,
    limit: int = 5,
    document_ids: list[uuid.UUID] | None = None,
    collection_ids: list[uuid.UUID] | None = None,
    expansions: Sequence[str] = (),
) -> list[Passage]:
    """The best passages the actor may read, best first.

    `document_ids` and `collection_ids` narrow the search (to documents in both, when both are
    given); either filter runs inside the vector query, next to the access filter.
    `expansions` are more wordings of the query (query_expansion.py): each is searched too, and
    the lists that are about something are fused.
    """
    user = require_active(actor)
    text = check_query(query)
    limit = min(max(limit, 1), MAX_RESULTS)
    started = time.perf_counter()
    if collection_ids is not None:
        in_collections = await document_ids_in(session, user, collection_ids)
        if document_ids is not None:
            chosen = set(document_ids)
            in_collections = [d for d in in_collections if d in chosen]
        document_ids = in_collections
    if document_ids is not None and not document_ids:
        return []
    groups = await group_ids_of(session, user.id)
    access = AccessFilter(str(user.id), [str(group) for group in groups])
    wordings = (" ".join(x.split())[:QUERY_MAX_CHARS] for x in expansions[:MAX_EXPANSIONS])
    queries = [q for q in dict.fromkeys([text, *wordings]) if q]
    scope = None if document_ids is None else [str(d) for d in document_ids]
    try:
        vectors = await embedder.embed(queries)
        lists = [
            await store.search(
                embedder.key, dense, sparse_vector(query, query=True), access, limit, scope
            )
            for query, dense in zip(queries, vectors, strict=True)
        ]
    except (EmbedderError, VectorStoreError) as exc:
        log.warning("documents.search_unavailable", user=str(user.id), error=str(exc))
        raise Unavailable(f"Your documents cannot be searched right now ({exc}).") from exc
    floor = RELEVANCE_FLOORS.get(embedder.name, float("-inf"))
    # A rewording only votes for the passages it is about; the question keeps its whole list.
    lists[1:] = [[h for h in hits if h.similarity >= floor] for hits in lists[1:]]
    related = [hits for hits in lists if max((h.similarity for h in hits), default=0.0) >= floor]
    if not related:
        closest = max((h.similarity for hits in lists for h in hits), default=0.0)
        log.info("documents.search_unrelated", user=str(user.id), closest=round(closest, 3))
    hits = related[0] if len(related) == 1 else fuse(related, limit)
    hit_documents = {uuid.UUID(str(hit.payload.get("document_id"))) for hit in hits}
    names: dict[str, str] = {}
    if hit_documents:
        rows = await session.execute(
            select(Document.id, Document.name).where(
                col(Document.id).in_(hit_documents), readable_clause(user.id, groups)
            )
        )
        names = {str(document_id): name for document_id, name in rows.all()}
    passages: list[Passage] = []
    for hit in hits:
        document_id = str(hit.payload.get("document_id"))
        if document_id not in names:
            continue
        passages.append(
            Passage(
                number=len(passages) + 1,
                chunk_id=hit.id,
                document_id=document_id,
                document_name=names[document_id],
                page=int(hit.payload.get("page") or 1),
                heading=hit.payload.get("heading"),
                text=str(hit.payload.get("text") or ""),
                score=hit.score,
            )
        )
    log.info(
        "documents.search",
        user=str(user.id),
        results=len(passages),
        queries=len(queries),
        dropped=len(hits) - len(passages),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return passages


def fuse(lists: list[list[ScoredChunk]], limit: int) -> list[ScoredChunk]:
    """Reciprocal-rank fusion of several queries' hits (each list best first), best first."""
    scores: dict[str, float] = {}
    best: dict[str, ScoredChunk] = {}
    for hits in lists:
        for rank, hit in enumerate(hits):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (FUSION_K + rank + 1)
            if hit.id not in best or hit.similarity > best[hit.id].similarity:
                best[hit.id] = hit
    ranked = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)[:limit]
    return [replace(best[chunk_id], score=scores[chunk_id]) for chunk_id in ranked]


def format_passages(passages: list[Passage]) -> str:
    """Passages as the model reads them: numbered, with document name and page."""
    if not passages:
        return "No passages in the user's documents match this search."
    blocks = []
    for passage in passages:
        where = f"{passage.document_name}, page {passage.page}"
        if passage.heading:
            where += f', section "{passage.heading}"'
        blocks.append(f"[{passage.number}] ({where})\n{passage.text}")
    return "\n\n".join(blocks)
