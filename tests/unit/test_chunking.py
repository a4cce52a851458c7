"""Token chunking: bounded, overlapping, deterministic, and never across pages or sections."""

from __future__ import annotations

import itertools
import random

import pytest

from tests.files import make_pdf
from youworker.services.documents.chunking import Chunk, ChunkingOptions, chunk_document
from youworker.services.documents.parsing import (
    ParsedDocument,
    ParsedPage,
    Section,
    parse_document,
)
from youworker.services.documents.tokenizer import get_tokenizer

VOCABULARY = (
    "alpha beta gamma delta retrieval chunk overlap token boundary paragraph sentence "
    "heading page vector index search answer question context passage model budget"
)
WORDS = VOCABULARY.split()


def prose(seed: int, sentences: int, paragraph_every: int = 6) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    for n in range(1, sentences + 1):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 18)))
        parts.append(words.capitalize() + ".")
        parts.append("\n\n" if n % paragraph_every == 0 else " ")
    return "".join(parts).strip()


def tokens(text: str) -> int:
    return len(get_tokenizer().encode(text, add_special_tokens=False).ids)


def document(pages: list[list[Section]], kind: str = "text") -> ParsedDocument:
    return ParsedDocument(
        kind,  # type: ignore[arg-type]
        [ParsedPage(number, sections) for number, sections in enumerate(pages, start=1)],
    )


@pytest.fixture(scope="module")
def long_document() -> ParsedDocument:
    return document(
        [
            [Section("Intro", prose(1, 60), 1, ("Intro",)), Section("Details", prose(2, 80), 2)],
            [Section("Details", prose(3, 70), 2, starts_here=False)],
        ]
    )


def check_offsets(doc: ParsedDocument, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        page_text = doc.pages[chunk.page - 1].text
        assert page_text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text == chunk.text.strip()


def test_page_and_heading_are_carried(long_document: ParsedDocument) -> None:
    chunks = chunk_document(long_document)
    check_offsets(long_document, chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    by_place = [(c.page, c.heading) for c in chunks]
    # Reading order: Intro chunks, then Details on page 1, then Details continued on page 2.
    order: list[tuple[int, str | None]] = [(1, "Intro"), (1, "Details"), (2, "Details")]
    assert [place for place, _ in itertools.groupby(by_place)] == order
    intro = [c for c in chunks if c.heading == "Intro"]
    assert intro[0].text.startswith("Intro\n\n")  # the heading line opens its section
    assert intro[0].heading_path == ("Intro",)
    # The continued section's heading is context only: the text on page 2 does not repeat it.
    assert not next(c for c in chunks if c.page == 2).text.startswith("Details")
    # No chunk mixes sections: each lies inside its own section's span.
    for chunk in chunks:
        page = long_document.pages[chunk.page - 1]
        spans = [s for s in page.spans if s.start <= chunk.char_start and chunk.char_end <= s.end]
        assert len(spans) == 1 and spans[0].section.heading == chunk.heading


def test_no_chunk_exceeds_the_maximum(long_document: ParsedDocument) -> None:
    for options in (ChunkingOptions(), ChunkingOptions(max_tokens=64, overlap_tokens=10)):
        chunks = chunk_document(long_document, options)
        assert len(chunks) > 6
        for chunk in chunks:
            assert 0 < chunk.token_count <= options.max_tokens
            assert tokens(chunk.text) == chunk.token_count
        # Greedy packing: chunks are not needlessly small (the last of each section may be).
        full = [c.token_count for c in chunks]
        assert sorted(full)[len(full) // 2] >= options.max_tokens * 0.6


def test_consecutive_chunks_of_a_page_overlap(long_document: ParsedDocument) -> None:
    options = ChunkingOptions(max_tokens=120, overlap_tokens=30)
    chunks = chunk_document(long_document, options)
    pairs = [
        (a, b) for a, b in itertools.pairwise(chunks) if (a.page, a.heading) == (b.page, b.heading)
    ]
    assert len(pairs) > 5
    for before, after in pairs:
        assert before.char_start < after.char_start < before.char_end
        shared = long_document.pages[before.page - 1].text[after.char_start : before.char_end]
        assert 0 < tokens(shared) <= options.overlap_tokens
        assert after.text.startswith(shared)


def test_chunks_end_on_sentence_boundaries_when_they_can(long_document: ParsedDocument) -> None:
    chunks = chunk_document(long_document, ChunkingOptions(max_tokens=100, overlap_tokens=20))
    assert all(chunk.text.endswith(".") for chunk in chunks)
    # Overlaps start at a sentence too: every chunk opens with a capital or its heading.
    assert all(chunk.text[0].isupper() for chunk in chunks)


def test_without_overlap_chunks_tile_the_text(long_document: ParsedDocument) -> None:
    chunks = chunk_document(long_document, ChunkingOptions(max_tokens=80, overlap_tokens=0))
    for before, after in itertools.pairwise(chunks):
        if (before.page, before.heading) == (after.page, after.heading):
            gap = long_document.pages[before.page - 1].text[before.char_end : after.char_start]
            assert gap.strip() == ""


def test_chunking_is_deterministic(long_document: ParsedDocument) -> None:
    options = ChunkingOptions(max_tokens=90, overlap_tokens=15)
    assert chunk_document(long_document, options) == chunk_document(long_document, options)


def test_a_long_sentence_is_split_between_words() -> None:
    rng = random.Random(9)
    sentence = " ".join(rng.choice(WORDS) for _ in range(1500))
    doc = document([[Section(None, sentence)]])
    options = ChunkingOptions(max_tokens=100, overlap_tokens=20)
    chunks = chunk_document(doc, options)
    check_offsets(doc, chunks)
    assert len(chunks) >= 15
    words = set(WORDS)
    for chunk in chunks:
        assert chunk.token_count <= 100
        split = chunk.text.split()
        assert split[0] in words and split[-1] in words  # no word cut in half
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(sentence)


def test_a_word_longer_than_a_chunk_is_cut_by_tokens() -> None:
    blob = "ab-" * 1000  # no spaces at all: only a cut between tokens is possible
    chunks = chunk_document(document([[Section(None, blob)]]), ChunkingOptions(100, 0))
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == blob
    assert all(c.token_count <= 100 for c in chunks)


def test_unknown_words_are_bounded_by_characters() -> None:
    # WordPiece turns any word over 100 characters into a single [UNK] token.
    text = " ".join(letter * 1000 for letter in "abcdefghij")
    assert tokens(text) == 10
    options = ChunkingOptions(max_tokens=100, overlap_tokens=0, max_chars=2500)
    chunks = chunk_document(document([[Section(None, text)]]), options)
    assert [len(c.text) for c in chunks] == [2001] * 5
    assert ChunkingOptions().char_limit == 3200


def test_pages_are_never_mixed() -> None:
    doc = document([[Section(None, f"Page {n} says {prose(n, 40)}")] for n in (1, 2, 3)])
    chunks = chunk_document(doc, ChunkingOptions(max_tokens=200, overlap_tokens=40))
    for chunk in chunks:
        assert chunk.text in doc.pages[chunk.page - 1].text
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    assert {c.page for c in chunks} == {1, 2, 3}


def test_heading_only_section_stays_with_what_follows() -> None:
    doc = document([[Section("Part I", "", 1, ("Part I",)), Section("Chapter 1", "Body text.", 2)]])
    [chunk] = chunk_document(doc)
    assert chunk.text == "Part I\n\nChapter 1\n\nBody text."
    assert chunk.heading == "Chapter 1"


def test_csv_rows_are_kept_whole() -> None:
    rows = "\n".join(f"id: {n} | name: Person {n}. Jr. | city: Oslo" for n in range(300))
    doc = document([[Section(None, rows)]], kind="csv")
    chunks = chunk_document(doc, ChunkingOptions(max_tokens=100, overlap_tokens=20))
    assert len(chunks) > 5
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert all(line.startswith("id: ") and line.endswith("city: Oslo") for line in lines)


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(document([[Section(None, "")]])) == []


def test_real_pdf_chunks_cite_the_right_page() -> None:
    doc = parse_document(make_pdf([prose(5, 30), "The answer on page two is 42."]), "a.pdf")
    chunks = chunk_document(doc, ChunkingOptions(max_tokens=64, overlap_tokens=8))
    check_offsets(doc, chunks)
    assert [c.page for c in chunks if "42" in c.text] == [2]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(8, 0), (100, 51), (100, -1)])
def test_options_are_validated(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        ChunkingOptions(max_tokens=max_tokens, overlap_tokens=overlap)


def _chunk(text: str, path: tuple[str, ...]) -> Chunk:
    return Chunk(0, 1, path[-1] if path else None, path, text, 10, 0, len(text))


def test_an_embedded_passage_says_where_it_sits() -> None:
    from youworker.services.documents.ingest import passage_text

    nested = _chunk("pg_cancel_backend stops a query.", ("9.27. Admin", "9.27.2. Signals"))
    assert passage_text(nested, "9.27. Admin") == (
        "9.27. Admin > 9.27.2. Signals\npg_cancel_backend stops a query."
    )
    # A passage that opens with its heading does not repeat it; no title, no headings: text only.
    opening = _chunk(
        "9.27.2. Signals\n\nThe functions send signals.", ("9.27. Admin", "9.27.2. Signals")
    )
    assert (
        passage_text(opening, None) == "9.27. Admin\n9.27.2. Signals\n\nThe functions send signals."
    )
    assert passage_text(_chunk("Plain notes.", ()), None) == "Plain notes."
    assert passage_text(_chunk("Plain notes.", ()), "handbook") == "handbook\nPlain notes."
