"""/api/v1 conversations and messages, streaming real answers from the Ollama-protocol server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.api_v1_support import V1, api, assert_error, client, jwt_for, key_for
from tests.integration.test_chat_runs import backend, finished, messages, server
from tests.ollama_server import PLAIN_REPLY, OllamaTestServer
from youworker.api.v1 import providers
from youworker.models import User
from youworker.services import chat
from youworker.services.chat.runs import ChatRuns
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

__all__ = ["api", "backend", "client", "server"]  # fixtures used here

CONVERSATIONS = f"{V1}/conversations"


@pytest.fixture
async def runs(api: FastAPI, backend: OllamaBackend) -> AsyncIterator[ChatRuns]:
    """The app's answers run against the test server (as runtime.get_chat_runs does in prod)."""

    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-plain"

    chat_runs = ChatRuns(resolve, ToolRegistry())
    api.dependency_overrides[providers.chat_runs] = lambda: chat_runs
    yield chat_runs
    await chat_runs.shutdown()


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> str:
    response = await client.post(CONVERSATIONS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each server-sent event; comments (keep-alives) are skipped."""
    events = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        events.append((name, json.loads(data)))
    return events


# --- conversations -----------------------------------------------------------------------------


async def test_create_list_get_rename_delete(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    headers = await key_for(db, alice)
    first = await create(client, headers, title="Quarterly plan", model="test-plain")
    second = await create(client, headers)

    listed = (await client.get(CONVERSATIONS, headers=headers)).json()
    assert [c["id"] for c in listed["items"]] == [second, first]
    assert listed["items"][1]["title"] == "Quarterly plan"
    assert listed["items"][1]["model"] == "test-plain"

    detail = await client.get(f"{CONVERSATIONS}/{first}", headers=headers)
    assert detail.status_code == 200
    assert detail.json()["messages"] == {"items": [], "has_more": False}

    renamed = await client.patch(
        f"{CONVERSATIONS}/{first}",
        json={"title": "Q3 plan", "use_documents": True},
        headers=headers,
    )
    assert renamed.status_code == 200
    assert (renamed.json()["title"], renamed.json()["use_documents"]) == ("Q3 plan", True)

    found = (await client.get(f"{CONVERSATIONS}?q=Q3", headers=headers)).json()
    assert [c["id"] for c in found["items"]] == [first]

    deleted = await client.delete(f"{CONVERSATIONS}/{first}", headers=headers)
    assert deleted.status_code == 204
    gone = await client.get(f"{CONVERSATIONS}/{first}", headers=headers)
    assert_error(gone, 404, "not_found")


async def test_list_pages_by_cursor(client: httpx.AsyncClient, alice: User) -> None:
    headers = jwt_for(alice)
    made = [await create(client, headers, title=f"chat {n}") for n in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = (await client.get(CONVERSATIONS + query, headers=headers)).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))
    bad = await client.get(f"{CONVERSATIONS}?cursor=garbage", headers=headers)
    assert_error(bad, 422, "validation_error", {"cursor"})


async def test_another_users_conversation_reads_as_not_found(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, bob: User, runs: ChatRuns
) -> None:
    conversation_id = await create(client, jwt_for(alice), title="Alice's")
    other = jwt_for(bob)
    url = f"{CONVERSATIONS}/{conversation_id}"
    for response in (
        await client.get(url, headers=other),
        await client.patch(url, json={"title": "mine now"}, headers=other),
        await client.delete(url, headers=other),
        await client.get(f"{url}/messages", headers=other),
        await client.post(f"{url}/messages", json={"content": "hi"}, headers=other),
        await client.get(f"{CONVERSATIONS}/{uuid.uuid4()}", headers=other),
    ):
        assert_error(response, 404, "not_found")
    assert (await client.get(CONVERSATIONS, headers=other)).json()["items"] == []
    assert (await client.get(url, headers=jwt_for(alice))).json()["title"] == "Alice's"
    assert await messages(alice, uuid.UUID(conversation_id)) == []


# --- sending and streaming -----------------------------------------------------------------------


async def test_ndjson_stream_with_tool_call_and_the_answer_saved(
    client: httpx.AsyncClient, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    headers = jwt_for(alice)
    conversation_id = await create(client, headers, model="test-tool")
    response = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages",
        json={"content": "What is 6*7?"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    events = ndjson(response)
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert types.index("tool_call") < types.index("tool_result") < types.index("delta")

    call = next(e for e in events if e["type"] == "tool_call")
    result = next(e for e in events if e["type"] == "tool_result")
    assert (call["name"], call["arguments"]) == ("calculator", {"expression": "6*7"})
    assert (result["id"], result["ok"], result["output"]) == (call["id"], True, "42")
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert "42" in text

    done = events[-1]["message"]
    assert done["id"] == events[0]["message_id"]
    assert (done["status"], done["content"]) == ("complete", text)
    assert done["tool_calls"][0]["name"] == "calculator"

    # Saved exactly as the browser path saves it.
    question, answer = await messages(alice, uuid.UUID(conversation_id))
    assert (question.role, question.content) == ("user", "What is 6*7?")
    assert (answer.id, answer.content, answer.status) == (done["id"], text, "complete")
    assert answer.tool_calls[0].result == "42"
    page = (await client.get(f"{CONVERSATIONS}/{conversation_id}/messages", headers=headers)).json()
    assert [m["role"] for m in page["items"]] == ["user", "assistant"]
    assert page["items"][1]["content"] == text


async def test_sse_stream_when_asked_for_event_stream(
    client: httpx.AsyncClient, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    headers = {**jwt_for(alice), "accept": "text/event-stream"}
    conversation_id = await create(client, jwt_for(alice), model="test-tool")
    response = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages",
        json={"content": "What is 6*7?"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done"
    assert {"tool_call", "tool_result", "delta"} <= set(names)
    assert all(data["type"] == name for name, data in events)
    text = "".join(data["text"] for name, data in events if name == "delta")
    _, answer = await messages(alice, uuid.UUID(conversation_id))
    assert answer.content == text and answer.status == "complete"
    assert events[-1][1]["message"]["content"] == text


async def test_plain_answer_as_json_when_asked(
    client: httpx.AsyncClient, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    headers = jwt_for(alice)
    conversation_id = await create(client, headers)
    response = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages",
        json={"content": "Hello there"},
        headers={**headers, "accept": "application/json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["role"], body["content"], body["status"]) == ("assistant", PLAIN_REPLY, "complete")
    listed = (await client.get(CONVERSATIONS, headers=headers)).json()["items"]
    assert listed[0]["title"] == "Hello there"  # titled from the first message, as in the UI


async def test_model_error_is_an_event_and_saved(
    client: httpx.AsyncClient, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    headers = jwt_for(alice)
    conversation_id = await create(client, headers, model="test-midstream-error")
    response = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages", json={"content": "go"}, headers=headers
    )
    events = ndjson(response)
    error = next(e for e in events if e["type"] == "error")
    assert error["code"] and error["message"]
    assert events[-1]["message"]["status"] == "error"
    _, answer = await messages(alice, uuid.UUID(conversation_id))
    assert answer.status == "error"


async def test_send_refusals_are_json_before_anything_streams(
    client: httpx.AsyncClient, db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    headers = jwt_for(alice)
    conversation_id = await create(client, headers, model="test-slow")
    url = f"{CONVERSATIONS}/{conversation_id}/messages"
    assert_error(
        await client.post(url, json={"content": ""}, headers=headers),
        422,
        "validation_error",
        {"content"},
    )
    blank = await client.post(url, json={"content": "   "}, headers=headers)
    assert_error(blank, 422, "validation_error", {"message"})

    # An answer still being written (started from another client) is a conflict.
    await runs.start(alice, uuid.UUID(conversation_id), "a long story please")
    busy = await client.post(url, json={"content": "and another"}, headers=headers)
    assert_error(busy, 409, "conflict")
    assert await runs.stop(alice, uuid.UUID(conversation_id))
    await finished(runs, uuid.UUID(conversation_id))
    stored = await messages(alice, uuid.UUID(conversation_id))
    assert [m.content for m in stored if m.role == "user"] == ["a long story please"]


async def test_get_conversation_pages_messages(
    client: httpx.AsyncClient, db: AsyncSession, alice: User
) -> None:
    headers = jwt_for(alice)
    conversation_id = await create(client, headers)
    for n in range(5):
        await chat.add_user_message(db, alice, uuid.UUID(conversation_id), f"message {n}")
    detail = (
        await client.get(f"{CONVERSATIONS}/{conversation_id}?limit=2", headers=headers)
    ).json()
    latest = detail["messages"]
    assert [m["content"] for m in latest["items"]] == ["message 3", "message 4"]
    assert latest["has_more"] is True
    older = (
        await client.get(
            f"{CONVERSATIONS}/{conversation_id}/messages",
            params={"before": latest["items"][0]["id"], "limit": 10},
            headers=headers,
        )
    ).json()
    assert [m["content"] for m in older["items"]] == [f"message {n}" for n in range(3)]
    assert older["has_more"] is False
