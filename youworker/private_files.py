"""Files this installation writes are private to the account that runs it.

The database, its WAL, uploaded originals, the vector store, dev secrets and anything else under
DATA_DIR hold people's data. Every entry point (the CLI, hence `migrate` and `worker`, and the
app's backend workers) sets umask 077 before it writes anything, so new files are 0600 and new
directories 0700 whatever the shell's umask; DATA_DIR itself and an SQLite database file that an
older version created readable for others are tightened when found.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from youworker.logging import get_logger
from youworker.settings import Settings

log = get_logger(__name__)

PRIVATE_UMASK = 0o077


def _tighten(path: Path, mode: int) -> None:
    """chmod `path` to `mode` when it exists, is ours and is open to others."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid() or not stat.S_IMODE(info.st_mode) & 0o077:
        return
    os.chmod(path, mode)
    log.info("private_files.tightened", path=str(path), mode=oct(mode))


def sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def make_private(settings: Settings) -> None:
    """umask 077 for this process; DATA_DIR (0700) and an SQLite file (0600) made private."""
    os.umask(PRIVATE_UMASK)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(settings.data_dir, 0o700)
    database = sqlite_file(settings.database_url)
    if database is not None:
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _tighten(path, 0o600)
