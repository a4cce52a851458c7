"""One uploaded file, or every file of an uploaded .zip, through the same checks as an upload.

The browser's drop zone and the REST API both call `add_upload`: a plain file gives one
outcome, a .zip gives one per member (its path inside the archive, under the archive's name,
becomes the document's folder label). A refused member never stops the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import PurePosixPath

from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.services import audit
from youworker.services.documents import library
from youworker.services.documents.archive import is_zip, unpack_zip
from youworker.services.documents.filetypes import DocumentRejected
from youworker.services.documents.storage import FileStore
from youworker.services.errors import RateLimited, ServiceError, ValidationFailed
from youworker.settings import get_settings


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: a document (new or already there), or a refusal."""

    label: str  # the file's name, or "archive/path/inside" for a file of archive.zip
    result: library.UploadResult | None = None
    error: ServiceError | None = None  # set exactly when result is None


async def add_upload(
    session: AsyncSession,
    actor: User,
    files: FileStore,
    filename: str,
    data: bytes,
    *,
    context: audit.RequestContext | None = None,
) -> list[FileOutcome]:
    """Add one uploaded file, or each file of a .zip; one outcome each, in order.

    `filename` may be a path ("guide/admin/users.md", as a browser sends the files of a dropped
    folder): its folders become the document's folder label.

    A refused file (type, size, content) becomes its outcome, and so does a .zip member over
    the upload budget; anything else (a plain file over the budget, signed out, database
    down) propagates.
    """
    documents = get_settings().documents
    path = _relative(filename) or "file"
    if not is_zip(path, data):
        folder_path = path if "/" in path else None
        name = PurePosixPath(path).name
        return [await _add_one(session, actor, files, name, data, folder_path, context)]
    archive = str(PurePosixPath(path).with_suffix("")) or "archive"
    outcomes: list[FileOutcome] = []
    try:
        members = unpack_zip(
            data,
            max_file_bytes=documents.max_upload_bytes,
            max_total_bytes=documents.max_batch_bytes,
            max_files=documents.max_batch_files,
        )
    except DocumentRejected as exc:
        return [FileOutcome(filename, error=exc)]
    # Each member is decompressed (up to the per-file limit) in a worker thread, not on the
    # event loop that serves every other tab.
    while (member := await asyncio.to_thread(next, members, None)) is not None:
        label = f"{archive}/{member.path}"
        if member.data is None:
            outcomes.append(FileOutcome(label, error=DocumentRejected(member.refusal)))
            continue
        name = PurePosixPath(member.path).name
        try:
            outcomes.append(
                await _add_one(session, actor, files, name, member.data, label, context)
            )
        except RateLimited as exc:
            # Part of the archive is in; the rest is refused with the wait, file by file.
            outcomes.append(FileOutcome(label, error=exc))
    return outcomes or [FileOutcome(filename, error=DocumentRejected("This .zip holds no files."))]


def _relative(path: str) -> str:
    """A client's path without its "./", empty and "." parts ("./guide//a.md" -> "guide/a.md")."""
    return "/".join(part for part in path.replace("\\", "/").split("/") if part not in ("", "."))


async def _add_one(
    session: AsyncSession,
    actor: User,
    files: FileStore,
    name: str,
    data: bytes,
    relative_path: str | None,
    context: audit.RequestContext | None,
) -> FileOutcome:
    label = relative_path or name
    try:
        result = await library.upload(
            session,
            actor,
            files,
            name,
            data,
            max_bytes=get_settings().documents.max_upload_bytes,
            context=context,
            relative_path=relative_path,
        )
    except ValidationFailed as exc:
        return FileOutcome(label, error=exc)
    return FileOutcome(label, result=result)
