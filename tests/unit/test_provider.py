"""ProviderManager: picks Ollama when it answers, the built-in model otherwise."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.ollama_server import OllamaTestServer
from youworker.services.llm.embedded import MODEL_NAME, EmbeddedBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.llm.provider import ProviderManager, get_provider_manager
from youworker.settings import LLMSettings, get_settings


@pytest.fixture
def server() -> Iterator[OllamaTestServer]:
    srv = OllamaTestServer()
    srv.start()
    yield srv
    srv.stop()


def llm_settings(url: str, provider: str = "auto", timeout: float = 2.0) -> LLMSettings:
    return LLMSettings.model_validate(
        {
            "provider": provider,
            "ollama_base_url": url,
            "chat_model": "test-plain",
            "probe_timeout_seconds": timeout,
        }
    )


def unused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def tag_requests(server: OllamaTestServer) -> int:
    return len([path for path, _ in server.requests if path == "/api/tags"])


async def test_auto_follows_ollama_going_away_and_coming_back(server: OllamaTestServer) -> None:
    manager = ProviderManager(llm_settings(server.url))
    try:
        before = manager.status()
        assert before.checking and before.active == "embedded" and before.checked_at is None
        assert isinstance(manager.backend(), EmbeddedBackend)

        up = await manager.refresh()
        assert (up.active, up.ollama_reachable, up.checking) == ("ollama", True, False)
        assert up.checked_at is not None and "test-plain" in up.detail
        assert isinstance(manager.backend(), OllamaBackend)
        assert manager.default_model() == "test-plain"

        server.stop()
        down = await manager.refresh()
        assert (down.active, down.ollama_reachable) == ("embedded", False)
        assert "not reachable" in down.detail
        assert isinstance(manager.backend(), EmbeddedBackend)
        assert manager.default_model() == MODEL_NAME

        server.start()
        again = await manager.refresh()
        assert (again.active, again.ollama_reachable) == ("ollama", True)
        assert manager.backend() is manager.ollama
    finally:
        await manager.stop()


async def test_background_probe_starts_and_stops(server: OllamaTestServer) -> None:
    manager = ProviderManager(llm_settings(server.url), probe_interval_seconds=3600)
    await manager.start()
    try:
        backend = await manager.current_backend()
        assert backend is manager.ollama
        assert not manager.status().checking
    finally:
        await manager.stop()
    assert tag_requests(server) >= 1


async def test_auto_with_nothing_listening_uses_embedded() -> None:
    manager = ProviderManager(llm_settings(unused_url()))
    try:
        backend = await manager.current_backend()
    finally:
        await manager.stop()
    assert isinstance(backend, EmbeddedBackend)
    assert not manager.status().ollama_reachable and not manager.status().checking


async def test_a_silent_ollama_does_not_hold_up_the_probe() -> None:
    # Accepts connections (the kernel backlog) but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        manager = ProviderManager(llm_settings(url, timeout=0.2))
        try:
            status = await manager.refresh()
        finally:
            await manager.stop()
    assert (status.active, status.ollama_reachable) == ("embedded", False)
    assert "did not answer" in status.detail


async def test_reachable_ollama_without_the_chat_model(server: OllamaTestServer) -> None:
    settings = llm_settings(server.url).model_copy(update={"chat_model": "llama3.2"})
    manager = ProviderManager(settings)
    try:
        status = await manager.refresh()
    finally:
        await manager.stop()
    assert status.active == "ollama"
    assert "llama3.2 is not pulled" in status.detail


async def test_explicit_ollama_mode_never_falls_back() -> None:
    manager = ProviderManager(llm_settings(unused_url(), provider="ollama"))
    try:
        assert isinstance(manager.backend(), OllamaBackend)
        status = await manager.refresh()
    finally:
        await manager.stop()
    assert (status.active, status.ollama_reachable) == ("ollama", False)
    assert isinstance(manager.backend(), OllamaBackend)
    assert manager.default_model() == "test-plain"


async def test_explicit_embedded_mode_never_probes(server: OllamaTestServer) -> None:
    manager = ProviderManager(llm_settings(server.url, provider="embedded"))
    await manager.start()
    try:
        status = await manager.refresh()
        backend = await manager.current_backend()
    finally:
        await manager.stop()
    assert (status.active, status.checking) == ("embedded", False)
    assert isinstance(backend, EmbeddedBackend)
    assert manager.default_model() == MODEL_NAME
    assert tag_requests(server) == 0


def test_process_wide_manager_uses_the_settings() -> None:
    get_provider_manager.cache_clear()
    try:
        manager = get_provider_manager()
        assert manager is get_provider_manager()
        assert manager.ollama.base_url == str(get_settings().llm.ollama_base_url).rstrip("/")
        assert manager.mode == get_settings().llm.provider
    finally:
        get_provider_manager.cache_clear()
