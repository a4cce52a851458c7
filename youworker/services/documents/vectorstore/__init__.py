"""Vector stores for document chunks: hybrid (dense + sparse) retrieval behind an access filter.

Two implementations of one protocol: `EdgeVectorStore`, the Qdrant engine in-process
(qdrant-edge, one shard per collection under DATA_DIR/vectors/<key>/), and `QdrantServerStore`,
a Qdrant server through qdrant-client. Every search applies the access filter inside the engine
query (owner, or any group the document is shared with): nothing filters results afterwards,
so a limit of 10 means 10 readable chunks and no unreadable chunk ever leaves the engine.

Modules: `base` (the protocol, points, the access filter, checks, fusion), `edge` (embedded),
`turns` (the file lock several processes take turns with on one embedded store), `server`
(Qdrant server); `open_vector_store` picks one from the settings. They import only
`youworker.settings` and `youworker.logging`, and qdrant's packages lazily.
"""

from __future__ import annotations

from youworker.logging import get_logger
from youworker.services.documents.vectorstore.base import (
    AccessFilter,
    ChunkPoint,
    ScoredChunk,
    SparseTerms,
    VectorStore,
    VectorStoreError,
    check_key,
    cosine,
)
from youworker.services.documents.vectorstore.edge import EDGE_SPLIT_GROUPS, EdgeVectorStore
from youworker.services.documents.vectorstore.server import QdrantServerStore
from youworker.settings import Settings

__all__ = [
    "EDGE_SPLIT_GROUPS",
    "AccessFilter",
    "ChunkPoint",
    "EdgeVectorStore",
    "QdrantServerStore",
    "ScoredChunk",
    "SparseTerms",
    "VectorStore",
    "VectorStoreError",
    "check_key",
    "cosine",
    "open_vector_store",
]

logger = get_logger(__name__)


def open_vector_store(settings: Settings) -> VectorStore:
    """The Qdrant server at LLM__QDRANT_URL when set, else the embedded store in DATA_DIR."""
    url = settings.llm.qdrant_url
    if url is not None:
        logger.info("vector store", store="qdrant", url=str(url))
        return QdrantServerStore(str(url), prefix=settings.llm.qdrant_collection)
    root = (settings.data_dir / "vectors").resolve()
    if settings.redis.url is not None:
        # Several workers (REDIS__URL) share the data directory: they take turns on the shards.
        logger.info("vector store", store="edge-shared", path=str(root))
        return EdgeVectorStore(root, shared=True)
    logger.info("vector store", store="edge", path=str(root))
    return EdgeVectorStore(root)
