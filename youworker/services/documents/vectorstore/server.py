"""A Qdrant server through qdrant-client's AsyncQdrantClient."""

from __future__ import annotations

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
    rrf_fuse,
)

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient
    from qdrant_client.http import models as qm


logger = get_logger(__name__)


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
        groups = check_groups(group_ids)
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

        check_access(access)
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
