"""Upload checks before parsing: the real type from the content, the size, and a harmless name."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath
from typing import Literal

from youworker.services.errors import ValidationFailed

DocumentKind = Literal["pdf", "docx", "markdown", "text", "csv", "html"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
NAME_MAX_CHARS = 200
FOLDER_MAX_CHARS = 500
SUPPORTED_TYPES = "PDF, Word (.docx), Markdown, plain text, HTML and CSV"

KIND_LABELS: dict[str, str] = {
    "pdf": "a PDF",
    "docx": "a Word document (.docx)",
    "markdown": "a Markdown file",
    "text": "a plain text file",
    "csv": "a CSV file",
    "html": "an HTML file",
}

EXTENSION_KINDS: dict[str, DocumentKind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".mdown": "markdown",
    ".mkd": "markdown",
    ".txt": "text",
    ".text": "text",
    ".log": "text",
    ".csv": "csv",
    ".tsv": "csv",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}
TEXT_KINDS: frozenset[str] = frozenset({"markdown", "text", "csv", "html"})

# Signatures of common files that are not documents, so a refusal can say what the file really is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image data"),
    (b"\xff\xd8\xff", "JPEG image data"),
    (b"GIF87a", "GIF image data"),
    (b"GIF89a", "GIF image data"),
    (b"BM", "BMP image data"),
    (b"II*\x00", "TIFF image data"),
    (b"MM\x00*", "TIFF image data"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office file (.doc, .xls or .ppt)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an XZ archive"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
    (b"ID3", "MP3 audio"),
    (b"OggS", "Ogg audio or video"),
    (b"fLaC", "FLAC audio"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x00asm", "a WebAssembly module"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_HTML_START = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_NAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')


class DocumentRejected(ValidationFailed):
    """An upload that cannot become a document; `message` says why, for the person uploading."""

    code = "document_rejected"

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__({field: message})
        # The per-field join would read "file: ..."; the file list shows the message on its own.
        self.message = message
        self.args = (message,)


def safe_display_name(raw_name: str | None) -> str:
    """A harmless display name: no directories, control characters or dot-only names."""
    name = unicodedata.normalize("NFC", raw_name or "")
    # Browsers on Windows send "C:\\Users\\me\\file.pdf": treat both separators as directories.
    name = PurePosixPath(name.replace("\\", "/")).name
    name = _NAME_FORBIDDEN.sub("", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = " ".join(name.split()).strip(" .")
    if not name or set(name) <= {"."}:
        return "untitled"
    if len(name) > NAME_MAX_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            name = stem[: NAME_MAX_CHARS - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:NAME_MAX_CHARS].rstrip(" .")
    return name or "untitled"


def safe_folder_label(raw_path: str | None) -> str | None:
    """The folders of a relative path as a harmless label ("a/b" for "a/b/c.pdf"), or None.

    Each folder is cleaned like a file name; "." and ".." are dropped (it is only a label,
    but a label must not suggest a place outside the upload).
    """
    parts = (raw_path or "").replace("\\", "/").split("/")[:-1]
    folders = [safe_display_name(part) for part in parts if part.strip() and part.strip(" .") != ""]
    label = "/".join(folder for folder in folders if folder != "untitled")
    return label[:FOLDER_MAX_CHARS].rstrip("/") or None


def extension_of(filename: str) -> str:
    """The lower-cased extension with its dot ("" when there is none)."""
    suffix = PurePosixPath(safe_display_name(filename)).suffix
    return suffix.lower()


def format_size(size: int) -> str:
    """A byte count for people (50 MB, 1.5 KB)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(value):,} bytes"
            return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def check_size(size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse an empty file or one over the limit, naming the limit."""
    if size <= 0:
        raise DocumentRejected("This file is empty.")
    if size > max_bytes:
        raise DocumentRejected(
            f"This file is {format_size(size)}; the limit is {format_size(max_bytes)}."
        )


def describe_content(data: bytes) -> str | None:
    """What the bytes look like when they are a known non-document format (None otherwise)."""
    head = data[:64]
    for magic, label in _MAGIC:
        if head.startswith(magic):
            return label
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP image data"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV audio"
    if head[4:8] == b"ftyp":
        return "MP4 or QuickTime video"
    return None


def _zip_label(data: bytes) -> DocumentKind | str:
    """ "docx" for a Word document, else a description of the archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return "a damaged ZIP archive"
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "an Excel spreadsheet (.xlsx)"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint presentation (.pptx)"
    if "mimetype" in names and "content.xml" in names:
        return "an OpenDocument file"
    if "META-INF/container.xml" in names:
        return "an EPUB e-book"
    return "a ZIP archive"


def decode_text(data: bytes) -> str | None:
    """The text of the bytes (UTF-8, UTF-16 with a BOM, or Windows-1252), None when binary."""
    if data.startswith(codecs.BOM_UTF8):
        text = _try_decode(data[len(codecs.BOM_UTF8) :], "utf-8")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _try_decode(data, "utf-16")
    else:
        # NUL bytes never occur in text files but are everywhere in binary formats.
        if b"\x00" in data[:8192]:
            return None
        text = _try_decode(data, "utf-8")
        if text is None:
            text = _try_decode(data, "cp1252") or data.decode("latin-1")
    if text is None:
        return None
    sample = text[:8192]
    if sample and len(_CONTROL.findall(sample)) > len(sample) * 0.05:
        return None
    return text


def _try_decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def looks_like_html(text: str) -> bool:
    """True when the text starts like an HTML document (not merely containing a tag)."""
    return _HTML_START.match(text[:4096]) is not None


def sniff_kind(data: bytes) -> tuple[DocumentKind | None, str]:
    """The document kind the content shows, or None and a description of what it is instead."""
    if data[:1024].lstrip(b"\x00\t\n\r\x0c ").startswith(b"%PDF-"):
        return "pdf", "a PDF"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        label = _zip_label(data)
        return ("docx", KIND_LABELS["docx"]) if label == "docx" else (None, label)
    if data.startswith(b"{\\rtf"):
        return None, "a Rich Text Format (RTF) document"
    # Text first: short signatures such as "BM" or "MZ" can also begin an ordinary text file.
    text = decode_text(data)
    if text is not None:
        return ("html", "HTML") if looks_like_html(text) else ("text", "plain text")
    return None, describe_content(data) or "binary data"


def detect_kind(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentKind:
    """The type to parse the upload as, from its content; refuse unsupported or mislabelled."""
    check_size(len(data), max_bytes)
    ext = extension_of(filename)
    claimed = EXTENSION_KINDS.get(ext)
    if ext and claimed is None:
        raise DocumentRejected(
            f"Files of type {ext} are not supported. Supported types: {SUPPORTED_TYPES}."
        )
    found, description = sniff_kind(data)
    if found is None:
        if claimed is None:
            raise DocumentRejected(
                "This file is not a supported document type: its content looks like "
                f"{description}. Supported types: {SUPPORTED_TYPES}."
            )
        raise DocumentRejected(
            f"This file is not {KIND_LABELS[claimed]}: its content looks like {description}."
        )
    if claimed is None or claimed == found:
        return found
    if found == "pdf" or found == "docx":
        raise DocumentRejected(
            f"This file is named {ext} but its content is {KIND_LABELS[found]}. "
            "Rename it with the right extension and upload it again."
        )
    if claimed == "pdf" or claimed == "docx":
        raise DocumentRejected(
            f"This file is not {KIND_LABELS[claimed]}: its content is {description}."
        )
    # Among text types the extension decides, except that a web page saved as .txt is HTML.
    return "html" if claimed == "text" and found == "html" else claimed
