"""A newcomer's first hour, in the browser, on the built-in model (issue 16).

On main, the first chat message of a fresh install killed the server (llama.cpp crashed in the
web server's process). This journey is what every newcomer does after `make run`: register the
first account, say hello, upload a document, switch on "Use my documents", ask about it and open
the citation. It runs at desktop, tablet and phone sizes; the first run registers the very first
account of the fresh data directory (who becomes the admin), the others are newcomers too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.flows import fill_registration, new_account, open_navigation, path_is
from tests.files import PAGE_ONE, PAGE_TWO, make_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "tablet": {"width": 820, "height": 1180},
    "phone": {"width": 390, "height": 844},
}
# Upper bounds for a loaded 2-core machine, not targets: the built-in model loads on the first
# answer, and the first upload loads the embedding model.
ANSWER_TIMEOUT_MS = 240_000
INGEST_TIMEOUT_MS = 120_000
# `SCREENSHOTS=docs/screenshots make test` (or pytest tests/e2e_newcomer) refreshes the README's
# pictures from this journey: the real UI on the built-in model, at desktop and phone size.
SCREENSHOTS = os.environ.get("SCREENSHOTS", "")


def snapshot(page: Page, size: str, name: str) -> None:
    """Save the README's picture of this step (desktop and phone only), when asked to."""
    if SCREENSHOTS and size in ("desktop", "phone"):
        suffix = "" if size == "desktop" else "-phone"
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}{suffix}.png"))


def go_to(page: Page, label: str) -> None:
    """Follow the navigation as a person would, opening the menu first on small screens."""
    open_navigation(page)
    page.get_by_test_id(f"nav-{label.lower()}").click()
    expect(page).to_have_url(path_is(f"/{label.lower()}"))


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_editable()
    composer.fill(text)
    composer.press("Enter")


def expect_complete_answer(page: Page) -> Page:
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_have_attribute("data-status", "complete", timeout=ANSWER_TIMEOUT_MS)
    expect(answer.get_by_test_id("message-content")).to_have_text(re.compile(r"\w"))
    return answer


def expect_no_sideways_scroll(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_first_hour_on_the_built_in_model(
    browser: Browser, base_url: str, size: str, tmp_path: Path
) -> None:
    context = browser.new_context(
        base_url=base_url,
        viewport=VIEWPORTS[size],
        is_mobile=size == "phone",
        has_touch=size != "desktop",
    )
    page = context.new_page()
    try:
        account = new_account(size)
        fill_registration(
            page, email=account.email, display_name=account.display_name, password=account.password
        )
        expect(page).to_have_url(path_is("/chat"))
        expect(page.get_by_text("Built-in small model")).to_be_visible()

        send(page, "Hello! What can you do?")
        expect(page.get_by_test_id("user-message").last).to_contain_text("Hello! What can you do?")
        expect_complete_answer(page)
        expect_no_sideways_scroll(page)

        handbook = tmp_path / "handbook.pdf"
        handbook.write_bytes(make_pdf([PAGE_ONE, PAGE_TWO]))
        go_to(page, "Documents")
        page.get_by_test_id("dropzone").locator("input[type=file]").set_input_files(handbook)
        page.get_by_test_id("upload-button").click()
        status = page.locator(
            "[data-testid=document-row][data-name='handbook.pdf']"
        ).get_by_test_id("document-status")
        expect(status).to_have_attribute("data-status", "ready", timeout=INGEST_TIMEOUT_MS)
        expect_no_sideways_scroll(page)
        snapshot(page, size, "documents")

        go_to(page, "Chat")
        expect(page.get_by_test_id("assistant-message")).to_have_count(0)  # a new chat
        switch = page.get_by_test_id("use-documents")
        switch.click()
        expect(switch).to_have_attribute("data-state", "checked")
        send(page, "How much is the meal allowance on business trips?")
        answer = expect_complete_answer(page)
        citation = answer.get_by_test_id("citation").first
        expect(citation).to_contain_text("handbook.pdf · page 2")
        snapshot(page, size, "chat-citations")

        citation.click()
        expect(page).to_have_url(re.compile(r"/documents/[0-9a-f-]{36}/?\?chunk=[0-9a-f-]{36}$"))
        passage = page.get_by_test_id("cited-passage")
        expect(passage).to_contain_text("42 euros")
        expect(passage).to_be_in_viewport()
        expect_no_sideways_scroll(page)
        snapshot(page, size, "cited-passage")
    finally:
        context.close()
