"""The embedded vector store shared by several processes on one machine (several workers, no
Qdrant server): each call takes an exclusive file lock, opens the shards it needs and closes
them again, so the next process sees its writes. Slower than keeping shards open (a reopen per
call); a Qdrant server (LLM__QDRANT_URL) is the choice for large libraries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from youworker.services.documents.vectorstore import ChunkPoint, EdgeVectorStore
from youworker.services.documents.vectorstore.edge import _EdgeCollection

LOCK_FILE = ".lock"


class SharedEdgeVectorStore(EdgeVectorStore):
    def __init__(self, root: Path, *, max_search_threads: int | None = None) -> None:
        super().__init__(root, max_search_threads=max_search_threads)
        self._in_process = threading.Lock()  # one call of this process at a time
        self._held = threading.local()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Held by the outermost call of this thread; its shards are closed when it ends."""
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with self._in_process:
            fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks this thread until the other process is done
                self._held.depth = 1
                try:
                    yield
                finally:
                    self._held.depth = 0
                    self._close_sync()
            finally:
                os.close(fd)  # releases the lock

    def _open(self, key: str, dimension: int | None) -> _EdgeCollection | None:
        with self._exclusive():
            return super()._open(key, dimension)

    def _run(self, key: str, action: str, fn: Any, default: Any = None) -> Any:
        with self._exclusive():
            return super()._run(key, action, fn, default)

    def _upsert_sync(self, key: str, points: list[ChunkPoint]) -> None:
        with self._exclusive():
            super()._upsert_sync(key, points)
