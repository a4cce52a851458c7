"""Unpack an uploaded .zip into the files it holds, refusing the dangerous ones one by one.

A .zip is a batch of documents: each member becomes an upload with its path as its folder
label. Nothing is ever written to disk by path, and every member is checked before it is read:

- a path that leaves the archive (absolute, "..", a drive letter) is refused;
- links, encrypted members and archives inside the archive are refused;
- a member over the per-file limit, or that expands more than MAX_RATIO times (a zip bomb),
  is refused, and reading stops at the limit whatever the header claims;
- the whole archive may expand to at most the batch size, and hold at most the batch count.

Folders, and the clutter archivers add (`__MACOSX/`, `.DS_Store`, hidden files), are skipped
silently.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from youworker.services.documents.filetypes import DocumentRejected, format_size

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Formats that hold other files: never unpacked a second time.
ARCHIVE_SUFFIXES = frozenset(
    {".zip", ".jar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".cab", ".iso"}
)
# Text compresses well (10-20x); a member far beyond that is a bomb, not a document.
MAX_RATIO = 200
# Below this size the ratio is not looked at: a tiny file of spaces is harmless.
RATIO_FLOOR_BYTES = 1024 * 1024


def is_zip(name: str, data: bytes) -> bool:
    """An upload to unpack: named .zip and starting like one."""
    return PurePosixPath(name.lower()).suffix == ".zip" and data[:4] in ZIP_MAGIC


@dataclass(frozen=True)
class Member:
    """One file of the archive: its bytes, or why it was refused (`data` is None then)."""

    path: str
    data: bytes | None = None
    refusal: str = ""


def unpack_zip(
    data: bytes, *, max_file_bytes: int, max_total_bytes: int, max_files: int
) -> Iterator[Member]:
    """Each file of the .zip in order, read or refused (one at a time, as it is iterated).

    DocumentRejected at once when the .zip cannot be opened.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DocumentRejected("This .zip file is damaged and cannot be opened.") from exc
    return _members(archive, max_file_bytes, max_total_bytes, max_files)


def _members(
    archive: zipfile.ZipFile, max_file_bytes: int, max_total_bytes: int, max_files: int
) -> Iterator[Member]:
    with archive:
        total = 0
        files = 0
        for info in archive.infolist():
            path = info.filename
            if info.is_dir() or _is_clutter(path):
                continue
            files += 1
            refusal = _refusal(info, max_file_bytes)
            if refusal is None and files > max_files:
                refusal = (
                    f"The archive holds more than {max_files} files; only the first are added."
                )
            if refusal is None and total + info.file_size > max_total_bytes:
                refusal = f"The archive expands to more than {format_size(max_total_bytes)}."
            if refusal is not None:
                yield Member(path, refusal=refusal)
                continue
            content = _read_within(archive, info, max_file_bytes)
            if isinstance(content, str):
                yield Member(path, refusal=content)
                continue
            total += len(content)
            if content[:4] in ZIP_MAGIC:
                yield Member(path, refusal="Archives inside the archive are not unpacked.")
                continue
            yield Member(path, data=content)


def _is_clutter(path: str) -> bool:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return any(
        part == "__MACOSX" or (part.startswith(".") and part not in (".", "..")) for part in parts
    )


def _refusal(info: zipfile.ZipInfo, max_file_bytes: int) -> str | None:
    """Why this member is not read, from its header alone (None: read it)."""
    path = info.filename.replace("\\", "/")
    parts = PurePosixPath(path).parts
    if path.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
        return "Its path leads outside the archive."
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "Links are not followed."
    if info.flag_bits & 0x1:
        return "It is encrypted."
    if PurePosixPath(path.lower()).suffix in ARCHIVE_SUFFIXES:
        return "Archives inside the archive are not unpacked."
    if info.file_size > max_file_bytes:
        return (
            f"It expands to {format_size(info.file_size)}; the limit is "
            f"{format_size(max_file_bytes)}."
        )
    compressed = max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size / compressed > MAX_RATIO:
        return "It expands far more than a document does (a zip bomb?)."
    return None


def _read_within(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | str:
    """The member's bytes, or why not: more than `limit` (a lying header), or damaged."""
    try:
        with archive.open(info) as member:
            content = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError):
        return "It is damaged or compressed in a way that cannot be read."
    if len(content) > limit:
        return "It is larger than its header says (refused)."
    return content
