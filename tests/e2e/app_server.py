"""Start the real app for browser tests: a production build on a free port, own data directory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = float(os.environ.get("E2E_STARTUP_TIMEOUT", "420"))
STOP_GRACE_SECONDS = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, port: int, workers: int = 1, redis_url: str = "") -> dict[str, str]:
    """The app's environment: its own data directory and SQLite file, generous rate limits."""
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
            # Were Reflex ever to keep tab states on disk again, it would write them at once
            # (not 2 s later), so test_attack_state_store's scan sees them.
            "REFLEX_STATE_MANAGER_DISK_DEBOUNCE": "0",
            "DATA_DIR": str(data_dir),
            "DATABASE__URL": f"sqlite:///{data_dir / 'e2e.db'}",
            "API__HOST": "127.0.0.1",
            "API__PORT": str(port),
            # One worker on in-process state by default; several share state, rate limits and
            # notices through Redis.
            "REDIS__URL": redis_url if workers > 1 else "",
            "GRANIAN_WORKERS": str(workers),
            # Every test comes from 127.0.0.1 and registers, signs in, sends and uploads a lot:
            # generous limits there. The per-account sign-in lockout keeps its defaults (tested).
            "RATE_LIMIT__SIGN_IN_PER_IP": "1000/minute",
            "RATE_LIMIT__REGISTER_PER_IP": "1000/minute",
            "RATE_LIMIT__MESSAGES_PER_USER": "1000/minute",
            "RATE_LIMIT__API_PER_KEY": "1000/minute",
        }
    )
    for name in [name for name in env if name.startswith("LLM__")]:
        del env[name]  # the caller says which model server, if any
    return env


def log_tail(log_path: Path, lines: int = 60) -> str:
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
                + log_tail(log_path)
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
                f"server log {log_path}:\n" + log_tail(log_path)
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


@contextlib.contextmanager
def running_app(data_dir: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """Migrate, build and serve the app (`reflex run --env prod`); yields its URL, then stops it.

    The server's output goes to `data_dir / "server.log"`.
    """
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
    log_path = data_dir / "server.log"
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
