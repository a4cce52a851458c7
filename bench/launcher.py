"""Start and stop what the benchmarks drive: the real app, the test LLM server and Chromium.

The app is started the way tests/e2e/conftest.py does it (production build, one free port, a
temporary data directory with its own SQLite database, pointed at the Ollama-protocol test
server), but with its own Reflex work directories under bench/results/, so a benchmark never
rebuilds the `.web/` that a concurrent `make test` is serving from.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from playwright.sync_api import Browser, Playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STOP_GRACE_SECONDS = 15.0

log = logging.getLogger("bench.launcher")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_executable() -> str | None:
    """PLAYWRIGHT_CHROMIUM, else Debian's chromium (never a browser Playwright downloads)."""
    configured = os.environ.get("PLAYWRIGHT_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    executable = chromium_executable()
    if executable is None:
        raise RuntimeError("Chromium not found: install Debian chromium or set PLAYWRIGHT_CHROMIUM")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def stop_group(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM the process group (reflex starts workers of its own), then SIGKILL what is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_GRACE_SECONDS)


class LLMServer:
    """`python -m bench.llm_server` in its own process group; `url` once started."""

    def __init__(self, tokens_per_second: float, slow_tokens: int) -> None:
        self.tokens_per_second = tokens_per_second
        self.slow_tokens = slow_tokens
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        command = [
            sys.executable,
            "-m",
            "bench.llm_server",
            "--tokens-per-second",
            f"{self.tokens_per_second:g}",
            "--slow-tokens",
            str(self.slow_tokens),
        ]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.url = str(json.loads(self._read_line())["url"])
        log.info("llm test server at %s (%g tokens/s)", self.url, self.tokens_per_second)
        return self.url

    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def _read_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the LLM test server exited (code {self._process.poll()})")
        return line

    def set_slow_tokens(self, count: int) -> None:
        """Change how many tokens "test-slow" streams from the next request on."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.write(f"slow_tokens {count}\n")
        self._process.stdin.flush()
        reply = self._read_line().strip()
        if reply != f"ok {count}":
            raise RuntimeError(f"the LLM test server refused slow_tokens {count}: {reply}")
        self.slow_tokens = count

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # end of input: the server stops by itself
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        stop_group(process)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class AppServer:
    """The real app, `reflex run --env prod`, on a free port with its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        ollama_url: str,
        chat_model: str,
        startup_timeout_s: float = 420.0,
        keep_log: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.ollama_url = ollama_url
        self.chat_model = chat_model
        self.startup_timeout_s = startup_timeout_s
        self.keep_log = keep_log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.startup_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def env(self) -> dict[str, str]:
        bin_dir = Path(sys.executable).parent
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                "REFLEX_USE_NPM": "1",
                "REFLEX_TELEMETRY_ENABLED": "false",
                "REFLEX_CHECK_LATEST_VERSION": "false",
                "NPM_CONFIG_REGISTRY": env.get(
                    "NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"
                ),
                "REFLEX_WEB_WORKDIR": str(RESULTS_DIR / "web"),
                "REFLEX_STATES_WORKDIR": str(RESULTS_DIR / "states"),
                "APP_ENV": "test",
                "DATA_DIR": str(self.data_dir),
                "DATABASE__URL": f"sqlite:///{self.data_dir / 'bench.db'}",
                "API__HOST": "127.0.0.1",
                "API__PORT": str(self.port),
                "API__LOG_LEVEL": os.environ.get("BENCH_APP_LOG_LEVEL", "WARNING"),
                "REDIS__URL": "",
                "LLM__PROVIDER": "ollama",
                "LLM__OLLAMA_BASE_URL": self.ollama_url,
                "LLM__CHAT_MODEL": self.chat_model,
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> str:
        started = time.monotonic()
        env = self.env()
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
            raise RuntimeError(f"migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        reflex = shutil.which("reflex", path=env["PATH"]) or "reflex"
        ports = ["--frontend-port", str(self.port), "--backend-port", str(self.port)]
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(  # noqa: S603 - reflex from our own venv
            [reflex, "run", "--env", "prod", *ports],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_ready()
        self.startup_seconds = time.monotonic() - started
        log.info("app ready at %s after %.1f s", self.url, self.startup_seconds)
        return self.url

    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(f"the app exited with code {code}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                status, body = _get(f"{self.url}/health")
                healthy = status == 200 and json.loads(body) == {"status": "ok"}
                if healthy and _get(f"{self.url}/")[0] == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the app did not answer within {self.startup_timeout_s:.0f} s:\n"
                    + self.log_tail()
                )
            time.sleep(0.5)  # readiness polling, bounded by the deadline

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            stop_group(process)
        if self._log is not None:
            self._log.close()
            self._log = None
            if self.keep_log is not None:
                shutil.copyfile(self.log_path, self.keep_log)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own 127.0.0.1
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
