"""Collections in the browser: make one, put selected documents in, narrow the list to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .flows import new_account, register
from .test_documents import row, upload

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

    page.get_by_test_id("new-collection").click()
    page.get_by_test_id("collection-name").fill("Travel")
    page.get_by_test_id("create-collection").click()
    expect(page.get_by_test_id("notice")).to_have_text("Collection Travel made.")

    for name in ("france.md", "spain.md"):
        row(page, name).get_by_test_id("select-document").click()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 selected")
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

    page.get_by_test_id("collection-filter").click()
    page.get_by_role("option", name="All documents").click()
    expect(page.get_by_test_id("document-row")).to_have_count(3)
