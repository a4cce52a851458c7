"""PDF: pypdf per page, with the outline (bookmarks) as headings."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from youworker.logging import get_logger
from youworker.services.documents.filetypes import (
    DocumentRejected,
)
from youworker.services.documents.parsing.model import (
    ParsedDocument,
    ParsedPage,
    Section,
    clean_text,
    has_text,
    one_line,
)

logger = get_logger(__name__)


def open_pdf(data: bytes) -> tuple[Any, Any]:
    """The reader and its pages; DocumentRejected when locked, damaged or empty."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    locked = "This PDF is password-protected. Remove the password and upload it again."
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Owner-password-only PDFs open with the empty user password; these need a real one.
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentRejected(locked)
        pages = reader.pages
        page_total = len(pages)
    except DocumentRejected:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentRejected(locked) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        logger.info("pdf unreadable", error=repr(exc)[:300])
        raise DocumentRejected(
            "This file could not be read as a PDF (it may be damaged or incomplete)."
        ) from exc
    if page_total == 0:
        raise DocumentRejected("This PDF has no pages.")
    return reader, pages


def parse_pdf(data: bytes, filename: str = "") -> ParsedDocument:
    """Text per page with pypdf; bookmarks, when present, become the pages' headings."""
    reader, pages = open_pdf(data)
    page_total = len(pages)

    outline = _pdf_outline(reader)
    warnings: list[str] = []
    failed: list[int] = []
    result: list[ParsedPage] = []
    current: tuple[str, int, tuple[str, ...]] | None = None
    for index in range(page_total):
        try:
            raw = pages[index].extract_text()
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            # One broken page should not cost the rest of the document.
            logger.info("pdf page unreadable", page=index + 1, error=repr(exc)[:200])
            failed.append(index + 1)
            raw = ""
        text = clean_text(unicodedata.normalize("NFKC", raw or ""))
        sections, current = _split_by_outline(text, outline.get(index, []), current)
        result.append(ParsedPage(number=index + 1, sections=sections))
    if failed and len(failed) == page_total:
        raise DocumentRejected(
            "This file could not be read as a PDF (it may be damaged or incomplete)."
        )
    if failed:
        warnings.append(f"Text could not be read from page(s) {_page_list(failed)}.")
    empty = [page.number for page in result if not has_text(page)]
    if empty and len(empty) < page_total:
        warnings.append(f"No text found on page(s) {_page_list(empty)} (images only?).")
    title = _pdf_title(reader)
    return ParsedDocument("pdf", result, title=title, warnings=warnings)


def _page_list(numbers: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (f" and {len(numbers) - limit} more" if len(numbers) > limit else "")


def _pdf_title(reader: Any) -> str | None:
    try:
        meta = reader.metadata
        title = one_line(str(meta.title)) if meta is not None and meta.title else ""
    except Exception:  # a broken info dictionary only costs the title
        return None
    return title[:300] or None


def _pdf_outline(reader: Any) -> dict[int, list[tuple[str, int, tuple[str, ...]]]]:
    """Bookmarks by 0-based page index: (title, level, path), in outline order."""
    found: dict[int, list[tuple[str, int, tuple[str, ...]]]] = {}
    try:
        outline = reader.outline
    except Exception:  # bookmarks are optional; a broken outline is ignored
        return found
    # pypdf nests a bookmark's children as a list right after it. Walk iteratively: a hostile
    # outline can nest deeper than Python's recursion limit.
    stack: list[tuple[Iterator[Any], tuple[str, ...]]] = [(iter(outline), ())]
    previous: list[tuple[str, ...]] = [()]
    seen = 0
    while stack and seen < 10_000:
        items, parents = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            previous.pop()
            continue
        seen += 1
        if isinstance(item, list):
            if len(stack) < 32:
                stack.append((iter(item), previous[-1] or parents))
                previous.append(())
            continue
        try:
            title = one_line(str(item.title))[:300]
            page = reader.get_destination_page_number(item)
        except Exception:  # noqa: S112 - skip one unusable bookmark
            continue
        if not title:
            continue
        path = (*parents, title)
        previous[-1] = path
        if page is not None and page >= 0:
            found.setdefault(page, []).append((title, len(path), path))
    return found


def _split_by_outline(
    text: str,
    marks: list[tuple[str, int, tuple[str, ...]]],
    current: tuple[str, int, tuple[str, ...]] | None,
) -> tuple[list[Section], tuple[str, int, tuple[str, ...]] | None]:
    """Split a page where its bookmarks' titles appear; the heading in force carries over."""
    cuts: list[tuple[int, int, tuple[str, int, tuple[str, ...]]]] = []
    position = 0
    for mark in marks:
        pattern = r"\s+".join(re.escape(word) for word in mark[0].split())
        match = re.compile(pattern, re.IGNORECASE).search(text, position)
        # A title missing from the text (drawn as an image, say) starts at the previous cut.
        start, body = (match.start(), match.end()) if match else (position, position)
        cuts.append((start, body, mark))
        position = body
    lead = text[: cuts[0][0]].strip() if cuts else text.strip()
    sections = [_carried(current, lead)] if lead or not cuts else []
    for n, (_, body, (title, level, path)) in enumerate(cuts):
        end = cuts[n + 1][0] if n + 1 < len(cuts) else len(text)
        sections.append(Section(title, text[body:end].strip(), level, path))
    return sections, (cuts[-1][2] if cuts else current)


def _carried(current: tuple[str, int, tuple[str, ...]] | None, text: str) -> Section:
    if current is None:
        return Section(None, text)
    title, level, path = current
    return Section(title, text, level, path, starts_here=False)
