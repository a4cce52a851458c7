"""The chat follows the person: scrolling, focus, typing ahead and the composer's limit.

A small viewport makes every thread taller than its box; the test model streams at 40 tokens a
second, so an answer is still being written while the test scrolls and types.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .flows import new_account, open_form, path_is, register
from .test_chat import LIVE_TEXT_LENGTH, choose_model, send

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NEAR_BOTTOM_PX = 48  # as assets/chat.js
VIEWPORT = {"width": 1280, "height": 640}
DISTANCE = (
    "() => { const el = document.getElementById('thread');"
    " return el.scrollHeight - el.scrollTop - el.clientHeight; }"
)
OVERFLOWS = (
    "() => { const el = document.getElementById('thread');"
    " return el.scrollHeight > el.clientHeight + 200; }"
)
TALL_QUESTION = "\n".join(f"Question line {i}" for i in range(30))
ANSWER_TIMEOUT_MS = 60_000


def live_length(page: Page) -> int:
    return int(page.evaluate(f"({LIVE_TEXT_LENGTH})()"))


def wait_for_growth_at_bottom(page: Page) -> None:
    """The answer grows, and the newest text is in view."""
    grown = live_length(page)
    page.wait_for_function(
        f"({LIVE_TEXT_LENGTH})() > {grown} && ({DISTANCE})() <= {NEAR_BOTTOM_PX}"
    )


def expect_at_newest(page: Page) -> None:
    page.wait_for_function(f"({OVERFLOWS})() && ({DISTANCE})() <= {NEAR_BOTTOM_PX}")


def test_the_thread_follows_the_answer_unless_the_person_scrolls_up(page: Page) -> None:
    page.set_viewport_size(VIEWPORT)
    register(page, new_account("scroll"))
    choose_model(page, "test-slow")  # 400 tokens at 40 a second
    send(page, TALL_QUESTION)
    expect(page.get_by_test_id("stop")).to_be_visible()
    page.wait_for_function(OVERFLOWS)
    for _ in range(3):
        wait_for_growth_at_bottom(page)

    # Scrolled up to read: the text goes on growing below, the view stays where it is.
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_hidden()
    page.get_by_test_id("thread").hover()
    page.mouse.wheel(0, -600)
    page.wait_for_function(f"({DISTANCE})() > 300")
    expect(jump).to_be_visible()
    grown = live_length(page)
    page.wait_for_function(f"({LIVE_TEXT_LENGTH})() > {grown + 60}")
    assert page.evaluate(f"({DISTANCE})()") > 300, "the thread was pulled back to the bottom"
    expect(jump).to_be_visible()

    # "Jump to latest" follows the answer again.
    jump.click()
    page.wait_for_function(f"({DISTANCE})() <= {NEAR_BOTTOM_PX}")
    expect(jump).to_be_hidden()
    wait_for_growth_at_bottom(page)

    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_attribute("data-status", "complete", timeout=ANSWER_TIMEOUT_MS)
    expect(answer).to_contain_text("tok399")
    expect_at_newest(page)


def test_opening_a_conversation_shows_its_newest_message_with_the_composer_focused(
    page: Page,
) -> None:
    page.set_viewport_size(VIEWPORT)
    register(page, new_account("open"))
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_focused()  # on load
    choose_model(page, "test-echo")
    send(page, TALL_QUESTION)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "complete")
    expect_at_newest(page)
    conversation_path = re.sub(r"^https?://[^/]+", "", page.url)

    page.get_by_test_id("new-chat").click()
    expect(page).to_have_url(path_is("/chat"))
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(composer).to_be_focused()

    page.get_by_test_id("conversation-link").first.click()
    expect(page).to_have_url(path_is(conversation_path))
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect_at_newest(page)
    expect(composer).to_be_focused()

    open_form(page, conversation_path)  # a fresh load of the conversation
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect_at_newest(page)
    expect(composer).to_be_focused()


def test_the_person_types_the_next_message_while_an_answer_streams(page: Page) -> None:
    register(page, new_account("typeahead"))
    choose_model(page, "test-slow")
    composer = page.get_by_test_id("composer")
    composer.fill("Count slowly, please")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("stop")).to_be_visible()
    expect(composer).to_have_value("")

    # The composer stays open while the answer streams; Enter does not lose the text.
    expect(composer).to_be_enabled()
    composer.click()
    composer.press_sequentially("And the next question")
    composer.press("Enter")
    expect(page.get_by_test_id("composer-error")).to_contain_text("still being written")
    expect(composer).to_have_value("And the next question")
    expect(page.get_by_test_id("user-message")).to_have_count(1)

    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("stopped-marker")).to_be_visible()
    expect(composer).to_be_focused()  # after the answer
    composer.press("Enter")
    expect(page.get_by_test_id("user-message")).to_have_count(2)
    expect(page.get_by_test_id("user-message").last).to_contain_text("And the next question")
    expect(composer).to_have_value("")
    expect(page.get_by_test_id("composer-error")).to_have_count(0)


def test_a_paste_longer_than_the_limit_is_cut_with_a_count_and_a_message(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    register(page, new_account("paste"))
    composer = page.get_by_test_id("composer")
    limit = int(composer.get_attribute("maxlength") or 0)
    assert limit == 32_000
    page.evaluate("(text) => navigator.clipboard.writeText(text)", "x" * (limit + 1234))
    composer.focus()
    page.keyboard.press("Control+V")
    page.wait_for_function(f"document.getElementById('composer').value.length === {limit}")
    note = page.get_by_test_id("composer-limit-note")
    expect(note).to_contain_text("longer than the 32,000-character limit")
    expect(note).to_contain_text("1,234 characters left out")
    count = page.get_by_test_id("composer-count")
    expect(count).to_have_text("32,000 / 32,000 characters")

    composer.press("Backspace")
    expect(count).to_have_text("31,999 / 32,000 characters")
    expect(note).to_have_text("")
    composer.fill("short")
    expect(count).to_have_text("")
