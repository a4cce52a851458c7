"""Import files from the server's disk into a person's library (`python -m youworker import`).

For admins with shell access: a folder of a thousand files goes in without the browser. Each
file takes the same path as an upload (type sniffing, size limit, duplicate check), so running
the import again skips what is already there and it can resume after an interruption. Files
are queued for indexing; the app's ingestion workers index them. Upload rate limits do not
apply: the operator on the server is not a flood from the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import Document, DocumentShare, Group, GroupMembership, User
from youworker.services import audit
from youworker.services.documents import collections, library
from youworker.services.documents.filetypes import DocumentRejected, check_size
from youworker.services.documents.storage import FileStore
from youworker.services.errors import Conflict, NotFound, ValidationFailed

log = get_logger(__name__)


class Outcome(StrEnum):
    ADDED = "added"
    ALREADY_THERE = "already there"
    REFUSED = "refused"


@dataclass(frozen=True)
class FileResult:
    label: str  # the path relative to the folder given (or the file's name)
    outcome: Outcome
    reason: str = ""
    document_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ImportTarget:
    user: User
    group: Group | None
    collection_id: uuid.UUID | None = None  # the user's collection the files also go in


def files_to_import(paths: list[Path]) -> list[tuple[Path, str]]:
    """Every regular file under `paths` with its label, in a stable order.

    Folders are walked recursively; hidden entries (".git", ".DS_Store") are skipped, and so
    are symbolic links, so an import never leaves the folders it was given.
    """
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_symlink():
            continue
        if path.is_file():
            found.append((path, path.name))
        elif path.is_dir():
            found.extend((file, file.relative_to(path).as_posix()) for file in _walk(path))
        else:
            raise ValidationFailed({"path": f"{path} is not a file or folder."})
    return found


def _walk(root: Path) -> Iterator[Path]:
    for folder, folders, names in os.walk(root, followlinks=False):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(names):
            file = Path(folder) / name
            if not name.startswith(".") and file.is_file() and not file.is_symlink():
                yield file


async def resolve_target(
    email: str, group_name: str | None, collection_name: str | None = None
) -> ImportTarget:
    """The active account the files go to, the group (one of theirs) to share them with, and
    their collection to put them in (made when they have none of that name)."""
    async with session_scope() as session:
        user = await session.scalar(
            select(User).where(func.lower(col(User.email)) == email.strip().lower())
        )
        if user is None or not user.is_active:
            raise NotFound(f"No active account has the email {email}.")
        group = None
        if group_name is not None:
            group = await session.scalar(
                select(Group)
                .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
                .where(col(Group.name) == group_name, col(GroupMembership.user_id) == user.id)
            )
            if group is None:
                raise NotFound(f"{email} is not a member of a group named {group_name!r}.")
        collection_id = None
        if collection_name is not None:
            collection_id = await _collection_of(session, user, collection_name)
        return ImportTarget(user, group, collection_id)


async def _collection_of(session: AsyncSession, user: User, name: str) -> uuid.UUID:
    wanted = collections.checked_name(name)
    for view in await collections.list_collections(session, user):
        if view.group_id is None and view.name == wanted:
            return uuid.UUID(view.id)
    created = await collections.create_collection(session, user, wanted)
    return uuid.UUID(created.id)


async def import_files(
    target: ImportTarget,
    files: list[tuple[Path, str]],
    store: FileStore,
    max_bytes: int,
    report: Callable[[FileResult], None],
) -> list[FileResult]:
    """Upload each file for the target's user (and share it with the group); one result each."""
    results = []
    for path, label in files:
        result = await _import_one(target, path, label, store, max_bytes)
        log.info("import.file", label=label, outcome=result.outcome.value, reason=result.reason)
        report(result)
        results.append(result)
    if target.collection_id is not None:
        await _collect(target, [r.document_id for r in results if r.document_id is not None])
    return results


async def _collect(target: ImportTarget, document_ids: list[uuid.UUID]) -> None:
    """Put every imported (or already there) document in the target collection."""
    assert target.collection_id is not None
    step = collections.MAX_DOCUMENTS_PER_CALL
    async with session_scope() as session:
        user = await session.get(User, target.user.id)
        for start in range(0, len(document_ids), step):
            batch = document_ids[start : start + step]
            await collections.add_documents(session, user, target.collection_id, batch)


async def _import_one(
    target: ImportTarget, path: Path, label: str, store: FileStore, max_bytes: int
) -> FileResult:
    try:
        data = await asyncio.to_thread(_read_within, path, max_bytes)
    except OSError as exc:
        return FileResult(label, Outcome.REFUSED, f"It cannot be read ({exc.strerror}).")
    except DocumentRejected as exc:
        return FileResult(label, Outcome.REFUSED, exc.message)
    async with session_scope() as session:
        try:
            uploaded = await library.upload(
                session,
                target.user,
                store,
                path.name,
                data,
                max_bytes=max_bytes,
                throttle=False,
                relative_path=label,
            )
        except DocumentRejected as exc:
            return FileResult(label, Outcome.REFUSED, exc.message)
        if target.group is not None:
            await _share(session, target.user, uuid.UUID(uploaded.document.id), target.group)
    outcome = Outcome.ALREADY_THERE if uploaded.duplicate else Outcome.ADDED
    return FileResult(label, outcome, document_id=uuid.UUID(uploaded.document.id))


def _read_within(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; DocumentRejected when empty or over the limit (never read whole)."""
    check_size(path.stat().st_size, max_bytes)
    return path.read_bytes()


async def _share(session: AsyncSession, user: User, document_id: uuid.UUID, group: Group) -> None:
    """Share the document with the group; indexing writes the group onto its vectors."""
    if await session.get(DocumentShare, (document_id, group.id)) is not None:
        return
    session.add(DocumentShare(document_id=document_id, group_id=group.id))
    audit.record(
        session,
        "document.share",
        actor=user,
        resource_type="document",
        resource_id=document_id,
        group_id=group.id,
        via="import",
    )
    await session.commit()
    document = await session.get(Document, document_id)
    if document is not None and document.embedder_key:
        # Indexed before (an earlier import without --group): index it again so its vectors
        # carry the group. Being indexed right now, its job reads the share when it ends.
        with contextlib.suppress(Conflict):
            await library.reindex(session, user, document_id)
