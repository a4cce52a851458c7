"""Environment and throwaway databases for the in-process benchmarks (SQLite, and PostgreSQL
when one answers), set up before any `youworker` import reads the settings."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def configure_app_env(data_dir: Path, llm_url: str = "http://127.0.0.1:9", model: str = "") -> None:
    """Settings for an in-process app: test mode, its own secrets, no Redis, this LLM server."""
    os.environ.update(
        {
            "APP_ENV": "test",
            "DATA_DIR": str(data_dir),
            "DATABASE__URL": f"sqlite:///{data_dir / 'unused.db'}",
            "REDIS__URL": "",
            "LLM__PROVIDER": "ollama",
            "LLM__OLLAMA_BASE_URL": llm_url,
            "LLM__CHAT_MODEL": model or "test-slow",
        }
    )
    os.environ.pop("LLM__QDRANT_URL", None)


def postgres_unavailable_reason() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__})"


@dataclass(frozen=True)
class Database:
    backend: str  # "SQLite" | "PostgreSQL"
    url: str


@contextlib.contextmanager
def sqlite_database(directory: Path, name: str) -> Iterator[Database]:
    """A migrated SQLite file (the embedded default)."""
    from youworker import migrations

    url = f"sqlite:///{directory / name}"
    migrations.upgrade(url)
    yield Database("SQLite", url)


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[Database]:
    """A throwaway, migrated PostgreSQL database, dropped afterwards."""
    from youworker import migrations

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield Database("PostgreSQL", url)
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
