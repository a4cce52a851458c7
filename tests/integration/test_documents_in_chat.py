"""Documents in chat: the switch and the tool retrieve, answers cite, and nobody gets others' text.

Real ingestion (ONNX embedder, embedded Qdrant), the real `ollama` client against the test
server's "test-rag" model (which quotes passage [1] of whatever passages it was given).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.test_chat_runs import ask, backend, messages, new_chat, server
from tests.integration.test_documents import context, files, store, worker
from tests.ollama_server import OllamaTestServer
from youworker.db import session_scope
from youworker.models import User
from youworker.services import chat
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import collections, library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.retrieval import Passage, search_passages
from youworker.services.documents.search_tool import search_documents_tool
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.errors import NotFound
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

__all__ = ["backend", "context", "files", "server", "store", "worker"]  # fixtures used here

QUESTION = "How much is the meal allowance on business trips?"


@pytest.fixture
async def runs(
    engine: object, backend: OllamaBackend, store: EdgeVectorStore
) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-rag"

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
                store=store,
                embedder=get_onnx_embedder(),
                limit=limit,
                collection_ids=[uuid.UUID(c) for c in collection_ids] or None,
            )

    registry = ToolRegistry()
    registry.register(search_documents_tool(searcher))
    chat_runs = ChatRuns(resolve, registry)
    yield chat_runs
    await chat_runs.shutdown()


@pytest.fixture
async def handbook(db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker) -> str:
    result = await library.upload(
        db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]), max_bytes=10**7
    )
    assert await worker.run_until_idle() == 1
    return result.document.id


async def documents_chat(db: AsyncSession, owner: User) -> uuid.UUID:
    conversation_id = await new_chat(db, owner, "test-rag")
    await chat.set_use_documents(db, owner, conversation_id, True)
    return conversation_id


async def test_the_switch_retrieves_first_and_the_answer_cites_page_two(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer, handbook: str
) -> None:
    conversation_id = await documents_chat(db, alice)
    snapshot = await ask(runs, alice, conversation_id, QUESTION)
    assert snapshot.status == "complete"
    assert "42 euros" in snapshot.text and "[1]" in snapshot.text

    request = server.chat_requests()[-1]
    system = [m["content"] for m in request["messages"] if m["role"] == "system"]
    assert any("[1] (handbook.pdf, page 2" in content for content in system)
    assert request["messages"][-1]["content"] == QUESTION

    answer = (await messages(alice, conversation_id))[-1]
    assert answer.citations[0].number == 1
    assert answer.citations[0].page == 2
    assert answer.citations[0].document_id == handbook
    assert answer.tool_calls[0].name == "search_documents"
    location = await library.locate_chunk(db, alice, uuid.UUID(answer.citations[0].chunk_id))
    assert location.page == 2


async def test_the_agent_calls_search_documents_itself(
    db: AsyncSession, alice: User, runs: ChatRuns, handbook: str
) -> None:
    conversation_id = await new_chat(db, alice, "test-rag")
    await ask(runs, alice, conversation_id, QUESTION)
    answer = (await messages(alice, conversation_id))[-1]
    assert [call.name for call in answer.tool_calls] == ["search_documents"]
    assert "42 euros" in answer.content
    assert [c.page for c in answer.citations][:1] == [2]


async def test_another_user_gets_nothing_through_the_switch_or_the_tool(
    db: AsyncSession, bob: User, runs: ChatRuns, server: OllamaTestServer, handbook: str
) -> None:
    for conversation_id in (await documents_chat(db, bob), await new_chat(db, bob, "test-rag")):
        await ask(runs, bob, conversation_id, QUESTION)
        answer = (await messages(bob, conversation_id))[-1]
        assert answer.citations == []
        assert "42 euros" not in answer.content
        for call in answer.tool_calls:
            assert "42 euros" not in (call.result or "")
    for request in server.chat_requests():
        assert "42 euros" not in str(request["messages"])


async def test_citations_and_passages_are_encrypted_at_rest(
    db: AsyncSession, alice: User, runs: ChatRuns, handbook: str
) -> None:
    conversation_id = await documents_chat(db, alice)
    await ask(runs, alice, conversation_id, QUESTION)
    for table in ("messages", "tool_calls"):
        rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()
        dump = str(rows)
        assert "42 euros" not in dump and "handbook.pdf" not in dump


async def test_a_conversation_searches_only_its_collections(
    db: AsyncSession,
    alice: User,
    bob: User,
    runs: ChatRuns,
    files: FileStore,
    worker: IngestionWorker,
    handbook: str,
) -> None:
    other = await library.upload(
        db,
        alice,
        files,
        "spain.md",
        b"# Spain office\n\nThe daily meal allowance on business trips in Spain is 35 euros.\n",
        max_bytes=10**7,
    )
    await worker.run_until_idle()
    spain = await collections.create_collection(db, alice, "Spain")
    await collections.add_documents(db, alice, uuid.UUID(spain.id), [uuid.UUID(other.document.id)])

    conversation_id = await documents_chat(db, alice)
    await chat.set_collections(db, alice, conversation_id, [uuid.UUID(spain.id)])
    await ask(runs, alice, conversation_id, QUESTION)
    answer = (await messages(alice, conversation_id))[-1]
    assert {c.document_id for c in answer.citations} == {other.document.id}
    assert "35 euros" in answer.content and "42 euros" not in answer.content

    await chat.set_collections(db, alice, conversation_id, [])  # everywhere again
    await ask(runs, alice, conversation_id, QUESTION)
    cited = {c.document_id for c in (await messages(alice, conversation_id))[-1].citations}
    assert handbook in cited

    # A collection someone else cannot use cannot be chosen by them.
    bobs_chat = await documents_chat(db, bob)
    with pytest.raises(NotFound):
        await chat.set_collections(db, bob, bobs_chat, [uuid.UUID(spain.id)])
