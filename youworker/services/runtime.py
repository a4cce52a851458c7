"""Process-wide singletons (LLM provider, tools, MCP, running answers) and their lifecycle."""

from __future__ import annotations

import asyncio
import uuid
from functools import lru_cache

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import User
from youworker.services.authz import require_active
from youworker.services.broker import Broker, make_broker
from youworker.services.chat.events import conversation_events
from youworker.services.chat.runs import ChatRuns
from youworker.services.config_sync import ConfigSync
from youworker.services.documents.embedders import Embedder, EmbedderSelector
from youworker.services.documents.ingest import IngestContext
from youworker.services.documents.query_expansion import expand_query
from youworker.services.documents.retrieval import Passage, search_passages
from youworker.services.documents.search_tool import search_documents_tool
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import VectorStore, open_vector_store
from youworker.services.documents.worker import IngestionWorker
from youworker.services.gc_tuning import freeze_startup_objects
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.provider import ProviderManager
from youworker.services.llm.provider import get_provider_manager as _provider_manager
from youworker.services.mcp import McpManager
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import Settings, get_settings

log = get_logger(__name__)


def get_provider_manager() -> ProviderManager:
    return _provider_manager()


@lru_cache(maxsize=1)
def get_broker() -> Broker:
    """In memory for one process; Redis (REDIS__URL) when several workers share the work."""
    return make_broker(get_settings().redis.url)


@lru_cache(maxsize=1)
def get_config_sync() -> ConfigSync:
    return ConfigSync(get_broker(), _reload_tools)


async def _reload_tools() -> None:
    """Another worker changed MCP servers or tool switches: apply them here too."""
    await get_mcp_manager().refresh()
    async with session_scope() as db:
        await get_tool_registry().load_settings(db)


@lru_cache(maxsize=1)
def get_mcp_manager() -> McpManager:
    return McpManager()


def build_tool_registry(settings: Settings, mcp: McpManager | None = None) -> ToolRegistry:
    """The tools a new installation offers: the built-ins, document search, and MCP's tools."""
    registry = ToolRegistry(mcp=mcp, default_timeout_s=settings.chat.tool_timeout_seconds)
    registry.register(search_documents_tool(search_for_user, settings.documents.search_results))
    return registry


@lru_cache(maxsize=1)
def get_tool_registry() -> ToolRegistry:
    return build_tool_registry(get_settings(), get_mcp_manager())


async def search_for_user(
    user_id: str, query: str, limit: int, collection_ids: tuple[str, ...] = ()
) -> list[Passage]:
    """Passages `user_id` may read (the search tool's and the "use my documents" switch's),
    in the given collections when there are any."""
    embedder = await current_embedder()
    async with session_scope() as db:
        user = require_active(await db.get(User, uuid.UUID(user_id)))
        return await search_passages(
            db,
            user,
            query,
            store=get_vector_store(),
            embedder=embedder,
            limit=limit,
            collection_ids=[uuid.UUID(c) for c in collection_ids] if collection_ids else None,
            expansions=await _expansions(query),
        )


async def _expansions(query: str) -> list[str]:
    """The chat model's rewordings of `query`, when a real one serves (not the bundled one)."""
    settings = get_settings().documents
    manager = get_provider_manager()
    if not settings.query_expansion:
        return []
    backend = await manager.current_backend()
    if manager.status().active != "ollama":
        return []
    return await expand_query(
        backend, manager.default_model(), query, settings.query_expansion_seconds
    )


async def _active_backend() -> tuple[LLMBackend, str]:
    await get_config_sync().current()  # an answer offers the tools as configured now
    manager = get_provider_manager()
    backend = await manager.current_backend()
    return backend, manager.default_model()


@lru_cache(maxsize=1)
def get_chat_runs() -> ChatRuns:
    return ChatRuns(_active_backend, get_tool_registry(), get_broker())


@lru_cache(maxsize=1)
def get_file_store() -> FileStore:
    return FileStore.from_settings(get_settings())


@lru_cache(maxsize=1)
def get_vector_store() -> VectorStore:
    return open_vector_store(get_settings())


@lru_cache(maxsize=1)
def get_embedder_selector() -> EmbedderSelector:
    manager = get_provider_manager()
    return EmbedderSelector(get_settings(), manager.status, manager.ollama)


async def current_embedder() -> Embedder:
    return await get_embedder_selector().current()


_choosing: set[asyncio.Task[Embedder]] = set()


def known_embedder() -> Embedder | None:
    """The embedder if already chosen; otherwise starts choosing (asking Ollama may take
    seconds) and returns None, so a page never waits for it."""
    selector = get_embedder_selector()
    embedder = selector.known()
    if embedder is None and not _choosing:
        task = asyncio.create_task(selector.current())
        _choosing.add(task)
        task.add_done_callback(_choosing.discard)
    return embedder


def ingest_context() -> IngestContext:
    return IngestContext(
        files=get_file_store(),
        store=get_vector_store(),
        embedder=current_embedder,
        settings=get_settings().documents,
    )


@lru_cache(maxsize=1)
def get_ingestion_worker() -> IngestionWorker:
    return IngestionWorker(ingest_context())


_sweeps: set[asyncio.Task[None]] = set()


async def start() -> None:
    """Start background work without waiting on any provider (probes run in the background)."""
    settings = get_settings()
    broker = get_broker()
    await broker.start()
    conversation_events.connect(broker)
    runs = get_chat_runs()
    # Answers whose worker died (this one before a restart, or another whose claim lapsed).
    await runs.mark_interrupted()
    if broker.shared:
        _sweeps.add(asyncio.create_task(runs.watch_interrupted()))
    await get_provider_manager().start()
    await get_config_sync().loaded()
    async with session_scope() as db:
        await get_tool_registry().load_settings(db)
    await get_mcp_manager().start()
    if settings.documents.worker == "in-process":
        get_ingestion_worker().start()
    freeze_startup_objects()


async def stop() -> None:
    await get_ingestion_worker().stop()
    for sweep in _sweeps:
        sweep.cancel()
    await asyncio.gather(*_sweeps, return_exceptions=True)
    _sweeps.clear()
    await get_chat_runs().shutdown()
    await get_mcp_manager().aclose()
    await get_provider_manager().stop()
    await get_vector_store().close()
    await get_broker().close()
