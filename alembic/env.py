"""Alembic environment: the URL comes from the app's settings unless the caller passes one."""

from __future__ import annotations

from logging.config import fileConfig

from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import youworker.models  # noqa: F401  registers every table
from alembic import context
from youworker.db import sync_url
from youworker.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _url() -> str:
    return config.attributes.get("database_url") or sync_url(get_settings().database_url)


def _configure(connection_or_url: object, **kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite can only alter tables by copying them.
        render_as_batch=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    _configure(None, url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(None, connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # The app runs the file in WAL mode. Switched here, by one process: several workers
            # starting at once on a file still in rollback mode collide on the switch.
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.commit()  # ends the autobegun transaction: the migrations run in their own
        _configure(None, connection=conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
