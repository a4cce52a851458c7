"""Markdown: markdown-it tokens, headings from the outline, front matter's title."""

from __future__ import annotations

import re
from typing import Any

from youworker.services.documents.parsing.html import html_fragment_text
from youworker.services.documents.parsing.model import (
    ParsedDocument,
    SectionBuilder,
    clean_text,
    decode,
    one_line,
)

_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def parse_markdown(data: bytes, filename: str = "") -> ParsedDocument:
    """Sections at ATX and setext headings (markdown-it, so '#' in a code block is text)."""
    from markdown_it import MarkdownIt

    text = clean_text(decode(data, "Markdown"), collapse_spaces=False)
    title, text = _front_matter(text)
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").parse(text)
    builder = SectionBuilder()
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
            builder.add(html_fragment_text(token.content))
            cursor = end
    _add_lines(builder, lines[cursor:])
    return ParsedDocument("markdown", builder.pages(), title=title or builder.first_heading)


def _add_lines(builder: SectionBuilder, lines: list[str]) -> None:
    block = "\n".join(lines).strip("\n")
    if block.strip():
        builder.add(block)


def _inline_text(token: Any) -> str:
    children = token.children or []
    parts = [child.content for child in children if child.type in ("text", "code_inline")]
    if not parts:
        parts = [token.content]
    return one_line("".join(parts))


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
    return (one_line(title)[:300] or None) if title else None, text[end + 5 :]
