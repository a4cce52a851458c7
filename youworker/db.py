"""Database engines and sessions: the one place that knows how to reach the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, CursorResult, event, func
from sqlalchemy.engine import Result, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.elements import SQLCoreOperations

from youworker.logging import get_logger
from youworker.settings import get_settings

T = TypeVar("T")
log = get_logger(__name__)

_engine: AsyncEngine | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None


def async_url(url: str) -> str:
    """The asyncpg / aiosqlite form of a database URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {backend}")


def sync_url(url: str) -> str:
    """The psycopg / pysqlite form of a database URL (Alembic and Reflex's sync engine)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database: {backend}")


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def contains(column: SQLCoreOperations[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; `%`, `_` and `\\` in `text` match only themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


LOCKED_RETRIES = 5


async def retry_when_locked(work: Callable[[], Awaitable[T]]) -> T:
    """Run a unit of work again when SQLite says "database is locked".

    Under WAL a transaction that read before it writes fails at once (no busy wait) when another
    connection committed in between; the whole unit of work, retried, then succeeds. Other
    errors, and every error on PostgreSQL, pass straight through.
    """
    for attempt in range(LOCKED_RETRIES):
        try:
            return await work()
        except OperationalError as exc:
            if attempt == LOCKED_RETRIES - 1 or "database is locked" not in str(exc.orig):
                raise
            log.info("db.locked_retry", attempt=attempt + 1)
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the ingestion worker and the app read while one writes; FKs are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL is a property of the file, set once (by the first connection, normally `migrate`).
    # Setting it again takes a lock: several workers starting at once on the same file failed
    # with "database is locked" there.
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() != "wal":
        cursor.execute("PRAGMA journal_mode=WAL")
    # Safe with WAL (no corruption); a power cut may lose the last commits, not the database.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine_for(
    url: str, echo: bool = False, pool_size: int = 10, max_overflow: int = 20
) -> AsyncEngine:
    """An async engine for `url` with per-backend tuning (the pool sizes apply to PostgreSQL)."""
    target = async_url(url)
    if target.startswith("sqlite"):
        engine = create_async_engine(target, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        target, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow
    )


def get_engine() -> AsyncEngine:
    global _engine, _session_factory
    if _engine is None:
        settings = get_settings()
        if not settings.database.url:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        _engine = create_engine_for(
            settings.database_url,
            settings.database.echo,
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
        )
        _session_factory = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def use_engine(engine: AsyncEngine) -> None:
    """Point the process at another engine (tests, CLI)."""
    global _engine, _session_factory
    _engine = engine
    _session_factory = async_sessionmaker(engine, expire_on_commit=False)


async def dispose_engine() -> None:
    global _engine, _session_factory
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _session_factory = None


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """A session that rolls back on error; services commit their own unit of work."""
    get_engine()
    assert _session_factory is not None
    async with _session_factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
