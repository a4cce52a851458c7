"""The e2e harness: one production build of the app on a free port, driven by Debian's Chromium.

The server gets its own data directory and SQLite database, so the very first registration is
deterministic: the `admin` fixture makes it before any test runs (every test's `base_url`
depends on it).

Playwright, the browser and the server live in *package* scope (pytest-playwright uses session
scope): the sync API leaves its event loop marked as running in the main thread until
`Playwright.stop()`, which would break every pytest-asyncio test collected after this package.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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

from .flows import Account, new_account, register

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = float(os.environ.get("E2E_STARTUP_TIMEOUT", "420"))
STOP_GRACE_SECONDS = 15.0
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path, port: int, ollama_url: str) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "REFLEX_USE_NPM": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "NPM_CONFIG_REGISTRY": env.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"),
            "APP_ENV": "test",
            "DATA_DIR": str(data_dir),
            "DATABASE__URL": f"sqlite:///{data_dir / 'e2e.db'}",
            "API__HOST": "127.0.0.1",
            "API__PORT": str(port),
            # One worker on in-process state by default; E2E_BACKEND_WORKERS=3 runs the suite
            # against several workers sharing state, rate limits and notices through Redis.
            "REDIS__URL": E2E_REDIS_URL if BACKEND_WORKERS > 1 else "",
            "GRANIAN_WORKERS": str(BACKEND_WORKERS),
            # The Ollama-protocol test server: the app's real client over real HTTP.
            "LLM__PROVIDER": "ollama",
            "LLM__OLLAMA_BASE_URL": ollama_url,
            "LLM__CHAT_MODEL": "test-plain",
            # Every test comes from 127.0.0.1 and registers, signs in, sends and uploads a lot:
            # generous limits there. The per-account sign-in lockout keeps its defaults (tested).
            "RATE_LIMIT__SIGN_IN_PER_IP": "1000/minute",
            "RATE_LIMIT__REGISTER_PER_IP": "1000/minute",
            "RATE_LIMIT__MESSAGES_PER_USER": "1000/minute",
            "RATE_LIMIT__UPLOADS_PER_USER": "1000/minute",
            "RATE_LIMIT__API_PER_KEY": "1000/minute",
        }
    )
    return env


def _log_tail(log_path: Path, lines: int = 60) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # only our own 127.0.0.1 server
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        code = process.poll()
        if code is not None:
            raise RuntimeError(
                f"the app exited with code {code} before it was ready; server log {log_path}:\n"
                + _log_tail(log_path)
            )
        try:
            status, body = _get(f"{url}/health")
            if status == 200 and json.loads(body) == {"status": "ok"} and _get(f"{url}/")[0] == 200:
                return
        except (OSError, ValueError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the app did not answer {url}/health within {STARTUP_TIMEOUT_SECONDS:.0f} s; "
                f"server log {log_path}:\n" + _log_tail(log_path)
            )
        time.sleep(0.5)  # readiness polling interval, bounded by the deadline above


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the whole process group: reflex starts granian workers of its own."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):  # also ends workers that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_SECONDS)


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
    port = _free_port()
    env = _server_env(data_dir, port, ollama_server.url)
    log_path = data_dir / "server.log"
    pytestconfig.stash[SERVER_LOG_KEY] = log_path

    if BACKEND_WORKERS > 1:
        import redis

        try:
            redis.Redis.from_url(E2E_REDIS_URL).flushdb()  # no states or limits from earlier runs
        except redis.exceptions.ConnectionError as exc:
            pytest.skip(f"{BACKEND_WORKERS} backend workers need Redis at {E2E_REDIS_URL}: {exc}")
    migrate = subprocess.run(
        [sys.executable, "-m", "youworker", "migrate"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if migrate.returncode != 0:
        raise RuntimeError(
            f"`python -m youworker migrate` failed:\n{migrate.stdout}\n{migrate.stderr}"
        )

    reflex = shutil.which("reflex", path=env["PATH"]) or "reflex"
    ports = ["--frontend-port", str(port), "--backend-port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [reflex, "run", "--env", "prod", *ports],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, url, log_path)
        yield url
    finally:
        _stop(process)


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
        report.sections.append(("server log (tail)", _log_tail(log_path, 80)))
    return report
