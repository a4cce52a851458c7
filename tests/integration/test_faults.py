"""Failures of what YouWorker depends on: nothing is lost, and it recovers without a restart.

The vector store "goes away" as a real Qdrant client pointed at a port nothing listens on;
PostgreSQL "restarts" as every connection of the test database being terminated by the server.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.test_chat_runs import ask, backend, messages, server
from tests.integration.test_documents import context, files, store
from tests.integration.test_documents_in_chat import QUESTION, documents_chat
from tests.ollama_server import OllamaTestServer
from youworker.db import session_scope
from youworker.models import Document, IngestionJob, JobStatus, User
from youworker.models.base import utcnow
from youworker.services import accounts, runtime, users_admin
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.ingest import IngestContext, wait_delay
from youworker.services.documents.retrieval import Passage, search_passages
from youworker.services.documents.search_tool import search_documents_tool
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore, QdrantServerStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.health import probe_llm
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.embedded import MODEL_NAME as EMBEDDED_MODEL
from youworker.services.llm.embedded import EmbeddedBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.llm.provider import get_provider_manager
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import DocumentSettings, get_settings
from youworker.state.chat import ChatState
from youworker.youworker import lifespan

__all__ = ["backend", "context", "files", "server", "store"]  # fixtures used here


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def down_store() -> AsyncIterator[QdrantServerStore]:
    vectors = QdrantServerStore(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    yield vectors
    await vectors.close()


async def _job(document_id: str) -> IngestionJob:
    async with session_scope() as session:
        job = await session.scalar(
            select(IngestionJob).where(col(IngestionJob.document_id) == uuid.UUID(document_id))
        )
        assert job is not None
        return job


async def _document(document_id: str) -> Document:
    async with session_scope() as session:
        document = await session.get(Document, uuid.UUID(document_id))
        assert document is not None
        return document


async def _time_passes(document_id: str, delta: timedelta) -> None:
    """Move the job's schedule back by `delta`, as if that much time had passed."""
    job = await _job(document_id)
    async with session_scope() as session:
        await session.execute(
            update(IngestionJob)
            .where(col(IngestionJob.id) == job.id)
            .values(
                not_before=None if job.not_before is None else job.not_before - delta,
                created_at=job.created_at - delta,
            )
        )
        await session.commit()


async def test_an_upload_waits_for_the_vector_store_and_finishes_when_it_is_back(
    db: AsyncSession,
    alice: User,
    files: FileStore,
    store: EdgeVectorStore,
    down_store: QdrantServerStore,
    context: IngestContext,
) -> None:
    uploaded = await library.upload(
        db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]), max_bytes=10**7
    )
    document_id = uploaded.document.id
    while_down = IngestionWorker(dataclasses.replace(context, store=down_store))

    assert await while_down.run_once()
    document, job = await _document(document_id), await _job(document_id)
    assert document.status == "queued"
    assert document.error is not None and "Waiting for the vector store" in document.error
    assert job.status == JobStatus.QUEUED and job.waits == 1 and job.attempts == 0
    assert job.not_before is not None and job.not_before > utcnow()
    assert not await while_down.run_once()  # not due yet: nobody hammers a server that is down

    await _time_passes(document_id, wait_delay(0))
    assert await while_down.run_once()  # still down: waits longer, never counts as a crash
    job = await _job(document_id)
    assert job.waits == 2 and job.attempts == 0
    assert job.not_before is not None and job.not_before - utcnow() > wait_delay(0)

    await _time_passes(document_id, wait_delay(1))
    assert await IngestionWorker(context).run_until_idle() == 1  # the store is back
    document = await _document(document_id)
    assert document.status == "ready" and document.error is None
    passages = await search_passages(db, alice, QUESTION, store=store, embedder=get_onnx_embedder())
    assert passages and passages[0].document_id == document_id


async def test_a_store_down_for_longer_than_the_wait_limit_fails_the_document(
    db: AsyncSession,
    alice: User,
    files: FileStore,
    down_store: QdrantServerStore,
    context: IngestContext,
) -> None:
    uploaded = await library.upload(db, alice, files, "notes.txt", b"Notes.", max_bytes=10**6)
    patient = dataclasses.replace(
        context, store=down_store, settings=DocumentSettings(job_wait_hours=1)
    )
    assert await IngestionWorker(patient).run_once()
    assert (await _document(uploaded.document.id)).status == "queued"

    await _time_passes(uploaded.document.id, timedelta(hours=2))
    assert await IngestionWorker(patient).run_once()
    document = await _document(uploaded.document.id)
    assert document.status == "failed"
    assert document.error is not None and document.error.startswith("Indexing failed")
    assert (await _job(uploaded.document.id)).status == JobStatus.FAILED


@pytest.fixture
async def runs_without_store(
    engine: object, backend: OllamaBackend, down_store: QdrantServerStore
) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-plain"

    async def searcher(
        user_id: str, query: str, limit: int, collection_ids: tuple[str, ...] = ()
    ) -> list[Passage]:
        async with session_scope() as session:
            user = await session.get(User, uuid.UUID(user_id))
            assert user is not None
            return await search_passages(
                session,
                user,
                query,
                store=down_store,
                embedder=get_onnx_embedder(),
                limit=limit,
                collection_ids=[uuid.UUID(c) for c in collection_ids] or None,
            )

    registry = ToolRegistry()
    registry.register(search_documents_tool(searcher))
    chat_runs = ChatRuns(resolve, registry)
    yield chat_runs
    await chat_runs.shutdown()


async def test_chat_answers_without_documents_and_says_so_when_the_store_is_down(
    db: AsyncSession, alice: User, runs_without_store: ChatRuns, server: object
) -> None:
    conversation_id = await documents_chat(db, alice)
    snapshot = await ask(runs_without_store, alice, conversation_id, QUESTION)
    assert snapshot.status == "complete" and snapshot.text

    answer = (await messages(alice, conversation_id))[-1]
    assert answer.status == "complete"
    assert answer.tool_calls  # the switch's search, and the model's own call
    for card in answer.tool_calls:
        assert card.name == "search_documents" and card.error is not None
        assert "cannot be searched right now" in card.error
    # The answer itself says it has no source; the model is told not to cite any.
    assert answer.content.startswith("*No source: your documents could not be searched (")
    assert "so this answer does not draw on them.*" in answer.content
    request = server.chat_requests()[-1]  # type: ignore[attr-defined]
    notes = [m["content"] for m in request["messages"] if m["role"] == "system"]
    assert any("could not be searched" in n and "Do not cite sources" in n for n in notes)


async def test_the_app_recovers_when_postgresql_drops_every_connection(
    engine: AsyncEngine, database_url: str
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: its server ends the connections")
    async with session_scope() as session:
        admin = await accounts.register(
            session, email="root@example.com", password="root-password-1", display_name="Root"
        )
    async with session_scope() as session:
        assert (await users_admin.list_users(session, admin)).total == 1

    # What a server restart does to the pool: every connection it holds is gone.
    outside = await asyncpg.connect(database_url)
    try:
        ended = await outside.fetchval(
            "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid) "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await outside.close()
    assert ended >= 1

    async with session_scope() as session:
        page = await users_admin.list_users(session, admin)
    assert [user.email for user in page.users] == ["root@example.com"]


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Process-wide singletons built from this test's settings, and rebuilt after it."""

    def clear() -> None:
        get_settings.cache_clear()
        get_provider_manager.cache_clear()
        for singleton in (
            runtime.get_mcp_manager,
            runtime.get_tool_registry,
            runtime.get_chat_runs,
            runtime.get_vector_store,
            runtime.get_ingestion_worker,
        ):
            singleton.cache_clear()

    monkeypatch.setenv("DOCUMENTS__WORKER", "external")  # this test is about the model only
    clear()
    yield monkeypatch
    monkeypatch.undo()
    clear()


async def test_ollama_absent_at_start_the_app_starts_on_the_builtin_model_and_says_so(
    engine: AsyncEngine, fresh_runtime: pytest.MonkeyPatch
) -> None:
    # Accepts connections (the kernel backlog) but never answers: the worst Ollama to wait for.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = int(silent.getsockname()[1])
    fresh_runtime.setenv("LLM__PROVIDER", "auto")
    fresh_runtime.setenv("LLM__OLLAMA_BASE_URL", f"http://127.0.0.1:{port}")
    fresh_runtime.setenv("LLM__PROBE_TIMEOUT_SECONDS", "30")
    get_settings.cache_clear()
    chat_page = ChatState(_reflex_internal_init=True)  # type: ignore[call-arg]
    ollama = OllamaTestServer(port=port)

    async with lifespan():
        manager = get_provider_manager()
        # Start-up is done while the first probe still waits on the silent port.
        assert manager.status().checking
        assert isinstance(manager.backend(), EmbeddedBackend)

        silent.close()  # now nothing listens: the next probe is refused at once
        status = await manager.refresh()
        assert (status.active, status.ollama_reachable, status.checking) == (
            "embedded",
            False,
            False,
        )
        chat_page._refresh_provider()
        assert chat_page.provider_banner == "Built-in small model: connect Ollama for real answers."
        assert manager.default_model() == EMBEDDED_MODEL
        llm = await probe_llm(get_settings())
        assert llm.status == "degraded" and "using the embedded model" in llm.detail

        ollama.start()  # Ollama comes up: the next probe switches, no restart needed
        try:
            status = await manager.refresh()
            assert (status.active, status.ollama_reachable) == ("ollama", True)
            chat_page._refresh_provider()
            assert chat_page.provider_banner == ""
            assert isinstance(manager.backend(), OllamaBackend)
        finally:
            ollama.stop()
