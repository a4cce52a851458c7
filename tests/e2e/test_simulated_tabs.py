"""Several users stream at once through the app's websocket protocol, without a browser.

The simulated tabs of bench/reflex_client.py (what the crowd and soak benchmarks run on) speak
the protocol a Chromium page speaks. Here they prove, against the real app: answers streamed to
three users at once each arrive token by token, in order, and are saved exactly; a second tab of
the same user, opened on the conversation's URL mid-answer, follows the same answer to the end;
an upload from the documents page becomes ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.reflex_client import ReflexTab, state_name
from bench.sim_user import STAMPED_MODEL, SimUser
from tests.ollama_server import OllamaTestServer
from youworker.state import auth, documents  # noqa: F401 - imported here: the tabs' thread has no Reflex context
from youworker.state.chat import ChatState, LiveAnswerState

TOKENS = 60
USERS = 3
TIMEOUT_S = 120.0


@pytest.fixture
def short_answers(ollama_server: OllamaTestServer) -> Iterator[None]:
    before = ollama_server.config.slow_tokens
    ollama_server.config.slow_tokens = TOKENS
    yield
    ollama_server.config.slow_tokens = before


def expected_tokens() -> list[str]:
    return [f"s{i}" for i in range(TOKENS)]


def tokens_of(text: str) -> list[str]:
    return [token.partition("@")[0] for token in text.split()]


async def _stream_to_everyone(base_url: str) -> None:
    people = [SimUser(base_url, f"tabs{i}") for i in range(USERS)]
    try:
        for person in people:
            await person.sign_up()
            await person.open_chat(STAMPED_MODEL)
        first = people[0]
        answers = [
            asyncio.create_task(p.ask(f"question {i}", TOKENS, TIMEOUT_S))
            for i, p in enumerate(people)
        ]
        chat, live = state_name(ChatState), state_name(LiveAnswerState)
        assert first.tab is not None
        # The second tab opens the conversation's URL once its answer streams. Not as soon as the
        # first tab knows the id: the question shows before the conversation is saved, and a tab
        # opened in between rightly finds nothing there yet.
        await first.tab.wait_for(lambda: bool(first.tab and first.tab.var(live, "text")), 60)
        conversation_id = str(first.tab.var(chat, "current_id"))
        second = ReflexTab(base_url, first.cookies)
        try:
            await second.open(f"/chat/{conversation_id}", {"cid": conversation_id})
            watches = await asyncio.gather(*answers)

            def second_shows_the_answer() -> bool:
                messages = second.var(chat, "messages") or []
                return bool(messages) and tokens_of(messages[-1]["raw"]) == expected_tokens()

            await second.wait_for(second_shows_the_answer, TIMEOUT_S)
            assert second.var(chat, "current_id") == conversation_id
        finally:
            await second.close()
        for person, watch in zip(people, watches, strict=True):
            assert watch.complete, (person.email, watch.disorder, watch.seen)
            assert tokens_of(person.saved_text()) == expected_tokens()
            # Streamed, not delivered in one piece at the end.
            assert person.tab is not None and person.tab.updates > TOKENS // 10

        status = await first.upload("plan.md", b"# Plan\n\nThe launch is on Tuesday.\n", TIMEOUT_S)
        assert status == "ready"
    finally:
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)


def test_three_users_stream_at_once_and_a_second_tab_follows(
    base_url: str, short_answers: None
) -> None:
    # Playwright's sync API keeps an event loop on this thread; the tabs get their own.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, _stream_to_everyone(base_url)).result()
