"""The SQLite file is in WAL mode once migrated, so workers starting together never switch it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from youworker.migrations import upgrade


def test_migrate_leaves_the_file_in_wal_mode(tmp_path: Path) -> None:
    target = tmp_path / "fresh.db"
    upgrade(f"sqlite:///{target}")
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
