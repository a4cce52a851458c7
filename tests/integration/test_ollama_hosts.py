"""Several Ollama hosts: health-aware selection, load spreading and fail-over.

Every host is a real OllamaTestServer driven over HTTP by the official client. Probes run when
a test calls `refresh()`; nothing waits on the clock.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_chat_runs import finished, messages
from tests.ollama_server import MODELS, PLAIN_REPLY, OllamaTestServer, ServerConfig, embed_vector
from youworker.models import User
from youworker.services import chat, system_info
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents.embedders import (
    MINILM_NAME,
    EmbedderSelector,
    OllamaEmbedder,
)
from youworker.services.health import probe_llm
from youworker.services.llm.base import ChatMessage, LLMBackend, LLMError
from youworker.services.llm.embedded import MODEL_NAME as EMBEDDED_MODEL
from youworker.services.llm.embedded import EmbeddedBackend
from youworker.services.llm.pooled import PooledOllamaBackend
from youworker.services.llm.provider import ProviderManager, user_notice
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import LLMSettings, Settings, get_settings

CHAT_MODEL = "test-plain"
EMBED_DIM = 8  # ServerConfig's default


def llm_settings(urls: list[str], provider: str = "auto") -> LLMSettings:
    return LLMSettings.model_validate(
        {
            "provider": provider,
            "ollama_base_urls": urls,
            "chat_model": CHAT_MODEL,
            "embed_model": "test-embed",
            "probe_timeout_seconds": 2.0,
        }
    )


def app_settings(llm: LLMSettings) -> Settings:
    return get_settings().model_copy(update={"llm": llm})


def unused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def chats(server: OllamaTestServer) -> int:
    return len(server.chat_requests())


def embeds(server: OllamaTestServer) -> int:
    return len([path for path, _ in server.requests if path == "/api/embed"])


async def answer(backend: LLMBackend, model: str = CHAT_MODEL) -> str:
    stream = backend.stream_chat(model, [ChatMessage("user", "hi")])
    return "".join([chunk.content async for chunk in stream])


@pytest.fixture
def servers() -> Iterator[list[OllamaTestServer]]:
    group = [OllamaTestServer() for _ in range(3)]
    for server in group:
        server.start()
    yield group
    for server in group:
        server.stop()


@pytest.fixture
async def manager(servers: list[OllamaTestServer]) -> AsyncIterator[ProviderManager]:
    provider = ProviderManager(llm_settings([server.url for server in servers]))
    yield provider
    await provider.stop()


async def test_requests_spread_over_the_healthy_hosts(
    manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    status = await manager.refresh()
    assert (status.active, status.hosts_summary) == ("ollama", "3 of 3 Ollama hosts up")
    assert manager.backend() is manager.ollama
    for _ in range(6):
        assert await answer(manager.backend()) == PLAIN_REPLY
    assert [chats(server) for server in servers] == [2, 2, 2]
    assert [host.in_flight for host in manager.pool.statuses()] == [0, 0, 0]


async def test_the_host_with_fewest_requests_in_flight_is_chosen(
    manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    await manager.refresh()
    backend = manager.ollama
    question = [ChatMessage("user", "hi")]
    first = backend.stream_chat(CHAT_MODEL, question)  # host 0
    await anext(first)
    second = backend.stream_chat(CHAT_MODEL, question)  # host 1 ...
    await anext(second)
    await second.aclose()  # ... which is idle again
    third = backend.stream_chat(CHAT_MODEL, question)  # host 2: idle, and its turn
    await anext(third)
    fourth = backend.stream_chat(CHAT_MODEL, question)  # host 1: the only idle one
    await anext(fourth)
    assert [chats(server) for server in servers] == [1, 2, 1]
    assert [host.in_flight for host in manager.pool.statuses()] == [1, 1, 1]
    for stream in (first, third, fourth):
        await stream.aclose()
    assert [host.in_flight for host in manager.pool.statuses()] == [0, 0, 0]


async def test_a_host_without_the_model_is_not_chosen_for_it() -> None:
    lacking = OllamaTestServer(config=ServerConfig(models=tuple(set(MODELS) - {CHAT_MODEL})))
    having = OllamaTestServer(config=ServerConfig(models=(CHAT_MODEL,)))
    with lacking, having:
        manager = ProviderManager(llm_settings([lacking.url, having.url]))
        try:
            status = await manager.refresh()
            assert status.detail.startswith("2 of 2 Ollama hosts up, 1 with test-plain: ")
            assert f"{lacking.url} up without test-plain" in status.detail
            for _ in range(3):
                assert await answer(manager.ollama) == PLAIN_REPLY
            assert (chats(lacking), chats(having)) == (0, 3)
            # A conversation's own model goes to the host that has it.
            assert await answer(manager.ollama, "test-echo") == "hi"
            assert (chats(lacking), chats(having)) == (1, 3)
        finally:
            await manager.stop()


async def test_a_host_that_goes_down_is_skipped_after_the_next_probe_and_used_when_back(
    manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    await manager.refresh()
    servers[1].stop()
    status = await manager.refresh()
    assert status.hosts_summary == "2 of 3 Ollama hosts up"
    assert [host.up for host in status.hosts] == [True, False, True]
    assert "not reachable" in status.hosts[1].error
    assert status.active == "ollama"
    for _ in range(4):
        assert await answer(manager.backend()) == PLAIN_REPLY
    assert [chats(servers[0]), chats(servers[2])] == [2, 2]

    servers[1].start()  # same port
    status = await manager.refresh()
    assert status.hosts_summary == "3 of 3 Ollama hosts up"
    for _ in range(3):
        assert await answer(manager.backend()) == PLAIN_REPLY
    assert [chats(server) for server in servers] == [3, 1, 3]


async def test_a_failed_request_marks_the_host_down_and_the_answer_completes_on_another(
    db: AsyncSession, alice: User, manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    await manager.refresh()
    servers[0].stop()  # no probe notices: the next request is sent there first

    async def resolve() -> tuple[LLMBackend, str]:
        return await manager.current_backend(), manager.default_model()

    runs = ChatRuns(resolve, ToolRegistry())
    try:
        conversation = await chat.create_conversation(db, alice)
        await runs.start(alice, conversation.id, "Hello?")
        snapshot = await finished(runs, conversation.id)
    finally:
        await runs.shutdown()
    assert (snapshot.status, snapshot.text) == ("complete", PLAIN_REPLY)
    stored = await messages(alice, conversation.id)
    assert [(m.role, m.status, m.content) for m in stored][-1] == (
        "assistant",
        "complete",
        PLAIN_REPLY,
    )
    assert [chats(servers[1]), chats(servers[2])] == [1, 0]  # the retry went to the next host
    status = manager.status()  # marked down at once, before any probe
    assert [host.up for host in status.hosts] == [False, True, True]
    assert status.hosts_summary == "2 of 3 Ollama hosts up"
    assert await answer(manager.backend()) == PLAIN_REPLY
    assert [chats(servers[1]), chats(servers[2])] == [1, 1]  # host 0 is skipped now


async def test_all_hosts_down_in_auto_mode_uses_the_builtin_model_and_says_so(
    manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    await manager.refresh()
    for server in servers:
        server.stop()
    status = await manager.refresh()
    assert (status.active, status.ollama_reachable) == ("embedded", False)
    assert status.detail.startswith("0 of 3 Ollama hosts up")
    assert isinstance(manager.backend(), EmbeddedBackend)
    assert manager.default_model() == EMBEDDED_MODEL
    assert user_notice(status) == "Built-in small model: none of the 3 Ollama hosts answers."
    health = await probe_llm(app_settings(manager.settings))
    assert health.status == "degraded"
    assert health.detail.startswith("0 of 3 Ollama hosts up: ")
    assert health.detail.endswith("; using the embedded model")

    servers[2].start()
    status = await manager.refresh()
    assert (status.active, status.hosts_summary) == ("ollama", "1 of 3 Ollama hosts up")
    assert user_notice(status) == ""
    assert await answer(manager.backend()) == PLAIN_REPLY
    assert chats(servers[2]) == 1


async def test_requests_that_find_every_host_down_switch_auto_mode_at_once(
    manager: ProviderManager, servers: list[OllamaTestServer]
) -> None:
    await manager.refresh()
    for server in servers:
        server.stop()
    with pytest.raises(LLMError) as first:  # host 0, then one retry on host 1
        await answer(manager.backend())
    assert first.value.code == "unavailable" and servers[1].url in first.value.message
    assert manager.status().hosts_summary == "1 of 3 Ollama hosts up"
    with pytest.raises(LLMError) as second:  # host 2, and no host left to retry on
        await answer(manager.backend())
    assert second.value.message.startswith("None of the 3 Ollama hosts answers")
    status = manager.status()
    assert (status.active, status.ollama_reachable) == ("embedded", False)
    assert isinstance(manager.backend(), EmbeddedBackend)


async def test_all_hosts_down_in_ollama_mode_is_a_clear_error() -> None:
    urls = [unused_url(), unused_url()]
    manager = ProviderManager(llm_settings(urls, provider="ollama"))
    try:
        status = await manager.refresh()
        assert (status.active, status.ollama_reachable) == ("ollama", False)
        assert status.detail.startswith("0 of 2 Ollama hosts up")
        assert user_notice(status) == ""
        assert isinstance(manager.backend(), PooledOllamaBackend)
        with pytest.raises(LLMError) as caught:
            await answer(manager.backend())
        assert caught.value.code == "unavailable"
        assert caught.value.message == f"None of the 2 Ollama hosts answers ({urls[0]}, {urls[1]})."
        health = await probe_llm(app_settings(manager.settings))
        assert health.status == "down" and health.detail.startswith("0 of 2 Ollama hosts up")
    finally:
        await manager.stop()


async def test_embeddings_come_from_a_healthy_host_that_has_the_embed_model() -> None:
    chat_only = OllamaTestServer(config=ServerConfig(models=(CHAT_MODEL,)))
    with_embed = OllamaTestServer(config=ServerConfig(models=(CHAT_MODEL, "test-embed")))
    with chat_only, with_embed:
        manager = ProviderManager(llm_settings([chat_only.url, with_embed.url]))
        selector = EmbedderSelector(manager.settings, manager.status, manager.ollama)
        try:
            await manager.refresh()
            embedder = await selector.current()
            assert isinstance(embedder, OllamaEmbedder) and embedder.dimension == EMBED_DIM
            texts = ["one", "two", "three"]
            vectors = await embedder.embed(texts)
            assert vectors == [pytest.approx(embed_vector(t, EMBED_DIM)) for t in texts]
            assert (embeds(chat_only), embeds(with_embed)) == (0, 2)  # dimension probe + texts

            with_embed.stop()  # the only host with the model goes: the built-in embedder
            await manager.refresh()
            assert manager.status().ollama_reachable and selector.known() is None
            assert (await selector.current()).name == MINILM_NAME
            assert embeds(chat_only) == 0

            with_embed.start()
            await manager.refresh()
            assert isinstance(await selector.current(), OllamaEmbedder)
        finally:
            await manager.stop()


async def test_health_and_versions_report_every_host(servers: list[OllamaTestServer]) -> None:
    servers[1].stop()
    settings = app_settings(llm_settings([server.url for server in servers]))
    health = await probe_llm(settings)
    assert health.status == "degraded"
    assert health.detail.startswith("2 of 3 Ollama hosts up: ")
    down = servers[1].url
    assert f"{down} down (Ollama is not reachable at {down}.)" in health.detail
    assert f"{servers[0].url} up, {len(MODELS)} models, has test-plain, " in health.detail
    versions = await system_info.ollama_version(settings)
    assert versions == (
        f"{servers[0].url}: 0.12.0-test; {down}: unreachable; {servers[2].url}: 0.12.0-test"
    )
    rows = dict(system_info.settings_rows(settings))
    assert rows["LLM__OLLAMA_BASE_URLS"] == ", ".join(server.url for server in servers)
