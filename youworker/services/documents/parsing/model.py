"""What every parser produces (pages of headed sections) and the helpers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from youworker.services.documents.filetypes import (
    DocumentKind,
    DocumentRejected,
    decode_text,
)

# A "heading" longer than this is a paragraph in a heading style: it is kept as body text.
HEADING_MAX_CHARS = 300

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ODD_SPACE = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_DROP_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u00ad\u200b\u2060\ufeff]")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_LINE_EDGES = re.compile(r"[ \t]*\n[ \t]*")
_TRAILING_SPACES = re.compile(r"[ \t]+\n")


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


def one_line(text: str) -> str:
    return " ".join(_DROP_CHARS.sub("", text).split())


class SectionBuilder:
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


def decode(data: bytes, label: str) -> str:
    text = decode_text(data)
    if text is None:
        raise DocumentRejected(f"This file could not be read as {label}: it is not text.")
    return text


def has_text(page: ParsedPage, headings: bool = False) -> bool:
    return any(
        section.text.strip() or (headings and section.heading and section.starts_here)
        for section in page.sections
    )
