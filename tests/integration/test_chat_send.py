"""The chat page's send: the question shows before it is saved, and is taken back when refused.

`ChatState.send` is driven as Reflex drives it (an async generator: every step's changes go to the
browser); real database, real `ChatRuns`, the Ollama-protocol test server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from reflex.event import EventSpec
from reflex.istate.data import RouterData
from reflex.state import State
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.integration.test_chat_runs import backend, finished, runs, server
from tests.integration.test_rate_limits import install
from youworker.db import session_scope
from youworker.models import Conversation, Message, User
from youworker.services import chat, sessions
from youworker.services.chat.runs import BUSY, ChatRuns
from youworker.services.errors import NotFound
from youworker.services.llm.base import LLMBackend
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import get_settings
from youworker.state.chat import ChatState, conversations, following, thread

__all__ = ["backend", "runs", "server"]  # fixtures used here

QUESTION = "How far is the Moon?"


def answers_from(runs: ChatRuns, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat page starts, follows and stops the test's answers."""
    for module in (conversations, following, thread):
        monkeypatch.setattr(module, "get_chat_runs", lambda: runs)


@pytest.fixture
def page_runs(runs: ChatRuns, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatRuns]:
    answers_from(runs, monkeypatch)
    yield runs


async def signed_in_cookie(db: AsyncSession, user: User) -> str:
    ttl = get_settings().security.session_ttl
    token = await sessions.complete(db, await sessions.begin(db, user), ttl)
    assert token is not None
    return token


def chat_tab(cookie: str | None, path: str = "/chat") -> ChatState:
    """The chat page's state as its handlers see a browser on `path` with `cookie`."""
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    headers = {"origin": "http://testserver"}
    if cookie is not None:
        headers["cookie"] = f"{sessions.COOKIE_NAME}={cookie}"
    root.router = RouterData.from_router_data({"headers": headers, "pathname": path})
    return cast(ChatState, root.get_substate(ChatState.get_full_name().split(".")[1:]))


def send(tab: ChatState, text: str) -> AsyncIterator[Any]:
    return cast(AsyncIterator[Any], ChatState.event_handlers["send"].fn(tab, {"message": text}))


async def rest(steps: AsyncIterator[Any]) -> list[Any]:
    return [step async for step in steps]


def composer_set_to(step: Any) -> str | None:
    """The text a step puts in the composer, None if it does not touch it (the composer keeps
    what the person typed until their message is accepted, and gets it back if it is not)."""
    events = step if isinstance(step, list) else [step]
    for event in events:
        if isinstance(event, EventSpec):
            args = {str(name): getattr(value, "_var_value", None) for name, value in event.args}
            if args.get("ref") == "ref_composer":
                return str(args.get("value"))
    return None


async def saved_messages(conversation_id: uuid.UUID) -> int:
    async with session_scope() as fresh:
        count = await fresh.scalar(
            select(func.count())
            .select_from(Message)
            .where(col(Message.conversation_id) == conversation_id)
        )
    return int(count or 0)


async def conversation_exists(conversation_id: uuid.UUID) -> bool:
    async with session_scope() as fresh:
        return await fresh.get(Conversation, conversation_id) is not None


async def test_a_new_chat_shows_its_question_and_row_before_saving_them(
    db: AsyncSession, alice: User, page_runs: ChatRuns
) -> None:
    tab = chat_tab(await signed_in_cookie(db, alice))
    steps = send(tab, QUESTION)

    # This update goes to the browser now, and the composer empties.
    assert composer_set_to(await anext(steps)) == ""
    shown = uuid.UUID(tab.current_id)
    assert [m.raw for m in tab.pending_messages] == [QUESTION] and tab.streaming
    assert [c.id for c in tab.conversations] == [str(shown)]
    assert tab.current_title == QUESTION
    assert not await conversation_exists(shown)  # nothing is saved yet

    (follow,) = await rest(steps)  # the address, and a follower of the answer
    assert f"'/chat/{shown}'" in str(follow) and "watch" in str(follow)
    assert await conversation_exists(shown) and await saved_messages(shown) == 2
    snapshot = await finished(page_runs, shown)
    assert snapshot.status == "complete" and snapshot.text


async def test_a_follow_up_question_shows_before_it_is_saved(
    db: AsyncSession, alice: User, page_runs: ChatRuns
) -> None:
    tab = chat_tab(await signed_in_cookie(db, alice))
    await rest(send(tab, "Hello"))
    conversation_id = uuid.UUID(tab.current_id)
    await finished(page_runs, conversation_id)
    tab.streaming = False  # the follower saw the end (`watch` is not running in this test)

    steps = send(tab, QUESTION)
    assert composer_set_to(await anext(steps)) == ""
    assert [m.raw for m in tab.pending_messages] == [QUESTION] and tab.streaming
    assert await saved_messages(conversation_id) == 2  # the first question and its answer
    await rest(steps)
    assert await saved_messages(conversation_id) == 4
    assert tab.composer_error == "" and tab.streaming


async def test_a_refused_question_is_taken_back_and_the_new_chat_stays(
    db: AsyncSession, alice: User, page_runs: ChatRuns
) -> None:
    install(messages_per_user="1/minute")
    tab = chat_tab(await signed_in_cookie(db, alice))
    await rest(send(tab, "Hello"))
    await finished(page_runs, uuid.UUID(tab.current_id))
    tab.streaming = False
    tab.current_id = ""  # "New chat"

    steps = send(tab, QUESTION)
    assert composer_set_to(await anext(steps)) == ""
    created = uuid.UUID(tab.current_id)
    (taken_back,) = await rest(steps)
    assert composer_set_to(taken_back) == QUESTION  # the text goes back, to send again later

    assert tab.composer_error.startswith("You are sending messages too fast.")
    assert tab.pending_messages == [] and not tab.streaming
    # As before the question showed early: the conversation was saved (empty) and stays listed.
    assert tab.current_id == str(created) and tab.conversations[0].id == str(created)
    assert await conversation_exists(created) and await saved_messages(created) == 0


async def test_a_second_enter_while_answering_keeps_the_answer_shown(
    db: AsyncSession, alice: User, page_runs: ChatRuns
) -> None:
    tab = chat_tab(await signed_in_cookie(db, alice))
    tab.current_model = "test-slow"  # an answer that outlasts the test
    await rest(send(tab, QUESTION))
    conversation_id = uuid.UUID(tab.current_id)

    # Nothing shown before the refusal, and the composer keeps the text.
    assert await rest(send(tab, "And the Sun?")) == [None]
    assert tab.composer_error == BUSY
    assert [m.raw for m in tab.pending_messages] == [QUESTION] and tab.streaming
    assert await saved_messages(conversation_id) == 2
    assert page_runs.is_running(conversation_id)


async def test_a_signed_out_tab_is_sent_to_sign_in_with_nothing_left_shown(
    db: AsyncSession, alice: User, page_runs: ChatRuns
) -> None:
    tab = chat_tab(cookie=None)
    steps = send(tab, QUESTION)
    # Only its own text, before the session is checked.
    assert composer_set_to(await anext(steps)) == ""
    shown = uuid.UUID(tab.current_id)

    (redirect,) = await rest(steps)
    assert "/login" in str(redirect)
    assert tab.pending_messages == [] and not tab.streaming
    assert tab.current_id == "" and tab.conversations == []
    assert not await conversation_exists(shown)


async def test_a_failure_after_the_question_showed_takes_it_back(
    db: AsyncSession, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_backend() -> tuple[LLMBackend, str]:
        raise RuntimeError("no model backend")

    broken = ChatRuns(no_backend, ToolRegistry())
    answers_from(broken, monkeypatch)
    tab = chat_tab(await signed_in_cookie(db, alice))
    steps = send(tab, QUESTION)
    assert composer_set_to(await anext(steps)) == ""
    created = uuid.UUID(tab.current_id)

    # The taking back goes to the browser too, with the text back in the composer.
    assert composer_set_to(await anext(steps)) == QUESTION
    with pytest.raises(RuntimeError, match="no model backend"):
        await anext(steps)
    assert tab.pending_messages == [] and not tab.streaming
    # The conversation was saved before the failure, so it stays listed.
    assert tab.current_id == str(created) and await conversation_exists(created)
    assert await saved_messages(created) == 0


async def test_start_with_the_callers_copy_checks_the_owner(
    db: AsyncSession, alice: User, bob: User, runs: ChatRuns
) -> None:
    conversation = await chat.create_conversation(db, alice)
    with pytest.raises(NotFound):
        await runs.start(bob, conversation.id, "mine now?", conversation=conversation)
    with pytest.raises(NotFound):
        await runs.start(alice, uuid.uuid4(), "another id", conversation=conversation)
    assert await saved_messages(conversation.id) == 0

    await runs.start(alice, conversation.id, QUESTION, conversation=conversation)
    await finished(runs, conversation.id)
    async with session_scope() as fresh:
        stored = await fresh.get(Conversation, conversation.id)
    assert stored is not None and chat.title_of(stored) == QUESTION  # titled by its first message
    assert await saved_messages(conversation.id) == 2


async def test_a_new_conversation_is_saved_with_its_switches_in_one_go(
    db: AsyncSession, alice: User
) -> None:
    chosen = uuid.uuid4()
    await chat.create_conversation(
        db,
        alice,
        conversation_id=chosen,
        disabled_tools=["calculator", "current_datetime", "calculator"],
        use_documents=True,
    )
    async with session_scope() as fresh:
        stored = await fresh.get(Conversation, chosen)
    assert stored is not None and stored.owner_id == alice.id
    assert stored.disabled_tools == ["calculator", "current_datetime"]
    assert stored.use_documents
