"""Original files on disk, named by document id under DATA_DIR/documents (never by upload name)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from youworker.settings import Settings


class FileStore:
    """Write-once files in one directory, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        return cls(settings.data_dir / "documents")

    def path(self, document_id: uuid.UUID) -> Path:
        # uuid.UUID renders as hex and dashes only, so the path cannot leave `root`.
        return self.root / str(uuid.UUID(str(document_id)))

    def write(self, document_id: uuid.UUID, data: bytes) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path(document_id)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            temporary.replace(target)
        finally:
            temporary.unlink(missing_ok=True)
        return target

    def read(self, document_id: uuid.UUID) -> bytes:
        return self.path(document_id).read_bytes()

    def exists(self, document_id: uuid.UUID) -> bool:
        return self.path(document_id).is_file()

    def delete(self, document_id: uuid.UUID) -> None:
        self.path(document_id).unlink(missing_ok=True)
