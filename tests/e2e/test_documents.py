"""Documents end to end: upload, live status, cited answers that open the passage, access."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.ollama_server import OllamaTestServer
from youworker.services.documents.query_expansion import INSTRUCTION as EXPANSION_INSTRUCTION

from .flows import Account, new_account, open_form, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Indexing includes loading the embedding model once: allow more than the default wait.
INGEST_TIMEOUT_MS = 60_000


def upload(page: Page, *paths: Path) -> None:
    open_form(page, "/documents")
    page.get_by_test_id("dropzone").locator("input[type=file]").set_input_files(list(paths))
    expect(page.get_by_test_id("chosen-files")).to_contain_text(paths[0].name)
    page.get_by_test_id("upload-button").click()


def row(page: Page, name: str):
    return page.locator(f"[data-testid=document-row][data-name='{name}']")


def expect_ready(page: Page, name: str) -> None:
    status = row(page, name).get_by_test_id("document-status")
    expect(status).to_have_attribute("data-status", "ready", timeout=INGEST_TIMEOUT_MS)


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_enabled()
    composer.fill(text)
    composer.press("Enter")


def choose_model(page: Page, model: str) -> None:
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name=model, exact=True).click()
    expect(page.get_by_test_id("model-picker")).to_contain_text(model)


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    path = tmp_path / "handbook.pdf"
    path.write_bytes(make_pdf([PAGE_ONE, PAGE_TWO]))
    return path


def test_uploaded_pdf_answers_with_a_citation_that_opens_page_two(
    page: Page, handbook: Path, ollama_server: OllamaTestServer
) -> None:
    register(page, new_account("docs"))
    upload(page, handbook)
    expect(page.get_by_test_id("upload-row")).to_have_attribute("data-state", "added")
    # The status changes live, without a reload, from queued through to ready.
    expect_ready(page, "handbook.pdf")
    expect(row(page, "handbook.pdf")).to_contain_text("2")

    page.get_by_test_id("nav-chat").click()
    expect(page.get_by_test_id("composer")).to_be_visible()
    choose_model(page, "test-rag")
    page.get_by_test_id("use-documents").click()
    expect(page.get_by_test_id("use-documents")).to_have_attribute("data-state", "checked")
    send(page, "How much is the meal allowance on business trips?")

    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("message-content")).to_contain_text("42 euros")
    citation = answer.get_by_test_id("citation").first
    expect(citation).to_contain_text("handbook.pdf · page 2")
    # The inline "[1]" is a link to the same passage.
    inline = answer.get_by_test_id("message-content").get_by_role("link", name="[1]")
    expect(inline).to_have_attribute("href", re.compile(r"^/documents/.+\?chunk="))
    expect(inline).to_have_attribute("title", re.compile(r"^handbook\.pdf, page 2\b"))
    # The installation's chat model was asked to reword the question for the search first.
    reworded = [
        body["messages"][-1]["content"]
        for body in ollama_server.chat_requests()
        if body["messages"][0]["content"] == EXPANSION_INSTRUCTION
    ]
    assert "How much is the meal allowance on business trips?" in reworded

    citation.click()
    expect(page).to_have_url(re.compile(r"/documents/[0-9a-f-]{36}/?\?chunk=[0-9a-f-]{36}$"))
    passage = page.get_by_test_id("cited-passage")
    expect(passage).to_have_attribute("data-page", "2")
    expect(passage).to_contain_text("42 euros")
    expect(passage).to_be_in_viewport()


def test_the_agent_can_search_documents_itself(page: Page, handbook: Path) -> None:
    register(page, new_account("agent"))
    upload(page, handbook)
    expect_ready(page, "handbook.pdf")
    page.get_by_test_id("nav-chat").click()
    choose_model(page, "test-rag")
    expect(page.get_by_test_id("use-documents")).to_have_attribute("data-state", "unchecked")
    send(page, "What is the meal allowance?")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("tool-card")).to_contain_text("search_documents")
    expect(answer.get_by_test_id("citation").first).to_contain_text("page 2")


def test_each_bad_file_gets_its_own_message(page: Page, tmp_path: Path) -> None:
    register(page, new_account("rejects"))
    good = tmp_path / "notes.md"
    good.write_text("# Notes\n\nSome useful notes.")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    fake = tmp_path / "photo.pdf"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    upload(page, good, empty, fake)
    rows = page.get_by_test_id("upload-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-state", "added")
    expect(rows.nth(1)).to_have_attribute("data-state", "rejected")
    expect(rows.nth(1)).to_contain_text("empty")
    expect(rows.nth(2)).to_have_attribute("data-state", "rejected")
    expect(rows.nth(2)).to_contain_text("PNG")
    expect(page.get_by_test_id("document-row")).to_have_count(1)

    # The same content again is recognised, not stored twice.
    upload(page, good)
    expect(page.get_by_test_id("upload-row")).to_have_attribute("data-state", "duplicate")
    expect(page.get_by_test_id("document-row")).to_have_count(1)


def test_download_delete_and_other_users(
    page: Page, handbook: Path, new_context: CreateContextCallback
) -> None:
    owner = new_account("owner")
    register(page, owner)
    upload(page, handbook)
    expect_ready(page, "handbook.pdf")
    link = row(page, "handbook.pdf").get_by_test_id("download")
    href = link.get_attribute("href")
    assert href is not None
    response = page.request.get(href)
    assert response.status == 200
    assert response.body() == handbook.read_bytes()
    with page.expect_download() as saved:
        link.click()
    assert saved.value.suggested_filename == "handbook.pdf"
    assert "handbook.pdf" in response.headers["content-disposition"]
    row(page, "handbook.pdf").get_by_role("link", name="handbook.pdf", exact=True).click()
    expect(page.get_by_test_id("document-title")).to_have_text("handbook.pdf")
    expect(page.get_by_test_id("document-text")).to_contain_text("42 euros")
    view_url = page.url

    other = new_context().new_page()
    intruder: Account = new_account("intruder")
    register(other, intruder)
    other.goto(view_url)
    expect(other.get_by_test_id("not-found")).to_be_visible()
    assert other.request.get(href).status == 404
    open_form(other, "/documents")
    expect(other.get_by_test_id("no-documents")).to_be_visible()

    open_form(page, "/documents")
    row(page, "handbook.pdf").get_by_test_id("delete").click()
    page.get_by_test_id("confirm-delete").click()
    expect(page.get_by_test_id("document-row")).to_have_count(0)
    assert page.request.get(href).status == 404


def test_the_list_keeps_page_sort_and_search_in_the_url(page: Page, tmp_path: Path) -> None:
    register(page, new_account("lister"))
    notes = []
    for number in range(21):  # one more than a page
        note = tmp_path / f"note-{number:02d}.md"
        note.write_text(f"# Note {number}\n\nSomething worth keeping, number {number}.\n")
        notes.append(note)
    upload(page, *notes)
    expect(page.get_by_test_id("upload-row")).to_have_count(21)

    page.get_by_test_id("sort-name").click()
    expect(page).to_have_url(re.compile(r"/documents/?\?sort=name&dir=asc$"))
    expect(page.get_by_test_id("document-row").first).to_have_attribute("data-name", "note-00.md")
    page.get_by_role("button", name="Page 2").click()
    expect(page).to_have_url(re.compile(r"\?page=2&sort=name&dir=asc$"))
    expect(page.get_by_test_id("document-row")).to_have_count(1)
    expect(page.get_by_test_id("document-row")).to_have_attribute("data-name", "note-20.md")
    expect(page.get_by_role("button", name="Page 2")).to_have_attribute("aria-current", "page")

    page.go_back()  # Back returns to the first page, still sorted by name
    expect(page).to_have_url(re.compile(r"/documents/?\?sort=name&dir=asc$"))
    expect(page.get_by_test_id("document-row")).to_have_count(20)

    page.get_by_test_id("document-search").fill("note-1")
    expect(page).to_have_url(re.compile(r"q=note-1$"))
    expect(page.get_by_test_id("document-row")).to_have_count(10)
    page.reload()  # the URL alone restores the search
    expect(page.get_by_test_id("document-search")).to_have_value("note-1")
    expect(page.get_by_test_id("document-row")).to_have_count(10)
    page.get_by_test_id("document-search").fill("no such file")
    expect(page.get_by_text("No document matches this search.")).to_be_visible()


def test_a_zip_becomes_documents_that_keep_their_folders(page: Page, tmp_path: Path) -> None:
    register(page, new_account("zipper"))
    bundle = tmp_path / "handbook.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(30):
            archive.writestr(f"policies/travel/rule{n}.md", f"# Rule {n}\n\nTravel rule {n}.\n")
        archive.writestr("policies/parking.md", "# Parking\n\nThe car park opens at 7 am.\n")
        archive.writestr("../escape.md", "# Out\n")
        archive.writestr("policies/nested.zip", b"PK\x03\x04")
    upload(page, bundle)
    expect(page.get_by_test_id("batch-summary")).to_have_text("31 added, 2 refused")
    rows = page.get_by_test_id("upload-row")
    expect(rows).to_have_count(33)
    refused = page.locator("[data-testid=upload-row][data-state=rejected]")
    expect(refused.filter(has_text="handbook/../escape.md")).to_contain_text("outside the archive")
    expect(refused.filter(has_text="nested.zip")).to_contain_text("not unpacked")

    # The list shows each file with its folder, and searching finds a folder.
    page.get_by_test_id("document-search").fill("travel")
    expect(page.get_by_test_id("document-row")).to_have_count(20)  # the first page of 30
    expect(page.get_by_test_id("range-label")).to_have_text("1-20 of 30")
    folder = row(page, "rule25.md").get_by_test_id("document-folder")
    expect(folder).to_have_text("handbook/policies/travel")
    expect_ready(page, "rule25.md")


def test_a_chosen_folder_goes_in_with_its_paths(page: Page, tmp_path: Path) -> None:
    register(page, new_account("folderpick"))
    folder = tmp_path / "handbook"
    (folder / "travel").mkdir(parents=True)
    (folder / "travel" / "trains.md").write_text("# Trains\n\nTake the train under 600 km.\n")
    (folder / "parking.md").write_text("# Parking\n\nThe car park opens at 7 am.\n")
    (folder / "tool.exe").write_bytes(b"MZ\x90\x00" + bytes(range(256)))
    open_form(page, "/documents")
    picker = page.get_by_test_id("folder-picker").locator("input[type=file]")
    picker.set_input_files(folder)  # what the browser's folder dialog gives the page
    expect(page.get_by_test_id("batch-summary")).to_have_text("2 added, 1 refused")
    refused = page.locator("[data-testid=upload-row][data-state=rejected]")
    expect(refused).to_contain_text("handbook/tool.exe")
    folder_label = row(page, "trains.md").get_by_test_id("document-folder")
    expect(folder_label).to_have_text("handbook/travel")
    expect(row(page, "parking.md").get_by_test_id("document-folder")).to_have_text("handbook")
