"""Shared fixtures: isolated settings and a migrated database on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Before any youworker import: tests never read a developer's data directory or secrets.
_TEST_ROOT = Path(tempfile.mkdtemp(prefix="youworker-tests-"))
os.environ.update(
    {
        "APP_ENV": "test",
        "DATA_DIR": str(_TEST_ROOT / "data"),
        "DATABASE__URL": f"sqlite:///{_TEST_ROOT / 'default.db'}",
        "LLM__OLLAMA_BASE_URL": "http://127.0.0.1:9",  # nothing listens: provider probes fail fast
        # The built-in embedder's prepared model is made once per machine, not per test server
        # (tests/unit/test_minilm_model.py prepares one from scratch).
        "MODELS_DIR": str(Path(tempfile.gettempdir()) / "youworker-test-models"),
    }
)
for _name in ("REDIS__URL", "LLM__QDRANT_URL", "LLM__OLLAMA_BASE_URLS"):
    os.environ.pop(_name, None)

import psycopg  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from youworker import db as db_module  # noqa: E402
from youworker import migrations  # noqa: E402
from youworker.models import User  # noqa: E402
from youworker.services import accounts  # noqa: E402
from youworker.settings import get_settings  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_unavailable_reason() -> str | None:
    """None when PostgreSQL answers, else why the PostgreSQL variants are skipped."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return None
    except psycopg.Error as exc:
        name = exc.__class__.__name__
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({name}); set TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """A migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
    path = _TEST_ROOT / "template.db"
    migrations.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated once."""
    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    name = f"youworker_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    ) as conn:
        conn.execute(f"TRUNCATE {tables} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[object]:
    """Point the app's session factory at the test database."""
    test_engine = db_module.create_engine_for(database_url)
    db_module.use_engine(test_engine)
    yield test_engine
    await db_module.dispose_engine()


@pytest.fixture
async def db(engine: object) -> AsyncIterator[AsyncSession]:
    async with db_module.session_scope() as session:
        yield session


ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture
async def admin(db: AsyncSession) -> User:
    return await accounts.register(
        db, email="admin@example.com", password=ADMIN_PASSWORD, display_name="Ada Admin"
    )


@pytest.fixture
def allow_stdio_mcp() -> Iterator[None]:
    """SECURITY__ALLOW_STDIO_MCP_SERVERS=true, as an operator sets it (settings are cached)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECURITY__ALLOW_STDIO_MCP_SERVERS", "true")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
async def alice(db: AsyncSession, admin: User) -> User:
    return await accounts.register(
        db, email="alice@example.com", password="alice-password-1", display_name="Alice"
    )


@pytest.fixture
async def bob(db: AsyncSession, admin: User) -> User:
    return await accounts.register(
        db, email="bob@example.com", password="bob-password-12", display_name="Bob"
    )


async def count_rows(session: AsyncSession, table: str) -> int:
    return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_TEST_ROOT, ignore_errors=True)
