"""Chat end to end: streaming, stop, tool cards, regenerate, errors, access and inert HTML."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from tests.ollama_server import OllamaTestServer

from .flows import new_account, open_form, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

LIVE_TEXT_LENGTH = (
    "() => { const el = document.querySelector('[data-testid=live-answer]');"
    " return el ? el.innerText.length : -1; }"
)


def choose_model(page: Page, model: str) -> None:
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name=model, exact=True).click()
    expect(page.get_by_test_id("model-picker")).to_contain_text(model)


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_enabled()
    composer.fill(text)
    composer.press("Enter")


def start_chat(page: Page, model: str) -> None:
    register(page, new_account("chat"))
    choose_model(page, model)


def test_answer_streams_in_steps_and_stop_keeps_the_partial_answer(page: Page) -> None:
    start_chat(page, "test-slow")
    send(page, "Count slowly, please")
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    expect(page.get_by_test_id("stop")).to_be_visible()
    lengths: list[int] = []
    for _ in range(3):
        previous = lengths[-1] if lengths else 0
        page.wait_for_function(f"({LIVE_TEXT_LENGTH})() > {previous}")
        lengths.append(page.evaluate(f"({LIVE_TEXT_LENGTH})()"))
    assert lengths == sorted(set(lengths)), f"the answer grew in steps: {lengths}"
    page.get_by_test_id("stop").click()
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1)
    expect(answer.get_by_test_id("stopped-marker")).to_be_visible()
    partial = answer.get_by_test_id("message-content").inner_text()
    assert len(partial) >= lengths[-1] - 20

    page.reload()
    answer = page.get_by_test_id("assistant-message")
    expect(answer.get_by_test_id("stopped-marker")).to_be_visible()
    assert answer.get_by_test_id("message-content").inner_text() == partial
    expect(page.get_by_test_id("composer")).to_be_enabled()


def test_tool_call_shows_a_card_and_the_answer_uses_it(page: Page) -> None:
    start_chat(page, "test-tool")
    send(page, "What is 6*7? Use the calculator.")
    card = page.get_by_test_id("tool-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("calculator")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("message-content")).to_contain_text("42")
    card.get_by_role("button").first.click()
    expect(card).to_contain_text("6*7")


def test_regenerate_replaces_the_last_answer(page: Page, ollama_server: OllamaTestServer) -> None:
    start_chat(page, "test-scripted")
    ollama_server.script_reply("The first answer.")
    send(page, "Say something")
    answers = page.get_by_test_id("assistant-message")
    expect(answers).to_have_count(1)
    expect(answers.first).to_contain_text("The first answer.")
    ollama_server.script_reply("The second answer.")
    page.get_by_test_id("regenerate").click()
    expect(answers.first).to_contain_text("The second answer.")
    expect(answers).to_have_count(1)
    expect(page.get_by_test_id("thread")).not_to_contain_text("The first answer.")


def test_backend_error_shows_in_thread_and_retry_works(page: Page) -> None:
    start_chat(page, "test-500")
    send(page, "Hello")
    error = page.get_by_test_id("message-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("internal server error")
    choose_model(page, "test-plain")
    error.get_by_test_id("retry").click()
    answers = page.get_by_test_id("assistant-message")
    expect(answers).to_have_count(1)
    expect(answers.first).to_contain_text("scripted test model")
    expect(page.get_by_test_id("message-error")).to_have_count(0)


def test_html_in_model_output_is_shown_inert(page: Page) -> None:
    start_chat(page, "test-echo")
    payload = '<img src=x onerror="window.__xss = 1"> and <script>window.__xss = 2</script>'
    send(page, payload)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_count(1)
    expect(answer.get_by_test_id("message-content")).to_contain_text("<img src=x onerror=")
    expect(page.get_by_test_id("user-message")).to_contain_text("<script>")
    assert page.locator("[data-testid=thread] img").count() == 0
    assert page.locator("[data-testid=thread] script").count() == 0
    assert page.evaluate("window.__xss") is None


def test_another_user_gets_not_found_on_the_conversation_url(
    page: Page, new_context: CreateContextCallback
) -> None:
    start_chat(page, "test-plain")
    send(page, "My private question")
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    url = page.url
    intruder = new_context().new_page()
    register(intruder, new_account("intruder"))
    intruder.goto(url)
    expect(intruder.get_by_test_id("not-found")).to_be_visible()
    expect(intruder.get_by_test_id("thread")).to_have_count(0)
    expect(intruder.locator("body")).not_to_contain_text("My private question")


def test_leaving_mid_stream_keeps_the_answer_and_a_second_tab_follows(
    page: Page, ollama_server: OllamaTestServer
) -> None:
    start_chat(page, "test-slow")
    send(page, "A long answer, please")
    expect(page.get_by_test_id("stop")).to_be_visible()
    page.wait_for_function(f"({LIVE_TEXT_LENGTH})() > 0")
    conversation_url = page.url

    second_tab = page.context.new_page()
    second_tab.goto(conversation_url)
    second_tab.wait_for_function(f"({LIVE_TEXT_LENGTH})() > 0")

    page.get_by_test_id("nav-account").click()
    expect(page.get_by_text("API keys")).to_be_visible()

    # The second tab sees the answer finish although the first tab left mid-stream.
    finished = second_tab.get_by_test_id("assistant-message")
    expect(finished).to_have_count(1, timeout=60_000)
    expect(finished).to_have_attribute("data-status", "complete")
    full_text = finished.get_by_test_id("message-content").inner_text()
    assert full_text.split() == [f"tok{i}" for i in range(ollama_server.config.slow_tokens)]

    page.goto(conversation_url)
    answer = page.get_by_test_id("assistant-message")
    expect(answer).to_have_attribute("data-status", "complete")
    assert answer.get_by_test_id("message-content").inner_text() == full_text


def conversation_item(page: Page, title: str):
    link = page.get_by_test_id("conversation-link").filter(has_text=title)
    return (
        page.locator("div")
        .filter(has=link)
        .filter(has=page.get_by_test_id("conversation-menu"))
        .last
    )


def test_two_tabs_of_one_user_stay_in_step(page: Page) -> None:
    start_chat(page, "test-plain")
    send(page, "First conversation")
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "complete")
    other = page.context.new_page()
    open_form(other, page.url)
    links = other.get_by_test_id("conversation-link")
    expect(links).to_have_count(1)

    # A conversation started in one tab appears in the other without any action there.
    page.get_by_test_id("new-chat").click()
    send(page, "Second conversation")
    expect(links).to_have_count(2)
    expect(links.first).to_contain_text("Second conversation")

    # Renaming the conversation the other tab has open renames it there too.
    conversation_item(page, "First conversation").get_by_test_id("conversation-menu").click()
    page.get_by_role("menuitem", name="Rename").click()
    page.locator("input[name=title]").fill("Renamed elsewhere")
    page.get_by_test_id("confirm-rename").click()
    expect(other.get_by_test_id("conversation-title")).to_have_text("Renamed elsewhere")
    expect(links.filter(has_text="Renamed elsewhere")).to_have_count(1)

    # Deleting it there shows "not found" here, and the list shrinks.
    conversation_item(page, "Renamed elsewhere").get_by_test_id("conversation-menu").click()
    page.get_by_test_id("delete-conversation").click()
    page.get_by_test_id("confirm-delete").click()
    expect(other.get_by_test_id("not-found")).to_be_visible()
    expect(links).to_have_count(1)
