"""Turn uploaded bytes into pages of headed sections; every failure is one DocumentRejected."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from youworker.logging import get_logger
from youworker.services.documents.filetypes import (
    DEFAULT_MAX_BYTES,
    DocumentKind,
    DocumentRejected,
    check_size,
    decode_text,
    detect_kind,
    extension_of,
    format_size,
)

logger = get_logger(__name__)

# A DOCX is a zip: these bound what python-docx may inflate (zip bombs) before it opens anything.
DOCX_MAX_UNCOMPRESSED = 100 * 1024 * 1024
DOCX_MAX_ENTRIES = 5_000
DOCX_MAX_RATIO = 100
# Entries smaller than this may compress extremely well (a tiny, repetitive XML part) harmlessly.
DOCX_RATIO_MIN_SIZE = 1024 * 1024
# A "heading" longer than this is a paragraph in a heading style: it is kept as body text.
HEADING_MAX_CHARS = 300

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ODD_SPACE = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_DROP_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u00ad\u200b\u2060\ufeff]")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")
_TRAILING_SPACES = re.compile(r"[ \t]+\n")
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading; `path` is the outline down to it (outermost first)."""

    heading: str | None
    text: str
    level: int = 0
    path: tuple[str, ...] = ()
    # False when the section began on an earlier page: the heading is context, not text here.
    starts_here: bool = True


@dataclass(frozen=True, slots=True)
class SectionSpan:
    """Where a section lies in its page's text: `start` (heading or body) to `end`."""

    section: Section
    start: int
    body_start: int
    end: int


@dataclass
class ParsedPage:
    """One page (the whole document for formats without pages), numbered from 1."""

    number: int
    sections: list[Section]

    @cached_property
    def _layout(self) -> tuple[str, tuple[SectionSpan, ...]]:
        parts: list[str] = []
        spans: list[SectionSpan] = []
        offset = 0
        for section in self.sections:
            show_heading = section.starts_here and bool(section.heading)
            if not section.text and not show_heading:
                continue
            if parts:
                parts.append("\n\n")
                offset += 2
            start = offset
            if show_heading and section.heading:
                block = section.heading + ("\n\n" + section.text if section.text else "")
                body_start = start + len(section.heading) + (2 if section.text else 0)
            else:
                block = section.text
                body_start = start
            parts.append(block)
            offset += len(block)
            spans.append(SectionSpan(section, start, body_start, offset))
        return "".join(parts), tuple(spans)

    @property
    def text(self) -> str:
        """The page as shown: each section's heading line, a blank line, then its text."""
        return self._layout[0]

    @property
    def spans(self) -> tuple[SectionSpan, ...]:
        """Each non-empty section with its offsets in `text` (chunk offsets use the same text)."""
        return self._layout[1]


@dataclass
class ParsedDocument:
    """What a parser found: pages in order, a title when the file names one, and warnings."""

    kind: DocumentKind
    pages: list[ParsedPage]
    title: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def char_count(self) -> int:
        return sum(len(page.text) for page in self.pages)


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
    if not any(_has_text(page, headings=kind != "pdf") for page in document.pages):
        raise DocumentRejected(_NO_TEXT.get(kind, "This file contains no text."))
    logger.debug(
        "document parsed",
        kind=kind,
        pages=document.page_count,
        chars=document.char_count,
        warnings=len(document.warnings),
    )
    return document


def _has_text(page: ParsedPage, headings: bool = False) -> bool:
    return any(
        section.text.strip() or (headings and section.heading and section.starts_here)
        for section in page.sections
    )


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


def clean_text(text: str, collapse_spaces: bool = True) -> str:
    """Normalise newlines, drop invisible characters, trim lines and blank runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0c", "\n")
    text = _DROP_CHARS.sub("", text)
    # Each substitution runs only when it could change something: text mostly has single
    # spaces, and a regex rewriting every one of them was most of this function's time.
    if collapse_spaces:
        if "  " in text or _ODD_SPACE.search(text):
            text = _SPACES.sub(" ", text)
        if " \n" in text or "\n " in text or "\t" in text:
            text = _LINE_EDGES.sub("\n", text)
    elif " \n" in text or "\t\n" in text:
        text = _TRAILING_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def _one_line(text: str) -> str:
    return " ".join(_DROP_CHARS.sub("", text).split())


# --- PDF -------------------------------------------------------------------------------------


def preflight(kind: DocumentKind, data: bytes) -> None:
    """Cheap checks at upload time, so a damaged or locked file never becomes a record."""
    if kind == "pdf":
        _open_pdf(data)
    elif kind == "docx":
        check_docx_archive(data)


def _open_pdf(data: bytes) -> tuple[Any, Any]:
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
    reader, pages = _open_pdf(data)
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
    empty = [page.number for page in result if not _has_text(page)]
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
        title = _one_line(str(meta.title)) if meta is not None and meta.title else ""
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
            title = _one_line(str(item.title))[:300]
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


# --- DOCX ------------------------------------------------------------------------------------


def check_docx_archive(data: bytes) -> None:
    """Refuse a DOCX whose zip would inflate beyond sane limits, before anything unpacks it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DocumentRejected(
            "This file could not be read as a Word document (its archive is damaged)."
        ) from exc
    if len(entries) > DOCX_MAX_ENTRIES:
        raise DocumentRejected(
            f"This Word document has {len(entries):,} parts; at most {DOCX_MAX_ENTRIES:,} "
            "are accepted (it may be a zip bomb)."
        )
    # zipfile stops at each entry's declared size and checks its CRC, so declared sizes bind.
    total = sum(entry.file_size for entry in entries)
    if total > DOCX_MAX_UNCOMPRESSED:
        raise DocumentRejected(
            f"This Word document would unpack to {format_size(total)}; the limit is "
            f"{format_size(DOCX_MAX_UNCOMPRESSED)} (it may be a zip bomb)."
        )
    for entry in entries:
        if entry.file_size > DOCX_RATIO_MIN_SIZE and entry.file_size > DOCX_MAX_RATIO * max(
            entry.compress_size, 1
        ):
            raise DocumentRejected(
                "This Word document contains a part compressed more than "
                f"{DOCX_MAX_RATIO}:1 (it may be a zip bomb)."
            )


def parse_docx(data: bytes, filename: str = "") -> ParsedDocument:
    """Paragraphs and tables in order; Heading 1-9 (and Title) paragraphs start sections."""
    check_docx_archive(data)
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    # Word records where it last broke pages; without those, explicit page breaks are all we know.
    rendered = next(body.iter(qn("w:lastRenderedPageBreak")), None) is not None
    break_tags = {qn("w:lastRenderedPageBreak")} if rendered else {qn("w:br")}
    text_tag, br_tag, type_attr = qn("w:t"), qn("w:br"), qn("w:type")

    def breaks(element: Any) -> tuple[int, int]:
        """Page breaks before any text and after the first text, within one block."""
        before = after = 0
        seen_text = False
        for node in element.iter(text_tag, *break_tags):
            if node.tag == text_tag:
                seen_text = seen_text or bool(node.text)
            elif node.tag != br_tag or node.get(type_attr) == "page":
                if seen_text:
                    after += 1
                else:
                    before += 1
        return before, after

    builder = _SectionBuilder()
    for block in document.iter_inner_content():
        before, after = breaks(block._element)
        for _ in range(before):
            builder.new_page()
        if isinstance(block, Paragraph):
            level = _heading_level(block)
            text = _one_line(block.text) if level else clean_text(block.text)
            if level and text:
                builder.heading(text, level)
            elif text:
                builder.add(text)
        elif isinstance(block, Table):
            table_text = _docx_table_text(block)
            if table_text:
                builder.add(table_text)
        for _ in range(after):
            builder.new_page()
    title = None
    try:
        title = _one_line(document.core_properties.title or "")[:300] or None
    except Exception:  # broken core properties only cost the title
        title = None
    return ParsedDocument("docx", builder.pages(), title=title or builder.first_heading)


def _heading_level(paragraph: Any) -> int:
    """1-9 for Heading 1-9 (or a style based on one), 1 for Title, else 0."""
    try:
        style = paragraph.style
    except Exception:  # a dangling style reference reads as body text
        return 0
    # Custom heading styles are usually based on a built-in one; follow a few links.
    for _ in range(4):
        if style is None:
            return 0
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 1
        match = _HEADING_STYLE.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return 0


def _docx_table_text(table: Any) -> str:
    """One line per row, cells joined by " | " (a merged cell is shown once)."""
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        last: Any = None
        for cell in row.cells:
            # python-docx repeats a horizontally merged cell once per grid column.
            if last is not None and cell._tc is last:
                continue
            last = cell._tc
            cells.append(_one_line(cell.text))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


class _SectionBuilder:
    """Collects paragraphs into sections and pages while tracking the heading outline."""

    def __init__(self) -> None:
        self._pages: list[ParsedPage] = []
        self._sections: list[Section] = []
        self._texts: list[str] = []
        self._path: list[tuple[int, str]] = []
        self._heading: str | None = None
        self._level = 0
        self._starts_here = True
        self._page = 1
        self.first_heading: str | None = None

    def add(self, text: str) -> None:
        self._texts.append(text)

    def heading(self, text: str, level: int) -> None:
        if len(text) > HEADING_MAX_CHARS:
            self.add(text)
            return
        self._flush()
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))
        self._heading, self._level, self._starts_here = text, level, True
        if self.first_heading is None:
            self.first_heading = text

    def new_page(self) -> None:
        self._flush()
        self._pages.append(ParsedPage(self._page, self._sections))
        self._sections = []
        self._page += 1
        self._starts_here = False

    def _flush(self) -> None:
        text = "\n\n".join(self._texts)
        if text or (self._heading and self._starts_here):
            path = tuple(title for _, title in self._path)
            heading = self._heading
            self._sections.append(Section(heading, text, self._level, path, self._starts_here))
        self._texts = []
        self._starts_here = False

    def pages(self) -> list[ParsedPage]:
        self._flush()
        pages = [*self._pages, ParsedPage(self._page, self._sections)]
        # Pages left without text (a break at the very end) would only confuse page counts.
        while len(pages) > 1 and not pages[-1].sections:
            pages.pop()
        return pages


# --- Markdown --------------------------------------------------------------------------------


def parse_markdown(data: bytes, filename: str = "") -> ParsedDocument:
    """Sections at ATX and setext headings (markdown-it, so '#' in a code block is text)."""
    from markdown_it import MarkdownIt

    text = clean_text(_decode(data, "Markdown"), collapse_spaces=False)
    title, text = _front_matter(text)
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").parse(text)
    builder = _SectionBuilder()
    cursor = 0
    for i, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "heading_open" and token.level == 0:
            _add_lines(builder, lines[cursor:start])
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            heading = _inline_text(inline) if inline is not None else ""
            if heading:
                builder.heading(heading, int(token.tag[1:]))
            cursor = end
        elif token.type == "html_block" and start >= cursor:
            # Raw HTML blocks keep their visible text only (no scripts, styles or markup).
            _add_lines(builder, lines[cursor:start])
            builder.add(_html_fragment_text(token.content))
            cursor = end
    _add_lines(builder, lines[cursor:])
    return ParsedDocument("markdown", builder.pages(), title=title or builder.first_heading)


def _add_lines(builder: _SectionBuilder, lines: list[str]) -> None:
    block = "\n".join(lines).strip("\n")
    if block.strip():
        builder.add(block)


def _inline_text(token: Any) -> str:
    children = token.children or []
    parts = [child.content for child in children if child.type in ("text", "code_inline")]
    if not parts:
        parts = [token.content]
    return _one_line("".join(parts))


def _front_matter(text: str) -> tuple[str | None, str]:
    """Strip YAML front matter (markdown-it would read its closing '---' as a heading rule)."""
    if not text.startswith("---\n"):
        return None, text
    end = -1
    for marker in ("\n---\n", "\n...\n"):
        found = text.find(marker, 3, 20_000)
        if found >= 0 and (end < 0 or found < end):
            end = found
    if end < 0:
        return None, text
    match = _FRONT_MATTER_TITLE.search(text, 4, end)
    title = match.group(1).strip("'\"") if match else None
    return (_one_line(title)[:300] or None) if title else None, text[end + 5 :]


# --- HTML ------------------------------------------------------------------------------------

_HTML_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "head",
    "button",
    "select",
    "datalist",
)
_HTML_PARAGRAPH = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "nav",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "figcaption",
    "form",
    "fieldset",
    "address",
    "details",
    "summary",
    "hr",
)
_HTML_LINE = ("li", "tr", "dt", "dd", "caption", "legend")
# Site chrome repeated on every page of a manual or site ("Prev | Up | Home | Next", menus):
# as passages they match every question a little and answer none. <nav>, role="navigation",
# and the class names documentation generators give their navigation bars (DocBook, Sphinx,
# common themes).
_NAV_CLASSES = frozenset(
    {"navheader", "navfooter", "navbar", "navigation", "breadcrumb", "breadcrumbs"}
    | {"sphinxsidebar", "related", "skip-link", "skip-to-content"}
)
# Block boundaries are marked while walking and merged afterwards: <li> inside <ul> inside <div>
# is one line break, not three. The marks are control characters no parsed text keeps.
_PARA, _LINE_BREAK = "\x1d", "\x1e"
_BREAK_MARKS = re.compile("[\x1d\x1e]")
_BREAK_RUN = re.compile(r"[\s\x1d\x1e]*[\x1d\x1e][\s\x1d\x1e]*")
# Cells end with " | "; the last one in a row leaves a dangling separator.
_ROW_END = re.compile(r"[ \t]*\|[ \t]*(?=\n|$)")


def parse_html(data: bytes, filename: str = "") -> ParsedDocument:
    """Visible text only; h1-h6 start sections; scripts, styles and markup are dropped."""
    text = _decode(data, "HTML")
    soup, title = _soup(text)
    builder = _SectionBuilder()
    for kind, value, level in _html_events(soup):
        if kind == "heading":
            builder.heading(value, level)
        else:
            cleaned = _ROW_END.sub("", clean_text(value))
            if cleaned:
                builder.add(cleaned)
    return ParsedDocument("html", builder.pages(), title=title or builder.first_heading)


def _soup(text: str) -> tuple[Any, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    title = _one_line(title_tag.get_text(" ")) if title_tag is not None else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        tag.decompose()
    for tag in soup.find_all(_is_navigation):
        tag.decompose()
    return soup, (title[:300] or None)


def _is_navigation(tag: Any) -> bool:
    if tag.name == "nav" or tag.get("role") == "navigation":
        return True
    classes = tag.get("class") or ()
    return any(name.lower() in _NAV_CLASSES for name in classes)


def _html_events(soup: Any) -> Iterator[tuple[str, str, int]]:
    """("heading", text, level) and ("text", block, 0) in document order, iteratively."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    skipped = (Comment, Declaration, Doctype, ProcessingInstruction)
    parts: list[str] = []
    # An explicit stack: real-world HTML can nest deeper than Python's recursion limit.
    stack: list[Any] = [iter(soup.contents)]
    closers: list[str] = []
    preformatted = 0
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            closer = closers.pop() if closers else ""
            if closer == "pre":
                preformatted -= 1
                closer = _PARA
            parts.append(closer)
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, skipped):
                value = _BREAK_MARKS.sub("", str(node))
                parts.append(value if preformatted else _edge(value))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name.lower()
        if len(name) == 2 and name[0] == "h" and name[1] in "123456":
            heading = _one_line(node.get_text(" "))
            if heading:
                yield "text", _join_blocks(parts), 0
                parts = []
                yield "heading", heading, int(name[1])
            continue
        if name == "br":
            # A literal newline, so that <br><br> still reads as a blank line.
            parts.append("\n")
            continue
        closer = ""
        if name in _HTML_PARAGRAPH:
            parts.append(_PARA)
            closer = "pre" if name == "pre" else _PARA
            preformatted += name == "pre"
        elif name in _HTML_LINE:
            parts.append(_LINE_BREAK)
            closer = _LINE_BREAK
        elif name in ("td", "th"):
            closer = " | "
        stack.append(iter(node.contents))
        closers.append(closer)
    yield "text", _join_blocks(parts), 0


def _join_blocks(parts: list[str]) -> str:
    """Text with each run of block boundaries (and the spaces around them) made one break."""
    return _BREAK_RUN.sub(lambda match: "\n\n" if _PARA in match.group() else "\n", "".join(parts))


def _edge(value: str) -> str:
    """Inline text with runs of whitespace collapsed but the spaces at its edges kept."""
    core = " ".join(value.split())
    if not core:
        return " " if value else ""
    lead = " " if value[:1].isspace() else ""
    trail = " " if value[-1:].isspace() else ""
    return lead + core + trail


def _html_fragment_text(fragment: str) -> str:
    soup, _ = _soup(fragment)
    events = _html_events(soup)
    texts = [_ROW_END.sub("", clean_text(value)) for kind, value, _ in events if kind == "text"]
    return "\n\n".join(t for t in texts if t)


# --- Plain text and CSV ----------------------------------------------------------------------


def parse_text(data: bytes, filename: str = "") -> ParsedDocument:
    """The whole file as one section (indentation kept)."""
    text = clean_text(_decode(data, "text"), collapse_spaces=False)
    return ParsedDocument("text", [ParsedPage(1, [Section(None, text)])])


def parse_csv(data: bytes, filename: str = "") -> ParsedDocument:
    """One line per row as "column: value" pairs, so each row reads on its own in a chunk."""
    text = _decode(data, "CSV")
    delimiter = "\t" if extension_of(filename) == ".tsv" else _sniff_delimiter(text[:32_768])
    # The default field limit (128 KiB) stays: a single larger field is not a table we index.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[str] = []
    header: list[str] = []
    try:
        for row in reader:
            cells = [_one_line(cell) for cell in row]
            if not any(cells):
                continue
            if not header:
                header = [cell or f"column {i + 1}" for i, cell in enumerate(cells)]
                continue
            pairs = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {cell}"
                for i, cell in enumerate(cells)
                if cell
            ]
            lines.append(" | ".join(pairs))
    except csv.Error as exc:
        raise DocumentRejected(
            f"This file could not be read as CSV (line {reader.line_num:,}: {exc})."
        ) from exc
    body = "\n".join(lines) if lines else " | ".join(header)
    return ParsedDocument("csv", [ParsedPage(1, [Section(None, body)])])


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _decode(data: bytes, label: str) -> str:
    text = decode_text(data)
    if text is None:
        raise DocumentRejected(f"This file could not be read as {label}: it is not text.")
    return text


_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "markdown": parse_markdown,
    "text": parse_text,
    "csv": parse_csv,
    "html": parse_html,
}
