"""Split parsed pages into overlapping token-bounded chunks that keep their page and heading."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from youworker.services.documents.parsing import ParsedDocument, Section
from youworker.services.documents.tokenizer import encode_batch

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Very long sections are tokenized in slices so a 50 MB text file never becomes one huge encoding.
SEGMENT_CHARS = 50_000
ENCODE_BATCH = 256

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]]*\s+")
_LINE = re.compile(r"\n\s*")


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    """`max_tokens` is a hard ceiling (tokens of the all-MiniLM tokenizer, no special tokens)."""

    max_tokens: int = 400
    overlap_tokens: int = 60
    # WordPiece reads any word over 100 characters as one [UNK] token, so tokens alone do not
    # bound a chunk's length; None means 8 characters per token.
    max_chars: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError("max_tokens must be at least 16")
        if not 0 <= self.overlap_tokens <= self.max_tokens // 2:
            raise ValueError("overlap_tokens must be between 0 and half of max_tokens")
        if self.max_chars is not None and self.max_chars < 100:
            raise ValueError("max_chars must be at least 100")

    @property
    def char_limit(self) -> int:
        return self.max_chars if self.max_chars is not None else self.max_tokens * 8


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage: `page_text[char_start:char_end] == text` for its page's ParsedPage.text."""

    index: int
    page: int
    heading: str | None
    heading_path: tuple[str, ...]
    text: str
    token_count: int
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class _Segment:
    page: int
    section: Section
    text: str
    base: int


def chunk_document(
    document: ParsedDocument,
    options: ChunkingOptions | None = None,
    tokenizer: Tokenizer | None = None,
) -> list[Chunk]:
    """Chunks in reading order; a chunk never spans two pages or two sections."""
    options = options or ChunkingOptions()
    # CSV rows are one per line: a line break is the row boundary, as strong as a paragraph.
    rows = document.kind == "csv"
    segments = list(_segments(document))
    chunks: list[Chunk] = []
    for batch_start in range(0, len(segments), ENCODE_BATCH):
        batch = segments[batch_start : batch_start + ENCODE_BATCH]
        texts = [segment.text for segment in batch]
        encodings = (
            encode_batch(texts)
            if tokenizer is None
            else tokenizer.encode_batch(texts, add_special_tokens=False)
        )
        for segment, encoding in zip(batch, encodings, strict=True):
            offsets = encoding.offsets
            if not offsets:
                continue
            starts = [start for start, _ in offsets]
            ends = [end for _, end in offsets]
            for first, last in _split(segment.text, starts, ends, options, rows):
                char_start, char_end = starts[first], ends[last - 1]
                chunks.append(
                    Chunk(
                        index=len(chunks),
                        page=segment.page,
                        heading=segment.section.heading,
                        heading_path=segment.section.path,
                        text=segment.text[char_start:char_end],
                        token_count=last - first,
                        char_start=segment.base + char_start,
                        char_end=segment.base + char_end,
                    )
                )
    return chunks


def _segments(document: ParsedDocument) -> list[_Segment]:
    """Each section's stretch of page text (a heading-only section joins the next one)."""
    found: list[_Segment] = []
    for page in document.pages:
        text = page.text
        pending_start: int | None = None
        for span in page.spans:
            start = span.start if pending_start is None else pending_start
            if span.body_start >= span.end and span.section.heading and span.section.starts_here:
                # A heading directly followed by a subheading: keep its line with what follows.
                pending_start = start
                continue
            pending_start = None
            found.extend(_slices(page.number, span.section, text, start, span.end))
        if pending_start is not None:
            last = page.spans[-1]
            found.extend(_slices(page.number, last.section, text, pending_start, last.end))
    return found


def _slices(page: int, section: Section, text: str, start: int, end: int) -> list[_Segment]:
    """The range cut into pieces of at most SEGMENT_CHARS, at paragraph or line breaks."""
    pieces: list[_Segment] = []
    while start < end:
        stop = end
        if end - start > SEGMENT_CHARS:
            limit = start + SEGMENT_CHARS
            stop = max(text.rfind("\n\n", start, limit), text.rfind("\n", start, limit))
            if stop <= start + SEGMENT_CHARS // 2:
                stop = text.rfind(" ", start, limit)
            if stop <= start + SEGMENT_CHARS // 2:
                stop = limit
        pieces.append(_Segment(page, section, text[start:stop], start))
        start = stop
        while start < end and text[start].isspace():
            start += 1
    return pieces


def _boundaries(pattern: re.Pattern[str], text: str, starts: list[int]) -> list[int]:
    """Token indexes where a match of `pattern` ends (the first token after the break)."""
    found: list[int] = []
    last = -1
    for match in pattern.finditer(text):
        index = bisect_left(starts, match.end())
        if index != last and index < len(starts):
            found.append(index)
            last = index
    return found


def _last_break(candidates: list[int], limit: int, floor: int) -> int | None:
    """The last break at or before `limit` that keeps the chunk over half full, if any."""
    at = bisect_right(candidates, limit) - 1
    return candidates[at] if at >= 0 and candidates[at] > floor else None


def _split(
    text: str, starts: list[int], ends: list[int], options: ChunkingOptions, rows: bool
) -> list[tuple[int, int]]:
    """Token ranges [first, last) packing whole paragraphs, sentences, lines or words greedily."""
    total = len(starts)
    size = options.max_tokens
    chars = options.char_limit
    if total <= size and ends[-1] - starts[0] <= chars:
        return [(0, total)]
    paragraphs = _boundaries(_LINE if rows else _PARAGRAPH, text, starts)
    sentences = _boundaries(_SENTENCE, text, starts)
    # Line breaks are the fallback when a window holds no paragraph or sentence end: found on
    # first need (most text never needs them).
    lines: list[int] | None = [] if rows else None
    # Preferred places to start the next chunk: a fresh sentence, paragraph or row.
    openers = sorted({*paragraphs, *sentences}) if not rows else paragraphs

    def word_start(index: int) -> bool:
        position = starts[index]
        return position > 0 and text[position - 1].isspace()

    ranges: list[tuple[int, int]] = []
    first = 0
    while True:
        # The most tokens that fit both limits (always at least one token).
        by_chars = bisect_right(ends, starts[first] + chars, lo=first)
        limit = min(first + size, max(by_chars, first + 1))
        if limit >= total:
            ranges.append((first, total))
            return ranges
        floor = first + (limit - first) // 2
        last = _last_break(paragraphs, limit, floor)
        if last is None:
            last = _last_break(sentences, limit, floor)
        if last is None:
            if lines is None:
                lines = _boundaries(_LINE, text, starts)
            last = _last_break(lines, limit, floor)
        if last is None:
            # No sentence ends in the window: cut between words, or mid-word as a last resort.
            last = next((i for i in range(limit, floor, -1) if word_start(i)), limit)
        ranges.append((first, last))
        if options.overlap_tokens == 0:
            first = last
            continue
        lowest = max(last - options.overlap_tokens, first + 1)
        at = bisect_left(openers, lowest)
        if at < len(openers) and openers[at] < last:
            first = openers[at]
        else:
            first = next((i for i in range(lowest, last) if word_start(i)), lowest)
