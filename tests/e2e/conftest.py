"""The e2e harness: one production build of the app on a free port, driven by Debian's Chromium.

The server gets its own data directory and SQLite database, so the very first registration is
deterministic: the `admin` fixture makes it before any test runs (every test's `base_url`
depends on it).

Playwright, the browser and the server live in *package* scope (pytest-playwright uses session
scope): the sync API leaves its event loop marked as running in the main thread until
`Playwright.stop()`, which would break every pytest-asyncio test collected after this package.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    Playwright,
    StorageState,
    expect,
    sync_playwright,
)
from pytest_playwright.pytest_playwright import CreateContextCallback

from tests.ollama_server import OllamaTestServer, ServerConfig

from .app_server import free_port, log_tail, running_app, server_env
from .flows import Account, new_account, register

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_LOG_KEY = pytest.StashKey[Path]()
BACKEND_WORKERS = int(os.environ.get("E2E_BACKEND_WORKERS", "1"))
E2E_REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/9")

# Reflex pages hydrate and then round-trip the websocket; give assertions room on slow machines.
expect.set_options(timeout=15_000)


def _chromium_executable() -> str | None:
    configured = os.environ.get("PLAYWRIGHT_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    found = _chromium_executable()
    if found is None:
        pytest.skip("Chromium not found: install Debian chromium or set PLAYWRIGHT_CHROMIUM")
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args(chromium_executable: str) -> dict[str, Any]:
    """Overrides pytest-playwright's: never a downloaded browser, always the system Chromium."""
    return {"executable_path": chromium_executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")
def ollama_server() -> Iterator[OllamaTestServer]:
    """The scripted Ollama the app talks to, in this process so tests can script replies."""
    server = OllamaTestServer(config=ServerConfig(tokens_per_second=40, slow_tokens=400))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def app_url(
    chromium_executable: str,
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
    ollama_server: OllamaTestServer,
) -> Iterator[str]:
    """Build and start the app once for the e2e tests (prod mode, one port); yields its URL."""
    data_dir = tmp_path_factory.mktemp("e2e-app")
    port = free_port()
    env = server_env(data_dir, port, BACKEND_WORKERS, E2E_REDIS_URL)
    env.update(
        {
            # The Ollama-protocol test server: the app's real client over real HTTP.
            "LLM__PROVIDER": "ollama",
            "LLM__OLLAMA_BASE_URL": ollama_server.url,
            "LLM__CHAT_MODEL": "test-plain",
            # The tools page registers stdio MCP servers (off by default; with the password).
            "SECURITY__ALLOW_STDIO_MCP_SERVERS": "true",
            # Administration from this machine's own address only: every test connects from
            # 127.0.0.1; test_attack_admin_allowlist connects from 127.0.0.2 as an outsider.
            "SECURITY__IP_ALLOWLIST": "127.0.0.1/32, ::1/128",
            "SECURITY__IP_ALLOWLIST_SCOPE": "admin",
        }
    )
    pytestconfig.stash[SERVER_LOG_KEY] = data_dir / "server.log"
    if BACKEND_WORKERS > 1:
        import redis

        try:
            redis.Redis.from_url(E2E_REDIS_URL).flushdb()  # no states or limits from earlier runs
        except redis.exceptions.ConnectionError as exc:
            pytest.skip(f"{BACKEND_WORKERS} backend workers need Redis at {E2E_REDIS_URL}: {exc}")
    with running_app(data_dir, port, env) as url:
        yield url


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Overrides pytest-playwright's session-scoped one; stopped when this package is done."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    browser_type: BrowserType = getattr(playwright, browser_name)
    return browser_type


@pytest.fixture(scope="package")
def browser(
    browser_type: BrowserType, browser_type_launch_args: dict[str, Any]
) -> Iterator[Browser]:
    browser = browser_type.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    base_url: str,
    _pw_artifacts_folder: tempfile.TemporaryDirectory[str],
) -> dict[str, Any]:
    """What every `new_context()` gets: the app's URL (and video recording when asked for)."""
    args: dict[str, Any] = {"base_url": base_url}
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        args["record_video_dir"] = _pw_artifacts_folder.name
    return args


@pytest.fixture(scope="package")
def admin_account(app_url: str, browser: Browser) -> tuple[Account, StorageState]:
    """The first registration on the fresh database; returns it with its signed-in storage."""
    account = new_account("admin")
    context = browser.new_context(base_url=app_url)
    try:
        register(context.new_page(), account)
        return account, context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="package")
def admin(admin_account: tuple[Account, StorageState]) -> Account:
    return admin_account[0]


@pytest.fixture(scope="package")
def base_url(app_url: str, admin: Account) -> str:
    """Overrides pytest-playwright's: every context targets the app, after the admin exists."""
    return app_url


@pytest.fixture
def admin_context(
    new_context: CreateContextCallback, admin_account: tuple[Account, StorageState]
) -> BrowserContext:
    """A browser context already signed in as the admin (its own Reflex client state)."""
    return new_context(storage_state=admin_account[1])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the server log's tail to failing e2e tests."""
    report = yield
    log_path = item.config.stash.get(SERVER_LOG_KEY, None)
    if report.failed and log_path is not None and item.get_closest_marker("e2e"):
        report.sections.append(("server log (tail)", log_tail(log_path, 80)))
    return report
