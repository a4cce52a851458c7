"""Conversations and messages through the chat service, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import session_scope
from youworker.models import Conversation, Message, MessageStatus, ToolCall, User
from youworker.models.base import utcnow
from youworker.models.chat import TITLE_MAX
from youworker.services import chat
from youworker.services.chat import ConversationCursor
from youworker.services.chat.display import TITLE_FROM_MESSAGE
from youworker.services.encryption import get_cipher
from youworker.services.errors import NotFound, ValidationFailed
from youworker.settings import get_settings


async def message_count(conversation_id: uuid.UUID) -> int:
    """Counted in a fresh session, so nothing cached in the test's session can hide a row."""
    async with session_scope() as fresh:
        statement = select(func.count()).where(col(Message.conversation_id) == conversation_id)
        return int((await fresh.execute(statement)).scalar_one())


async def tool_call_count(conversation_id: uuid.UUID) -> int:
    async with session_scope() as fresh:
        statement = (
            select(func.count())
            .select_from(ToolCall)
            .join(Message, col(Message.id) == col(ToolCall.message_id))
            .where(col(Message.conversation_id) == conversation_id)
        )
        return int((await fresh.execute(statement)).scalar_one())


async def add_answer(
    db: AsyncSession, conversation: Conversation, text: str, tools: int = 0
) -> Message:
    """An assistant answer with `tools` tool calls, written the way ChatRuns saves one."""
    cipher = get_cipher()
    answer = Message(
        conversation_id=conversation.id,
        role="assistant",
        content_enc=cipher.encrypt(text),
        status=MessageStatus.COMPLETE,
        model="test-plain",
        completed_at=utcnow(),
    )
    db.add(answer)
    await db.flush()
    for step in range(tools):
        db.add(
            ToolCall(
                message_id=answer.id,
                step=step,
                name="calculator",
                arguments_enc=cipher.encrypt('{"expression": "6*7"}'),
                result_enc=cipher.encrypt("42"),
            )
        )
    await db.commit()
    return answer


# --- listing, paging and search ---------------------------------------------------------------


async def test_list_is_newest_first_with_keyset_pages(db: AsyncSession, alice: User) -> None:
    created = [await chat.create_conversation(db, alice, title=f"Chat {i}") for i in range(7)]
    expected = [c.id for c in reversed(created)]

    seen: list[uuid.UUID] = []
    pages: list[list[uuid.UUID]] = []
    cursor: ConversationCursor | None = None
    while True:
        page = await chat.list_conversations(db, alice, after=cursor, limit=3)
        pages.append([c.id for c in page.items])
        seen.extend(c.id for c in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert [len(p) for p in pages] == [3, 3, 1]
    assert seen == expected  # newest first, nothing missing, nothing twice
    assert len(set(seen)) == 7


async def test_list_pages_exactly_full_end_without_a_cursor(db: AsyncSession, alice: User) -> None:
    for i in range(6):
        await chat.create_conversation(db, alice, title=f"Chat {i}")
    first = await chat.list_conversations(db, alice, limit=3)
    assert first.next_cursor is not None
    second = await chat.list_conversations(db, alice, after=first.next_cursor, limit=3)
    assert len(second.items) == 3 and second.next_cursor is None


async def test_a_new_message_moves_the_conversation_to_the_top(
    db: AsyncSession, alice: User
) -> None:
    older = await chat.create_conversation(db, alice, title="Older")
    newer = await chat.create_conversation(db, alice, title="Newer")
    assert [c.id for c in (await chat.list_conversations(db, alice)).items] == [newer.id, older.id]
    await chat.add_user_message(db, alice, older.id, "bump")
    assert [c.id for c in (await chat.list_conversations(db, alice)).items] == [older.id, newer.id]


async def test_search_by_title_is_case_insensitive_and_literal(
    db: AsyncSession, alice: User, bob: User
) -> None:
    titles = ["Alpha plan", "ALPHA beta", "100% done", "100 percent", "under_score", "underXscore"]
    ids = {title: (await chat.create_conversation(db, alice, title=title)).id for title in titles}
    await chat.create_conversation(db, bob, title="alpha of bob")

    async def search(query: str) -> set[str]:
        page = await chat.list_conversations(db, alice, query=query)
        return {chat.title_of(c) for c in page.items}

    assert await search("alpha") == {"Alpha plan", "ALPHA beta"}
    assert await search("  BETA ") == {"ALPHA beta"}
    assert await search("%") == {"100% done"}
    assert await search("100%") == {"100% done"}
    assert await search("_") == {"under_score"}
    assert await search("under_s") == {"under_score"}
    assert await search("nothing like it") == set()
    assert await search("") == set(titles)
    assert set(ids) == set(titles)


# --- titles, renaming, deleting ---------------------------------------------------------------


async def test_title_comes_from_the_first_user_message(db: AsyncSession, alice: User) -> None:
    short = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, short.id, "  What is   the capital\nof Italy? ")
    await chat.add_user_message(db, alice, short.id, "And of France?")
    assert (
        chat.title_of(await chat.get_owned(db, alice, short.id)) == "What is the capital of Italy?"
    )

    long_text = "word " * 40  # 200 characters, well over the 50 a title takes
    long = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, long.id, long_text)
    title = chat.title_of(await chat.get_owned(db, alice, long.id))
    assert title.endswith("…") and len(title) <= TITLE_FROM_MESSAGE
    assert title == "word " * 9 + "word…"  # cut between words

    fenced = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, fenced.id, "## Why does **this** fail?\n```py\nx()\n```")
    assert chat.title_of(await chat.get_owned(db, alice, fenced.id)) == "Why does this fail? x()"

    named = await chat.create_conversation(db, alice, title="Chosen by hand")
    await chat.add_user_message(db, alice, named.id, "This must not rename it")
    assert chat.title_of(await chat.get_owned(db, alice, named.id)) == "Chosen by hand"

    # "New chat" is a name like any other: a conversation renamed so keeps it.
    renamed = await chat.create_conversation(db, alice)
    await chat.rename(db, alice, renamed.id, "New chat")
    await chat.add_user_message(db, alice, renamed.id, "This must not rename it either")
    assert chat.title_of(await chat.get_owned(db, alice, renamed.id)) == "New chat"


async def test_rename_validates_the_title(db: AsyncSession, alice: User) -> None:
    conversation = await chat.create_conversation(db, alice, title="Before")
    for bad in ("", "   \n\t "):
        with pytest.raises(ValidationFailed) as empty:
            await chat.rename(db, alice, conversation.id, bad)
        assert set(empty.value.fields) == {"title"}
    with pytest.raises(ValidationFailed) as too_long:
        await chat.rename(db, alice, conversation.id, "x" * (TITLE_MAX + 1))
    assert set(too_long.value.fields) == {"title"}
    assert chat.title_of(await chat.get_owned(db, alice, conversation.id)) == "Before"

    renamed = await chat.rename(db, alice, conversation.id, "  After   all \n")
    assert chat.title_of(renamed) == "After all"
    longest = await chat.rename(db, alice, conversation.id, "y" * TITLE_MAX)
    assert chat.title_of(longest) == "y" * TITLE_MAX
    async with session_scope() as fresh:
        stored = await fresh.get(Conversation, conversation.id)
        assert stored is not None and chat.title_of(stored) == "y" * TITLE_MAX


async def test_delete_removes_messages_and_tool_calls(db: AsyncSession, alice: User) -> None:
    doomed = await chat.create_conversation(db, alice)
    kept = await chat.create_conversation(db, alice)
    for conversation in (doomed, kept):
        await chat.add_user_message(db, alice, conversation.id, "Compute 6*7 twice")
        await add_answer(db, conversation, "The result is 42.", tools=2)
    assert await message_count(doomed.id) == 2 and await tool_call_count(doomed.id) == 2

    await chat.delete_conversation(db, alice, doomed.id)

    assert await message_count(doomed.id) == 0
    assert await tool_call_count(doomed.id) == 0
    async with session_scope() as fresh:
        assert await fresh.get(Conversation, doomed.id) is None
    with pytest.raises(NotFound):
        await chat.get_owned(db, alice, doomed.id)
    assert await message_count(kept.id) == 2 and await tool_call_count(kept.id) == 2
    assert [c.id for c in (await chat.list_conversations(db, alice)).items] == [kept.id]


# --- messages ---------------------------------------------------------------------------------


async def test_messages_load_latest_first_page_then_older(db: AsyncSession, alice: User) -> None:
    conversation = await chat.create_conversation(db, alice)
    texts = [f"message {i}" for i in range(7)]
    for text in texts:
        await chat.add_user_message(db, alice, conversation.id, text)

    latest = await chat.list_messages(db, alice, conversation.id, limit=3)
    assert [m.content for m in latest.messages] == texts[4:]  # oldest first
    assert latest.has_more

    older = await chat.list_messages(
        db, alice, conversation.id, before=uuid.UUID(latest.messages[0].id), limit=3
    )
    assert [m.content for m in older.messages] == texts[1:4]
    assert older.has_more

    oldest = await chat.list_messages(
        db, alice, conversation.id, before=uuid.UUID(older.messages[0].id), limit=3
    )
    assert [m.content for m in oldest.messages] == texts[:1]
    assert not oldest.has_more

    everything = await chat.list_messages(db, alice, conversation.id, limit=7)
    assert [m.content for m in everything.messages] == texts and not everything.has_more


async def test_messages_are_decrypted_with_their_tool_calls(db: AsyncSession, alice: User) -> None:
    conversation = await chat.create_conversation(db, alice)
    question = await chat.add_user_message(db, alice, conversation.id, "What is 6*7?")
    answer = await add_answer(db, conversation, "The result is 42.", tools=1)

    page = await chat.list_messages(db, alice, conversation.id)
    assert [(m.role, m.content, m.status) for m in page.messages] == [
        ("user", "What is 6*7?", "complete"),
        ("assistant", "The result is 42.", "complete"),
    ]
    (call,) = page.messages[1].tool_calls
    assert (call.name, call.arguments, call.result, call.ok) == (
        "calculator",
        '{"expression": "6*7"}',
        "42",
        True,
    )
    view = await chat.get_message(db, alice, answer.id)
    assert view.content == "The result is 42." and view.tool_calls == [call]
    assert (await chat.get_message(db, alice, question.id)).content == "What is 6*7?"


async def test_before_must_be_a_message_of_the_same_conversation(
    db: AsyncSession, alice: User
) -> None:
    first = await chat.create_conversation(db, alice)
    second = await chat.create_conversation(db, alice)
    foreign = await chat.add_user_message(db, alice, second.id, "elsewhere")
    with pytest.raises(NotFound):
        await chat.list_messages(db, alice, first.id, before=foreign.id)
    with pytest.raises(NotFound):
        await chat.list_messages(db, alice, first.id, before=uuid.uuid4())


async def test_remove_last_answer_only_removes_a_finished_answer(
    db: AsyncSession, alice: User
) -> None:
    conversation = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, conversation.id, "Question")
    assert not await chat.remove_last_answer(db, alice, conversation.id)  # last is the question
    await add_answer(db, conversation, "Answer", tools=1)
    assert await chat.remove_last_answer(db, alice, conversation.id)
    assert await message_count(conversation.id) == 1
    assert await tool_call_count(conversation.id) == 0
    page = await chat.list_messages(db, alice, conversation.id)
    assert [m.content for m in page.messages] == ["Question"]


@pytest.fixture
def small_message_limit() -> Iterator[int]:
    """CHAT__MAX_MESSAGE_CHARS=100 for one test (settings are cached, so the cache is reset)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHAT__MAX_MESSAGE_CHARS", "100")
        get_settings.cache_clear()
        yield get_settings().chat.max_message_chars
    get_settings.cache_clear()


async def test_message_length_is_validated_and_nothing_is_saved(
    db: AsyncSession, alice: User, small_message_limit: int
) -> None:
    assert small_message_limit == 100
    conversation = await chat.create_conversation(db, alice)
    for bad in ("", "   \n ", "x" * (small_message_limit + 1)):
        with pytest.raises(ValidationFailed) as rejected:
            await chat.add_user_message(db, alice, conversation.id, bad)
        assert set(rejected.value.fields) == {"message"}
    assert "100" in rejected.value.fields["message"]
    assert await message_count(conversation.id) == 0
    assert chat.title_of(await chat.get_owned(db, alice, conversation.id)) == "New chat"

    await chat.add_user_message(db, alice, conversation.id, "y" * small_message_limit)
    assert await message_count(conversation.id) == 1


async def test_default_message_limit_applies(db: AsyncSession, alice: User) -> None:
    limit = get_settings().chat.max_message_chars
    conversation = await chat.create_conversation(db, alice)
    with pytest.raises(ValidationFailed) as rejected:
        await chat.add_user_message(db, alice, conversation.id, "z" * (limit + 1))
    assert set(rejected.value.fields) == {"message"}
    assert await message_count(conversation.id) == 0


# --- ownership --------------------------------------------------------------------------------


async def test_another_user_gets_not_found_everywhere(
    db: AsyncSession, alice: User, bob: User
) -> None:
    conversation = await chat.create_conversation(db, alice, model="test-plain", title="Private")
    question = await chat.add_user_message(db, alice, conversation.id, "Alice's secret")
    answer = await add_answer(db, conversation, "Alice's answer", tools=1)
    cid = conversation.id

    with pytest.raises(NotFound):
        await chat.get_owned(db, bob, cid)
    with pytest.raises(NotFound):
        await chat.rename(db, bob, cid, "Taken over")
    with pytest.raises(NotFound):
        await chat.list_messages(db, bob, cid)
    with pytest.raises(NotFound):
        await chat.list_messages(db, bob, cid, before=answer.id)
    with pytest.raises(NotFound):
        await chat.add_user_message(db, bob, cid, "Bob was here")
    with pytest.raises(NotFound):
        await chat.set_model(db, bob, cid, "other-model")
    with pytest.raises(NotFound):
        await chat.set_disabled_tools(db, bob, cid, ["calculator"])
    with pytest.raises(NotFound):
        await chat.remove_last_answer(db, bob, cid)
    for message_id in (question.id, answer.id):
        with pytest.raises(NotFound):
            await chat.get_message(db, bob, message_id)
    with pytest.raises(NotFound):
        await chat.delete_conversation(db, bob, cid)
    assert (await chat.list_conversations(db, bob, query="Private")).items == []

    # Nothing of Alice's changed.
    async with session_scope() as fresh:
        stored = await fresh.get(Conversation, cid)
        assert stored is not None
        assert (chat.title_of(stored), stored.model, stored.disabled_tools) == (
            "Private",
            "test-plain",
            [],
        )
    page = await chat.list_messages(db, alice, cid)
    assert [m.content for m in page.messages] == ["Alice's secret", "Alice's answer"]
    assert len(page.messages[1].tool_calls) == 1


async def test_unknown_ids_read_as_not_found(db: AsyncSession, alice: User) -> None:
    with pytest.raises(NotFound):
        await chat.get_owned(db, alice, uuid.uuid4())
    with pytest.raises(NotFound):
        await chat.get_message(db, alice, uuid.uuid4())


async def test_model_and_disabled_tools_are_saved(db: AsyncSession, alice: User) -> None:
    conversation = await chat.create_conversation(db, alice)
    await chat.set_model(db, alice, conversation.id, "test-tool")
    await chat.set_disabled_tools(db, alice, conversation.id, ["calculator", "b", "calculator"])
    with pytest.raises(ValidationFailed) as too_long:
        await chat.set_model(db, alice, conversation.id, "m" * 201)
    assert set(too_long.value.fields) == {"model"}
    async with session_scope() as fresh:
        stored = await fresh.get(Conversation, conversation.id)
        assert stored is not None
        assert stored.model == "test-tool"
        assert stored.disabled_tools == ["b", "calculator"]
