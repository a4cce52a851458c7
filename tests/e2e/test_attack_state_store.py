"""After a real session, Reflex's state store holds no cookie, no API key and no message text.

A simulated tab (the websocket protocol a browser speaks) registers, chats with the test model
and creates an API key; then the store the running app uses is scanned: Redis (the database of
E2E_REDIS_URL) when the suite runs against several workers, else every file Reflex could have
written states to (`.states/` in the app's working directory, the app's data directory besides
its database). Reflex's default used to pickle each tab, cookie and all, to `.states/*.pkl`.

With Redis, the test also opens the sealed payloads with the app's own key and finds the message
there: the scan looked at the right data, which is unreadable without the key.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from playwright.sync_api import BrowserContext, expect

from bench.reflex_client import ReflexTab, state_name
from bench.sim_user import SimUser
from youworker.state import auth, chat, documents  # noqa: F401 - the tabs' thread has no Reflex context
from youworker.state.account import AccountState
from youworker.state.store import StateSeal

from .app_server import REPO_ROOT
from .conftest import BACKEND_WORKERS, E2E_REDIS_URL, SERVER_LOG_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

API_KEY = re.compile(r"\"(yw_[A-Za-z0-9_\-]+)\"")


@dataclass
class Secrets:
    cookie: str
    api_key: str
    message: str  # the test-echo model answers with the same text

    def found_in(self, blob: bytes) -> list[str]:
        named = {"cookie": self.cookie, "api key": self.api_key, "message": self.message}
        return [name for name, value in named.items() if value.encode() in blob]


async def _session(base_url: str) -> tuple[Secrets, str]:
    person = SimUser(base_url, "store")
    await person.sign_up()
    await person.open_chat("test-echo")
    message = f"store scan {uuid.uuid4().hex} what is in my notes"
    await person.ask(message, tokens=0, within_s=120)
    answer = person.saved_text()
    account = ReflexTab(base_url, person.cookies)
    try:
        await account.open("/account")
        await account.submit(state_name(AccountState), "create_key", {"name": "scan key"})
        await account.wait_for(lambda: _shown_key(account) is not None, 60)
        key = _shown_key(account)
    finally:
        await account.close()
        await person.close()
    assert person.cookies is not None
    assert key is not None
    return Secrets(str(person.cookies.get("yw_session")), key, message), answer


def _shown_key(tab: ReflexTab) -> str | None:
    """The new key, wherever the server sent it to the page (a script or the state)."""
    for text in [*tab.scripts, json.dumps(tab.state)]:
        if found := API_KEY.search(text):
            return found.group(1)
    return None


def _state_files(data_dir: Path) -> list[Path]:
    """Where Reflex's disk manager writes (`.states/` in the app's working directory), and any
    pickle in the app's data directory."""
    states = REPO_ROOT / ".states"
    found = [p for p in states.rglob("*") if p.is_file()] if states.exists() else []
    return found + list(data_dir.rglob("*.pkl"))


def _redis_values(client: redis.Redis) -> list[bytes]:
    """Every value in the database, whatever the key's type (states, locks, limits, broker)."""
    values: list[bytes] = []
    for key in client.scan_iter():
        kind = client.type(key)
        if kind == b"string":
            values.append(client.get(key) or b"")
        elif kind == b"hash":
            values.extend(k + b"=" + v for k, v in client.hgetall(key).items())
        elif kind == b"list":
            values.extend(client.lrange(key, 0, -1))
        elif kind in (b"set", b"zset"):
            values.extend(client.smembers(key) if kind == b"set" else client.zrange(key, 0, -1))
        values.append(key)
    return values


def _app_seal(data_dir: Path) -> StateSeal:
    stored = data_dir / "dev-secrets.json"
    secrets = json.loads(stored.read_text()) if stored.exists() else {}
    keys = secrets.get("chat_message_encryption_secret") or os.environ.get(
        "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET", ""
    )
    return StateSeal([k.strip() for k in keys.split(",") if k.strip()])


def test_the_state_store_holds_no_secret_after_a_session(
    base_url: str, pytestconfig: pytest.Config
) -> None:
    with ThreadPoolExecutor(max_workers=1) as thread:
        secrets, answer = thread.submit(asyncio.run, _session(base_url)).result()
    assert secrets.cookie and secrets.api_key.startswith("yw_") and secrets.message in answer
    data_dir = pytestconfig.stash[SERVER_LOG_KEY].parent

    leaks = {}
    for path in _state_files(data_dir):
        if found := secrets.found_in(path.read_bytes()):
            leaks[str(path)] = found
    assert leaks == {}

    if BACKEND_WORKERS > 1:
        stored = _redis_values(redis.Redis.from_url(E2E_REDIS_URL))
        assert [found for value in stored for found in secrets.found_in(value)] == []
        seal = _app_seal(data_dir)
        opened = [seal.open(value) for value in stored]
        assert any(secrets.message.encode() in value for value in opened if value is not None)


def test_a_new_api_key_shows_once_and_only_in_the_page(admin_context: BrowserContext) -> None:
    page = admin_context.new_page()
    page.goto("/account")
    page.locator("input[name=name]").fill("shown once")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-api-key")
    expect(shown).to_have_text(re.compile(r"^yw_[A-Za-z0-9_\-]{20,}$"))
    page.get_by_test_id("key-done").click()
    expect(shown).to_have_count(0)
    page.reload()
    expect(page.get_by_role("cell", name="shown once")).to_be_visible()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)
