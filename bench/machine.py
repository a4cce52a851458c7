"""What the numbers were measured on: CPU, cores, memory, OS, Python and the tools involved."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench.dbsetup import POSTGRES_ADMIN_URL
from bench.launcher import REPO_ROOT, chromium_executable


def _first(path: str, key: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return ""


def _run(*command: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed local tools
            command, capture_output=True, text=True, timeout=20, check=False, cwd=REPO_ROOT
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def _os_name() -> str:
    pretty = ""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    return f"{pretty or platform.system()}, kernel {platform.release()}"


def _postgres() -> str:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "not reachable (PostgreSQL variants skipped)"
    return f"{row[0] if row else '?'} at {POSTGRES_ADMIN_URL.rsplit('@', 1)[-1]}"


def _commit() -> str:
    commit = _run("git", "rev-parse", "--short", "HEAD") or "unknown"
    dirty = _run("git", "status", "--porcelain", "--untracked-files=no")
    return f"{commit} (with uncommitted changes)" if dirty else commit


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def describe() -> list[tuple[str, str]]:
    """(label, value) rows for the report's machine table."""
    mem_kb = _first("/proc/meminfo", "MemTotal").split()
    memory = f"{int(mem_kb[0]) / 1024 / 1024:.1f} GiB" if mem_kb else "unknown"
    chromium = chromium_executable()
    return [
        ("CPU", _first("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("Cores", f"{os.cpu_count()} logical"),
        ("Memory", memory),
        ("OS", _os_name()),
        ("Python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("Reflex", metadata.version("reflex")),
        ("Chromium", (_run(chromium, "--version") if chromium else "") or "not found"),
        ("PostgreSQL", _postgres()),
        ("Commit", _commit()),
    ]
