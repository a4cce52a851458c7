"""Turn uploaded bytes into pages of headed sections; every failure is one DocumentRejected.

Package layout: `model` (pages, sections, the shared helpers), one module per format (`pdf`,
`docx`, `markdown`, `html`, `text`), and here the dispatch: detect, parse, one clear reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from youworker.logging import get_logger
from youworker.services.documents.filetypes import (
    DEFAULT_MAX_BYTES,
    DocumentKind,
    DocumentRejected,
    check_size,
    detect_kind,
)
from youworker.services.documents.parsing.docx import check_docx_archive, parse_docx
from youworker.services.documents.parsing.html import parse_html
from youworker.services.documents.parsing.markdown import parse_markdown
from youworker.services.documents.parsing.model import (
    ParsedDocument,
    ParsedPage,
    Section,
    clean_text,
    has_text,
)
from youworker.services.documents.parsing.pdf import open_pdf, parse_pdf
from youworker.services.documents.parsing.text import parse_csv, parse_text

logger = get_logger(__name__)


def parse_document(
    data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Detect the type from the content and parse; raise DocumentRejected with a clear reason."""
    kind = detect_kind(data, filename, max_bytes)
    return parse_as(kind, data, filename)


def parse_file(path: Path, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    """Parse a stored upload; the size is checked before the file is read into memory."""
    check_size(path.stat().st_size, max_bytes)
    return parse_document(path.read_bytes(), filename, max_bytes)


def parse_as(kind: DocumentKind, data: bytes, filename: str = "") -> ParsedDocument:
    """Parse bytes already known to be `kind`."""
    parser = _PARSERS[kind]
    try:
        document = parser(data, filename)
    except DocumentRejected:
        raise
    except (MemoryError, RecursionError) as exc:
        logger.warning("document too complex", kind=kind, error=type(exc).__name__)
        raise DocumentRejected("This file is too complex to read.") from exc
    except Exception as exc:
        # Parsers of untrusted files raise anything; the person uploading gets one clear reason.
        logger.warning("document parse failed", kind=kind, error=repr(exc)[:300])
        raise DocumentRejected(f"This file could not be read as {_NAMES[kind]}.") from exc
    # A PDF's bookmark titles alone do not make it readable; elsewhere a heading is content.
    if not any(has_text(page, headings=kind != "pdf") for page in document.pages):
        raise DocumentRejected(_NO_TEXT.get(kind, "This file contains no text."))
    logger.debug(
        "document parsed",
        kind=kind,
        pages=document.page_count,
        chars=document.char_count,
        warnings=len(document.warnings),
    )
    return document


_NAMES: dict[str, str] = {
    "pdf": "a PDF (it may be damaged or incomplete)",
    "docx": "a Word document (it may be damaged)",
    "markdown": "Markdown",
    "text": "text",
    "csv": "CSV",
    "html": "HTML",
}
_NO_TEXT: dict[str, str] = {
    "pdf": (
        "This PDF contains no extractable text (it may be scanned images; "
        "text recognition is not supported)."
    ),
}


def preflight(kind: DocumentKind, data: bytes) -> None:
    """Cheap checks at upload time, so a damaged or locked file never becomes a record."""
    if kind == "pdf":
        open_pdf(data)
    elif kind == "docx":
        check_docx_archive(data)


_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "markdown": parse_markdown,
    "text": parse_text,
    "csv": parse_csv,
    "html": parse_html,
}


__all__ = [
    "ParsedDocument",
    "ParsedPage",
    "Section",
    "clean_text",
    "parse_as",
    "parse_document",
    "parse_file",
    "preflight",
]
