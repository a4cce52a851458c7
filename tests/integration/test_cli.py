"""The `youworker` command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    args: list[str], tmp_path: Path, timeout: float = 120, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m youworker ARGS` with its own data directory and SQLite file under tmp_path."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE__URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "youworker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_migrate_create_admin_and_check(tmp_path: Path) -> None:
    assert run_cli(["migrate"], tmp_path).returncode == 0
    created = run_cli(
        ["create-admin", "Root@Example.com", "--name", "Root"],
        tmp_path,
        YOUWORKER_ADMIN_PASSWORD="root-password-1",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert "created admin root@example.com" in created.stdout
    again = run_cli(
        ["create-admin", "root@example.com"], tmp_path, YOUWORKER_ADMIN_PASSWORD="root-password-1"
    )
    assert again.returncode == 1 and "already exists" in again.stdout
    check = run_cli(["check"], tmp_path)
    assert check.returncode == 0, check.stdout
    assert "database: ok" in check.stdout
    assert "llm: degraded" in check.stdout


def test_check_reports_a_bad_setting(tmp_path: Path) -> None:
    result = run_cli(["check"], tmp_path, SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET="nope")
    assert result.returncode == 2
    assert "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET" in result.stdout


def test_check_fails_when_the_database_is_down(tmp_path: Path) -> None:
    result = run_cli(["check"], tmp_path, DATABASE__URL="postgresql://postgres@127.0.0.1:9/none")
    assert result.returncode == 1
    assert "database: down" in result.stdout
