"""Process-wide singletons (LLM provider, tools, MCP, running answers) and their lifecycle."""

from __future__ import annotations

from functools import lru_cache

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.services.chat_runs import ChatRuns, mark_interrupted
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.provider import ProviderManager
from youworker.services.llm.provider import get_provider_manager as _provider_manager
from youworker.services.mcp import McpManager
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import get_settings

log = get_logger(__name__)


def get_provider_manager() -> ProviderManager:
    return _provider_manager()


@lru_cache(maxsize=1)
def get_mcp_manager() -> McpManager:
    return McpManager()


@lru_cache(maxsize=1)
def get_tool_registry() -> ToolRegistry:
    settings = get_settings()
    return ToolRegistry(mcp=get_mcp_manager(), default_timeout_s=settings.chat.tool_timeout_seconds)


async def _active_backend() -> tuple[LLMBackend, str]:
    manager = get_provider_manager()
    backend = await manager.current_backend()
    return backend, manager.default_model()


@lru_cache(maxsize=1)
def get_chat_runs() -> ChatRuns:
    return ChatRuns(_active_backend, get_tool_registry())


async def start() -> None:
    """Start background work without waiting on any provider (probes run in the background)."""
    settings = get_settings()
    if settings.redis.url is None:
        interrupted = await mark_interrupted()
        if interrupted:
            log.info("chat.interrupted_answers_saved", count=interrupted)
    await get_provider_manager().start()
    async with session_scope() as db:
        await get_tool_registry().load_settings(db)
    await get_mcp_manager().start()


async def stop() -> None:
    await get_chat_runs().shutdown()
    await get_mcp_manager().aclose()
    await get_provider_manager().stop()
