"""Collections in the browser: make one, put selected documents in, narrow the list to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .flows import new_account, register
from .test_documents import choose_model, expect_ready, row, send, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_a_collection_is_made_filled_and_shown(page: Page, tmp_path: Path) -> None:
    register(page, new_account("collector"))
    notes = []
    for name in ("france", "spain", "parking"):
        note = tmp_path / f"{name}.md"
        note.write_text(f"# {name.title()}\n\nWhat to know about {name}.\n")
        notes.append(note)
    upload(page, *notes)
    expect(page.get_by_test_id("document-row")).to_have_count(3)

    for name in ("Travel", "Old trips"):
        page.get_by_test_id("new-collection").click()
        page.get_by_test_id("collection-name").fill(name)
        page.get_by_test_id("create-collection").click()
        expect(page.get_by_test_id("notice")).to_have_text(f"Collection {name} made.")

    # The header's box ticks the whole page; then one row is unticked.
    page.get_by_test_id("select-page").click()
    expect(page.get_by_test_id("selected-count")).to_have_text("3 selected")
    expect(page.get_by_test_id("select-page")).to_be_checked()
    row(page, "parking.md").get_by_test_id("select-document").click()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 selected")
    expect(page.get_by_test_id("select-page")).not_to_be_checked()
    page.get_by_test_id("add-to-collection").click()
    page.get_by_role("option", name="Travel").click()
    expect(page.get_by_test_id("notice")).to_have_text("2 document(s) added to Travel.")

    page.get_by_test_id("collection-filter").click()
    page.get_by_role("option", name="Travel").click()
    expect(page).to_have_url(re.compile(r"/documents/?\?collection=[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("document-row")).to_have_count(2)
    page.reload()  # the URL alone restores the collection
    expect(page.get_by_test_id("document-row")).to_have_count(2)

    row(page, "spain.md").get_by_test_id("select-document").click()
    page.get_by_test_id("remove-from-collection").click()
    expect(page.get_by_test_id("notice")).to_have_text("1 document(s) taken out of Travel.")
    expect(page.get_by_test_id("document-row")).to_have_count(1)
    expect(row(page, "france.md")).to_be_visible()

    # Moving takes it out of this collection and into the other.
    row(page, "france.md").get_by_test_id("select-document").click()
    page.get_by_test_id("move-to-collection").click()
    page.get_by_role("option", name="Old trips").click()
    expect(page.get_by_test_id("notice")).to_have_text("1 document(s) moved to Old trips.")
    expect(page.get_by_test_id("document-row")).to_have_count(0)
    page.get_by_test_id("collection-filter").click()
    page.get_by_role("option", name="Old trips").click()
    expect(page.get_by_test_id("document-row")).to_have_count(1)
    expect(row(page, "france.md")).to_be_visible()

    page.get_by_test_id("collection-filter").click()
    page.get_by_role("option", name="All documents").click()
    expect(page.get_by_test_id("document-row")).to_have_count(3)


def test_a_chat_searches_only_the_collection_chosen(page: Page, tmp_path: Path) -> None:
    register(page, new_account("chatcoll"))
    france = tmp_path / "france.md"
    france.write_text("# France\n\nThe daily meal allowance on business trips is 42 euros.\n")
    spain = tmp_path / "spain.md"
    spain.write_text("# Spain\n\nThe daily meal allowance on business trips is 35 euros.\n")
    upload(page, france, spain)
    expect_ready(page, "france.md")
    expect_ready(page, "spain.md")
    for name in ("Spain office", "Archive"):
        page.get_by_test_id("new-collection").click()
        page.get_by_test_id("collection-name").fill(name)
        page.get_by_test_id("create-collection").click()
        expect(page.get_by_test_id("new-collection")).to_be_visible()
    row(page, "spain.md").get_by_test_id("select-document").click()
    page.get_by_test_id("add-to-collection").click()
    page.get_by_role("option", name="Spain office").click()
    expect(page.get_by_test_id("notice")).to_have_text("1 document(s) added to Spain office.")

    page.get_by_test_id("nav-chat").click()
    choose_model(page, "test-rag")
    page.get_by_test_id("use-documents").click()
    picker = page.get_by_test_id("chat-collection")
    expect(picker).to_have_text("Search in: All documents")
    picker.click()
    option = page.get_by_test_id("chat-collection-option")
    option.filter(has_text="Spain office").get_by_role("checkbox").click()
    expect(picker).to_have_text("Search in: Spain office")
    # Several at once; none ticked is all documents again.
    option.filter(has_text="Archive").get_by_role("checkbox").click()
    expect(picker).to_have_text("Search in: 2 collections")
    page.get_by_test_id("chat-all-documents").click()
    expect(picker).to_have_text("Search in: All documents")
    expect(option.filter(has_text="Archive").get_by_role("checkbox")).not_to_be_checked()
    option.filter(has_text="Spain office").get_by_role("checkbox").click()
    expect(picker).to_have_text("Search in: Spain office")
    page.keyboard.press("Escape")
    send(page, "How much is the meal allowance on business trips?")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("citation").first).to_contain_text("spain.md")
    expect(answer.get_by_test_id("message-content")).to_contain_text("35 euros")

    page.reload()  # the conversation keeps its collection
    expect(page.get_by_test_id("chat-collection")).to_contain_text("Spain office")
