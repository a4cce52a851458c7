"""Word .docx: python-docx, after bounding what its zip may inflate."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from youworker.services.documents.filetypes import (
    DocumentRejected,
    format_size,
)
from youworker.services.documents.parsing.model import (
    ParsedDocument,
    SectionBuilder,
    clean_text,
    one_line,
)

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)

# A DOCX is a zip: these bound what python-docx may inflate (zip bombs) before it opens anything.
DOCX_MAX_UNCOMPRESSED = 100 * 1024 * 1024
DOCX_MAX_ENTRIES = 5_000
DOCX_MAX_RATIO = 100
# Entries smaller than this may compress extremely well (a tiny, repetitive XML part) harmlessly.
DOCX_RATIO_MIN_SIZE = 1024 * 1024


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

    builder = SectionBuilder()
    for block in document.iter_inner_content():
        before, after = breaks(block._element)
        for _ in range(before):
            builder.new_page()
        if isinstance(block, Paragraph):
            level = _heading_level(block)
            text = one_line(block.text) if level else clean_text(block.text)
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
        title = one_line(document.core_properties.title or "")[:300] or None
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
            cells.append(one_line(cell.text))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
