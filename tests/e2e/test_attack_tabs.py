"""Attacks on Reflex's own protocol, made as a client would: a tab's websocket and `/_upload`.

Every event here goes over the app's real websocket (bench/reflex_client.py), so Reflex's event
processor, its middleware and its state store all take part, as they do for a browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from bench.reflex_client import ReflexTab, state_name
from youworker.state import auth, documents  # noqa: F401 - the tabs' thread has no Reflex context
from youworker.state.chat import ChatState

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    """Playwright's sync API keeps an event loop on the test thread; the tabs get their own."""

    async def main() -> T:
        return await coroutine

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, main()).result()


def redirects(tab: ReflexTab) -> list[str]:
    return [str(e["payload"]["path"]) for e in tab.events if e["name"] == "_redirect"]


async def _anonymous_asks_for_models(base_url: str) -> tuple[list[str], Any]:
    chat = state_name(ChatState)
    tab = ReflexTab(base_url)
    try:
        await tab.open("/login")
        before = len(redirects(tab))
        await tab.send(chat, "load_models")
        await tab.wait_for(lambda: len(redirects(tab)) > before, 60)
        return redirects(tab)[before:], tab.var(chat, "models")
    finally:
        await tab.close()


def test_an_anonymous_tab_gets_no_model_list(base_url: str) -> None:
    sent_to, models = run(_anonymous_asks_for_models(base_url))
    assert sent_to and all(path.startswith("/login") for path in sent_to)
    assert not models
