"""HTML: BeautifulSoup, navigation chrome dropped, headings kept as the outline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from youworker.services.documents.parsing.model import (
    ParsedDocument,
    SectionBuilder,
    clean_text,
    decode,
    one_line,
)

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
    text = decode(data, "HTML")
    soup, title = _soup(text)
    builder = SectionBuilder()
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
    title = one_line(title_tag.get_text(" ")) if title_tag is not None else ""
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
            heading = one_line(node.get_text(" "))
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


def html_fragment_text(fragment: str) -> str:
    soup, _ = _soup(fragment)
    events = _html_events(soup)
    texts = [_ROW_END.sub("", clean_text(value)) for kind, value, _ in events if kind == "text"]
    return "\n\n".join(t for t in texts if t)
