"""Running Alembic migrations from code (CLI, app start, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from youworker.db import sync_url

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = sync_url(database_url)
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
