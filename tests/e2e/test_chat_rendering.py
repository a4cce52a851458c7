"""What the chat shows: tables, line breaks, plain titles, local times, a welcome, honest "no
source" answers, empty lists that say so, and citations a reader cannot open."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from tests.ollama_server import OllamaTestServer
from youworker.models import Message, MessageStatus

from .flows import new_account, open_form, register
from .test_chat import choose_model, send
from .test_documents import INGEST_TIMEOUT_MS, expect_ready, upload
from .test_sharing import app_database, in_database, make_group, switch_on

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

__all__ = ["app_database"]

TABLE_REPLY = "| City | Rain (mm) |\n|---|---|\n| Oslo | 12 |\n| Rome | 3 |"


def test_tables_look_like_tables_questions_keep_their_lines_and_titles_are_plain(
    page: Page, ollama_server: OllamaTestServer
) -> None:
    register(page, new_account("render"))
    choose_model(page, "test-scripted")
    ollama_server.script_reply(TABLE_REPLY)
    question = "# **Weather** report\nfor `Oslo`\nand Rome"
    send(page, question)

    answer = page.get_by_test_id("assistant-message")
    table = answer.locator("table")
    expect(table).to_be_visible()
    expect(table.locator("th")).to_have_text(["City", "Rain (mm)"])
    expect(table.locator("td")).to_have_count(4)
    cell = table.locator("td").first.evaluate(
        "el => { const s = getComputedStyle(el);"
        " return [s.borderTopStyle, s.borderTopWidth, s.paddingLeft]; }"
    )
    assert cell[0] == "solid" and cell[1] == "1px", cell
    assert float(cell[2].removesuffix("px")) > 4, cell

    # The question shows as typed, line breaks kept, nothing turned into markup.
    asked = page.get_by_test_id("user-message").get_by_test_id("message-content")
    assert asked.inner_text() == question
    assert page.get_by_test_id("user-message").locator("h1, code, strong").count() == 0

    title = "Weather report for Oslo and Rome"
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)
    expect(page.get_by_test_id("conversation-link").first).to_have_text(title)
    page.reload()
    expect(page.get_by_test_id("conversation-title")).to_have_text(title)


def expect_tokyo_time(shown: Locator) -> None:
    """The `<time>` holds a UTC instant and shows it as a clock in Tokyo reads it."""
    iso = shown.get_attribute("datetime") or ""
    assert iso.endswith("Z"), iso
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    expect(shown).to_have_text(moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M"))


def test_times_show_in_the_browser_time_zone(new_context: CreateContextCallback) -> None:
    page = new_context(timezone_id="Asia/Tokyo").new_page()
    register(page, new_account("tokyo"))
    send(page, "What time is it?")
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "complete")
    for message in ("user-message", "assistant-message"):
        expect_tokyo_time(
            page.get_by_test_id(message).get_by_test_id("message-time").locator("time")
        )

    # Beyond the chat too: the account page's sessions.
    open_form(page, "/account")
    session_times = page.locator("table time")
    expect(session_times.first).to_be_visible()
    for index in range(session_times.count()):
        expect_tokyo_time(session_times.nth(index))


def test_a_new_chat_welcomes_and_empty_lists_say_so(page: Page, tmp_path: Path) -> None:
    register(page, new_account("welcome"))
    welcome = page.get_by_test_id("welcome")
    expect(welcome).to_contain_text("Welcome to YouWorker")
    expect(welcome).to_contain_text("Use my documents")
    expect(page.get_by_test_id("welcome-upload")).to_contain_text("You have no documents yet")
    empty = page.get_by_test_id("conversations-empty")
    expect(empty).to_have_text("No conversations yet. Your chats will be listed here.")
    page.get_by_test_id("search-chats").fill("nothing like this anywhere")
    expect(empty).to_have_text("No conversations match your search.")

    open_form(page, "/account")
    expect(page.get_by_test_id("api-keys-empty")).to_contain_text("No keys yet")

    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nSomething worth asking about.")
    upload(page, notes)
    expect(page.get_by_test_id("upload-row")).to_have_attribute("data-state", "added")
    open_form(page, "/chat")
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(page.get_by_test_id("welcome-upload")).to_have_count(0)


def test_use_my_documents_without_documents_says_there_is_no_source(page: Page) -> None:
    register(page, new_account("nodocs"))
    choose_model(page, "test-rag")
    page.get_by_test_id("use-documents").click()
    expect(page.get_by_test_id("use-documents")).to_have_attribute("data-state", "checked")
    send(page, "What does my contract say about holidays?")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer.get_by_test_id("message-content")).to_contain_text(
        "No source: you have no documents yet"
    )
    expect(answer.get_by_test_id("citation")).to_have_count(0)


def test_a_shared_conversation_says_why_a_cited_document_does_not_open(
    page: Page, new_context: CreateContextCallback, app_database: str, tmp_path: Path
) -> None:
    alice, bob = new_account("alice"), new_account("bob")
    register(page, alice)
    bob_page = new_context().new_page()
    register(bob_page, bob)
    team = f"team-{uuid.uuid4().hex[:8]}"
    make_group(app_database, alice, bob, team)

    notes = tmp_path / "launch-notes.md"
    notes.write_text("# Launch\n\nThe launch is on the first Monday of June.")
    upload(page, notes)
    expect_ready(page, notes.name)
    open_form(page, "/chat")
    choose_model(page, "test-rag")
    page.get_by_test_id("use-documents").click()
    send(page, "When is the launch?")
    answer = page.get_by_test_id("assistant-message")
    expect(answer.get_by_test_id("citation")).to_have_count(1, timeout=INGEST_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    conversation_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.get_by_test_id("share-chat").click()
    switch_on(page, f"share-chat-group-{team}")

    # Bob reads the conversation; the document itself was never shared with him.
    open_form(bob_page, f"/shared/{conversation_id}")
    shared_answer = bob_page.get_by_test_id("assistant-message")
    expect(shared_answer).to_contain_text("first Monday of June")
    unavailable = shared_answer.get_by_test_id("citation-unavailable")
    expect(unavailable).to_contain_text("launch-notes.md")
    expect(unavailable.get_by_test_id("citation-note")).to_have_text(
        "You cannot open this document: it is not shared with a group you belong to."
    )
    expect(shared_answer.get_by_test_id("citation")).to_have_count(0)
    expect(shared_answer.locator("a[href*='/documents/']")).to_have_count(0)


def test_an_answer_cut_by_a_restart_says_interrupted_not_stopped(
    page: Page, app_database: str
) -> None:
    register(page, new_account("restart"))
    send(page, "Tell me something")
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_attribute("data-status", "complete")
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    message_id = uuid.UUID(answer.get_attribute("data-message") or "")

    async def cut_by_restart(db: AsyncSession) -> None:
        # What the startup sweep saves for an answer a dead worker left streaming.
        await db.execute(
            update(Message)
            .where(col(Message.id) == message_id)
            .values(status=MessageStatus.STOPPED, error_code="interrupted")
        )
        await db.commit()

    in_database(app_database, cut_by_restart)
    page.reload()
    expect(answer.get_by_test_id("interrupted-marker")).to_contain_text("Interrupted")
    expect(answer.get_by_test_id("stopped-marker")).to_have_count(0)
