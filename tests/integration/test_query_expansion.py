"""Query expansion: the chat model's rewordings find the page the asker's words miss.

The real built-in embedder and embedded vector store; the model is the Ollama test server's
`test-scripted`, which answers with the wordings a real model would write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_documents import context, files, store, upload, worker
from tests.ollama_server import OllamaTestServer, ServerConfig
from youworker.models import User
from youworker.services.documents import query_expansion
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.query_expansion import INSTRUCTION, expand_query
from youworker.services.documents.retrieval import search_passages
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.llm.ollama import OllamaBackend

__all__ = ["context", "files", "store", "worker"]  # fixtures used here

QUESTION = "My report has been spinning for an hour, how do I make it quit?"
SIGNALS = (
    "# Server signaling functions\n\n"
    "pg_cancel_backend(pid) cancels the current query of the backend process with that "
    "process ID. pg_terminate_backend(pid) terminates the session whose backend has it.\n"
)
DISTRACTORS = {
    "reports.md": "# Monthly reports\n\nThe finance team sends the monthly report in the "
    "first week. It has been late for an hour twice this year.\n",
    "travel.md": "# Travel\n\nThe daily meal allowance on business trips is 42 euros.\n",
    "parking.md": "# Parking\n\nStaff park in the north car park; spinning classes are on "
    "Tuesdays in the gym next to it.\n",
}


@pytest.fixture
def server() -> Iterator[OllamaTestServer]:
    config = ServerConfig(slow_tokens=10_000, tokens_per_second=20)
    with OllamaTestServer(config=config) as srv:
        yield srv


@pytest.fixture
async def backend(server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    query_expansion._cache.clear()
    llm = OllamaBackend(server.url, timeout=30)
    yield llm
    await llm.aclose()


def test_the_model_reply_becomes_distinct_queries() -> None:
    reply = (
        "1. pg_cancel_backend cancel running query\n"
        '- "terminate backend session"\n'
        "\n"
        "Query 3: pg_cancel_backend cancel running query\n"
        "* my report has been spinning for an hour, how do I make it quit\n"
        f"{'x' * 300}\n"
        "4. cancel query\n"
        "5. fifth\n"
    )
    assert query_expansion.parse_expansions(reply, QUESTION) == [
        "pg_cancel_backend cancel running query",
        "terminate backend session",
        "cancel query",
    ]
    assert query_expansion.parse_expansions("", QUESTION) == []


async def test_the_chat_model_is_asked_and_a_failure_costs_nothing(
    server: OllamaTestServer, backend: OllamaBackend
) -> None:
    server.script_reply("pg_cancel_backend cancel query\nterminate backend session")
    wordings = await expand_query(backend, "test-scripted", QUESTION, timeout_s=30)
    assert wordings == ["pg_cancel_backend cancel query", "terminate backend session"]
    asked = server.chat_requests()[-1]["messages"]
    assert [m["role"] for m in asked] == ["system", "user"]
    assert asked[0]["content"] == INSTRUCTION and asked[1]["content"] == QUESTION
    # The same question again is answered from memory, not by the model.
    assert await expand_query(backend, "test-scripted", QUESTION, timeout_s=30) == wordings
    assert len(server.chat_requests()) == 1

    assert await expand_query(backend, "test-500", QUESTION, timeout_s=30) == []
    assert await expand_query(backend, "no-such-model", QUESTION, timeout_s=30) == []
    # test-slow would stream for minutes: the timeout gives up and the search goes on alone.
    assert await expand_query(backend, "test-slow", "another question", timeout_s=0.5) == []


async def test_a_reworded_question_finds_the_page_its_words_miss(
    db: AsyncSession,
    alice: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    await upload(db, alice, files, "signals.md", SIGNALS.encode())
    for name, text in DISTRACTORS.items():
        await upload(db, alice, files, name, text.encode())
    await worker.run_until_idle()

    async def first(expansions: list[str]) -> list[str]:
        passages = await search_passages(
            db,
            alice,
            QUESTION,
            store=store,
            embedder=get_onnx_embedder(),
            limit=2,
            expansions=expansions,
        )
        return [p.document_name for p in passages]

    alone = await first([])
    reworded = await first(["pg_cancel_backend cancel running query", "terminate backend session"])
    assert "signals.md" not in alone
    assert reworded[0] == "signals.md"
    # A wording about nothing in the documents is left out, not fused in.
    assert await first(["zebra migration on the savanna"]) == alone
