"""Turns on the embedded store for several processes on one machine (several workers, no Qdrant
server): a call takes an exclusive file lock, and when the outermost call of a thread ends the
store closes its shards, so the next process sees its writes. Slower than keeping shards open (a
reopen per call); a Qdrant server (LLM__QDRANT_URL) is the choice for large libraries.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_FILE = ".lock"


class ProcessTurns:
    """An exclusive lock over a directory, shared by processes; `release` runs before it ends."""

    def __init__(self, root: Path, release: Callable[[], None]) -> None:
        self.root = root
        self._release = release
        self._in_process = threading.Lock()  # one call of this process at a time
        self._held = threading.local()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Held by the outermost call of this thread; nested calls run inside it."""
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
                    self._release()
            finally:
                os.close(fd)  # releases the lock
