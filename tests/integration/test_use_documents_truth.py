""" "Use my documents" tells the truth: with nothing to cite the answer says it has no source.

Real ingestion (ONNX embedder, embedded Qdrant), the real `ollama` client against the test
server's "test-rag" model, which quotes passage [1] of whatever passages it is given.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.test_chat_runs import ask, backend, messages, server
from tests.integration.test_documents import context, files, store, worker
from tests.integration.test_documents_in_chat import QUESTION, documents_chat, handbook
from tests.ollama_server import OllamaTestServer
from youworker.db import session_scope
from youworker.models import User
from youworker.services import chat
from youworker.services.chat import documents as chat_documents
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents import library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.retrieval import Passage, search_passages
from youworker.services.documents.search_tool import SEARCH_TOOL_NAME, search_documents_tool
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.errors import Unavailable
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

__all__ = ["backend", "context", "files", "handbook", "server", "store", "worker"]


@pytest.fixture
def registry(store: EdgeVectorStore) -> ToolRegistry:
    """The real search tool over the test's vector store, as the app registers it."""

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

    tools = ToolRegistry()
    tools.register(search_documents_tool(searcher))
    return tools


@pytest.fixture
async def runs(
    engine: object, backend: OllamaBackend, registry: ToolRegistry
) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-rag"

    chat_runs = ChatRuns(resolve, registry)
    yield chat_runs
    await chat_runs.shutdown()


def system_messages(server: OllamaTestServer) -> list[str]:
    request = server.chat_requests()[-1]
    return [m["content"] for m in request["messages"] if m["role"] == "system"]


def offered(server: OllamaTestServer) -> list[str]:
    return [t["function"]["name"] for t in server.chat_requests()[-1].get("tools") or []]


async def test_the_switch_retrieves_even_when_the_agent_tool_is_off_in_the_conversation(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer, handbook: str
) -> None:
    conversation_id = await documents_chat(db, alice)
    await chat.set_disabled_tools(db, alice, conversation_id, [SEARCH_TOOL_NAME])
    snapshot = await ask(runs, alice, conversation_id, QUESTION)
    assert SEARCH_TOOL_NAME not in offered(server)  # the model is not offered the tool...
    assert "42 euros" in snapshot.text and "[1]" in snapshot.text  # ...the switch still searched
    answer = (await messages(alice, conversation_id))[-1]
    assert [c.document_id for c in answer.citations][:1] == [handbook]
    assert not answer.content.startswith("*No source")


async def test_with_no_documents_the_answer_says_it_has_no_source(
    db: AsyncSession, bob: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    conversation_id = await documents_chat(db, bob)
    await ask(runs, bob, conversation_id, QUESTION)
    answer = (await messages(bob, conversation_id))[-1]
    assert answer.status == "complete"
    assert answer.content.startswith(chat_documents.notice_markdown(chat_documents.NO_DOCUMENTS))
    assert answer.citations == []
    assert any("Do not cite sources" in text for text in system_messages(server))


async def test_documents_with_no_indexed_passage_are_no_match_not_no_documents(
    db: AsyncSession, alice: User, runs: ChatRuns, files: FileStore, server: OllamaTestServer
) -> None:
    # Uploaded, not indexed yet (no worker ran): the person has a document, nothing matches.
    await library.upload(
        db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]), max_bytes=10**7
    )
    conversation_id = await documents_chat(db, alice)
    await ask(runs, alice, conversation_id, QUESTION)
    answer = (await messages(alice, conversation_id))[-1]
    assert answer.content.startswith(chat_documents.notice_markdown(chat_documents.NO_MATCH))
    assert answer.citations == []


async def test_a_question_no_passage_is_about_is_no_match(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer, handbook: str
) -> None:
    # The handbook is indexed, but nothing in it is about this: no passage is offered or cited.
    conversation_id = await documents_chat(db, alice)
    await ask(runs, alice, conversation_id, "Who won the football world cup in 2018?")
    answer = (await messages(alice, conversation_id))[-1]
    assert answer.content.startswith(chat_documents.notice_markdown(chat_documents.NO_MATCH))
    assert answer.citations == []
    assert "42 euros" not in str(server.chat_requests()[-1]["messages"])


async def test_search_switched_off_by_an_admin_says_so(
    db: AsyncSession,
    alice: User,
    runs: ChatRuns,
    registry: ToolRegistry,
    server: OllamaTestServer,
    handbook: str,
) -> None:
    registry.apply_settings({SEARCH_TOOL_NAME: False})
    conversation_id = await documents_chat(db, alice)
    await ask(runs, alice, conversation_id, QUESTION)
    answer = (await messages(alice, conversation_id))[-1]
    assert answer.content.startswith(chat_documents.notice_markdown(chat_documents.SEARCH_OFF))
    assert "42 euros" not in answer.content and answer.citations == []
    assert "42 euros" not in str(server.chat_requests()[-1]["messages"])


@pytest.fixture
async def failing_runs(engine: object, backend: OllamaBackend) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-rag"

    async def searcher(
        user_id: str, query: str, limit: int, collection_ids: tuple[str, ...] = ()
    ) -> list[Passage]:
        raise Unavailable("the vector store is not reachable")

    registry = ToolRegistry()
    registry.register(search_documents_tool(searcher))
    chat_runs = ChatRuns(resolve, registry)
    yield chat_runs
    await chat_runs.shutdown()


async def test_a_failed_search_says_why_and_the_card_shows_the_error(
    db: AsyncSession, alice: User, failing_runs: ChatRuns
) -> None:
    conversation_id = await documents_chat(db, alice)
    await ask(failing_runs, alice, conversation_id, QUESTION)
    answer = (await messages(alice, conversation_id))[-1]
    expected = chat_documents.SEARCH_FAILED.format(reason="the vector store is not reachable")
    assert answer.content.startswith(chat_documents.notice_markdown(expected))
    first = answer.tool_calls[0]  # the switch's search (the model may try the tool itself too)
    assert (first.name, first.ok) == (SEARCH_TOOL_NAME, False)
    assert first.error == "the vector store is not reachable"


async def test_the_switch_off_adds_no_note(
    db: AsyncSession, bob: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    conversation_id = (await chat.create_conversation(db, bob, model="test-rag")).id
    await ask(runs, bob, conversation_id, QUESTION)
    answer = (await messages(bob, conversation_id))[-1]
    assert "No source" not in answer.content
