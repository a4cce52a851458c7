"""Attacks on Reflex's own protocol, made as a client would: a tab's websocket and `/_upload`.

Every event here goes over the app's real websocket (bench/reflex_client.py), so Reflex's event
processor, its middleware and its state store all take part, as they do for a browser.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest

from bench.reflex_client import ReflexTab, state_name
from bench.sim_user import SimUser
from youworker.state import auth  # noqa: F401 - the tabs' thread has no Reflex context
from youworker.state.chat import ChatState
from youworker.state.documents import DocumentsState
from youworker.state.session import SessionState

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


# --- a tab's token is not a credential -----------------------------------------------------


class Watched(ReflexTab):
    """A tab that keeps every delta the server sent it, as JSON (what a client could read)."""

    def __init__(self, base_url: str, cookies: httpx.Cookies | None = None) -> None:
        super().__init__(base_url, cookies)
        self.received: list[str] = []
        self.on_update = lambda update: self.received.append(json.dumps(update.delta))

    def saw(self, text: str) -> bool:
        return any(text in delta for delta in self.received)


async def _victim_with_a_closed_chat_tab(base_url: str) -> tuple[SimUser, str, str]:
    """A user who asked something in a chat tab, then closed it: (user, tab token, question)."""
    victim = SimUser(base_url, "victim")
    await victim.sign_up()
    await victim.open_chat("test-echo")
    question = f"private question {uuid.uuid4().hex}"
    await victim.ask(question, tokens=0, within_s=120)
    assert victim.tab is not None
    token = victim.tab.token
    await victim.close()
    return victim, token, question


async def _present_token(
    base_url: str, token: str, cookies: httpx.Cookies | None, path: str = "/chat"
) -> Watched:
    attacker = Watched(base_url, cookies)
    attacker.token = token
    try:
        await attacker.open(path)
    finally:
        await attacker.close()
    return attacker


async def _closed_tab_token(base_url: str, with_own_cookie: bool) -> tuple[Watched, SimUser, str]:
    victim, token, question = await _victim_with_a_closed_chat_tab(base_url)
    cookies = None
    if with_own_cookie:
        other = SimUser(base_url, "intruder")
        await other.sign_up()
        cookies = other.cookies
    return await _present_token(base_url, token, cookies), victim, question


@pytest.mark.parametrize("with_own_cookie", [False, True], ids=["no cookie", "own cookie"])
def test_a_closed_tabs_token_shows_another_client_nothing(
    base_url: str, with_own_cookie: bool
) -> None:
    attacker, victim, question = run(_closed_tab_token(base_url, with_own_cookie))
    assert attacker.received, "the server answered the page load"
    assert not attacker.saw(question)
    assert not attacker.saw(victim.email)


async def _after_sign_out_elsewhere(base_url: str) -> tuple[Watched, SimUser, str]:
    victim, token, question = await _victim_with_a_closed_chat_tab(base_url)
    other_tab = ReflexTab(base_url, victim.cookies)
    try:
        await other_tab.open("/chat")
        await other_tab.send(state_name(SessionState), "sign_out")
        await other_tab.wait_for(lambda: any("/auth/logout" in s for s in other_tab.scripts), 60)
    finally:
        await other_tab.close()
    async with httpx.AsyncClient(base_url=base_url, cookies=victim.cookies) as http:
        ended = await http.post("/auth/logout", headers={"Origin": base_url})
        assert ended.status_code in (200, 204)
    # The old cookie (say, copied from the victim's machine) with the closed tab's token.
    return await _present_token(base_url, token, victim.cookies), victim, question


def test_a_closed_tab_after_sign_out_elsewhere_shows_nothing(base_url: str) -> None:
    attacker, victim, question = run(_after_sign_out_elsewhere(base_url))
    assert attacker.received
    assert not attacker.saw(question)
    assert not attacker.saw(victim.email)


async def _upload_with_a_token(base_url: str) -> tuple[list[int], list[str]]:
    victim = SimUser(base_url, "uploader")
    await victim.sign_up()
    intruder = SimUser(base_url, "planter")
    await intruder.sign_up()
    documents_state = state_name(DocumentsState)
    tab = ReflexTab(base_url, victim.cookies)
    statuses = []
    try:
        await tab.open("/documents")
        for cookies in (None, intruder.cookies):
            planter = ReflexTab(base_url, cookies)
            planter.token = tab.token
            refused = await planter.upload(
                documents_state, "handle_upload", "planted.md", b"# Planted\n", check=False
            )
            statuses.append(refused.status_code)
        await tab.upload(documents_state, "handle_upload", "mine.md", b"# Mine\n\nText.\n")
    finally:
        await tab.close()
    async with httpx.AsyncClient(base_url=base_url, cookies=victim.cookies) as http:
        listed = await http.get("/api/v1/documents")
    listed.raise_for_status()
    return statuses, [str(item["name"]) for item in listed.json()["items"]]


def test_an_upload_needs_the_tabs_own_users_cookie(base_url: str) -> None:
    statuses, names = run(_upload_with_a_token(base_url))
    assert statuses == [401, 403]
    assert names == ["mine.md"]


async def _drop_a_folder(base_url: str) -> dict[str, str | None]:
    """What a browser sends for a dropped folder (each file named by its path), and worse."""
    user = SimUser(base_url, "folders")
    await user.sign_up()
    tab = ReflexTab(base_url, user.cookies)
    documents_state = state_name(DocumentsState)
    sent = {
        "./handbook/admin/users.md": b"# Users\n\nHow to add users.\n",
        "handbook/travel.md": b"# Travel\n\nTrains, not planes.\n",
        "../../../etc/cron.d/evil.md": b"# Evil\n\nNot a place to write to.\n",
        "C:\\Users\\me\\notes.md": b"# Notes\n\nWindows paths too.\n",
    }
    try:
        await tab.open("/documents")
        for name, data in sent.items():
            await tab.upload(documents_state, "handle_upload", name, data)
    finally:
        await tab.close()
    async with httpx.AsyncClient(base_url=base_url, cookies=user.cookies) as http:
        listed = await http.get("/api/v1/documents?sort=name&order=asc")
    listed.raise_for_status()
    return {str(item["name"]): item["folder"] for item in listed.json()["items"]}


def test_a_dropped_folder_keeps_its_paths_as_labels_only(base_url: str) -> None:
    folders = run(_drop_a_folder(base_url))
    assert folders["users.md"] == "handbook/admin"
    assert folders["travel.md"] == "handbook"
    # Paths that climb out are only labels (the file is stored by its id), and never climb.
    assert folders["evil.md"] == "etc/cron.d"
    assert folders["notes.md"] is None  # a drive path is cut to its file name
    assert len(folders) == 4


# --- forged arguments ----------------------------------------------------------------------


def toasts(tab: ReflexTab) -> list[str]:
    return [json.dumps(e["payload"]) for e in tab.events if e["name"] == "_call_function"]


async def _forged_arguments(base_url: str) -> tuple[list[str], str, list[bool]]:
    user = SimUser(base_url, "forger")
    await user.sign_up()
    chat = state_name(ChatState)
    tab = ReflexTab(base_url, user.cookies)
    try:
        await tab.open("/chat")
        before = len(toasts(tab))
        await tab.send(chat, "search", query=["not", "a", "string"])
        await tab.send(chat, "toggle_tool", name={"a": 1}, enabled="yes")
        await tab.send(chat, "toggle_documents", enabled=1)
        await tab.wait_for(lambda: len(toasts(tab)) >= before + 3, 60)
        switches = [t["enabled"] for t in tab.var(chat, "tools", [])]
        return toasts(tab)[before:], tab.var(chat, "search_query"), switches
    finally:
        await tab.close()


def test_a_forged_argument_type_is_refused_in_plain_words(base_url: str) -> None:
    """A page sends a string where a handler takes one; a forged event may send a list or an
    object. The guard refuses it before the handler runs (no server error, nothing changed)."""
    shown, query, switches = run(_forged_arguments(base_url))
    assert all("That request was not understood" in toast for toast in shown), shown
    assert query == "" and all(switches)
