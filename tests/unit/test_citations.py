"""Citation numbering, inline links to passages, and how a page with a cited passage renders."""

from __future__ import annotations

from youworker.services.documents.chunking import ChunkingOptions
from youworker.services.documents.citations import CitationBook, link_citations
from youworker.services.documents.embedders import OnnxMiniLMEmbedder
from youworker.services.documents.ingest import chunking_options
from youworker.services.documents.library import PageView
from youworker.services.documents.retrieval import Passage, format_passages
from youworker.settings import DocumentSettings
from youworker.state.document_view import page_blocks


def passage(chunk: str, page: int = 1) -> Passage:
    return Passage(0, chunk, "doc-1", "guide.pdf", page, None, f"text of {chunk}", 0.5)


def test_a_passage_keeps_its_number_across_searches() -> None:
    book = CitationBook()
    first = book.add([passage("a"), passage("b")])
    second = book.add([passage("c"), passage("a")])
    assert [p.number for p in first] == [1, 2]
    assert [p.number for p in second] == [3, 1]
    restored = CitationBook.from_json(book.to_json())
    assert [c.chunk_id for c in restored.citations()] == ["a", "b", "c"]
    assert CitationBook.from_json("not json").citations() == []


def test_markers_become_links_outside_code_only() -> None:
    book = CitationBook()
    book.add([passage("a", page=2)])
    citations = book.citations()
    text = "Fact [1], unknown [7], link [1](http://x), code `[1]`\n```\n[1]\n```\n"
    linked = link_citations(text, citations)
    assert 'Fact [[1]](/documents/doc-1?chunk=a "guide.pdf, page 2")' in linked
    assert "unknown [7]" in linked
    assert "[1](http://x)" in linked and "`[1]`" in linked
    assert linked.endswith("```\n[1]\n```\n")


def test_a_marker_is_titled_with_its_document_and_page_whatever_their_names() -> None:
    book = CitationBook()
    book.add([Passage(0, "a", "d", 'q"u(o)te[s]<b>\n.pdf', 4, "Set\nup", "Text.", 0.5)])
    linked = link_citations("See [1].", book.citations())
    assert linked == "See [[1]](/documents/d?chunk=a \"q'u'o'te's''b' .pdf, page 4 · Set up\")."


def test_passages_are_numbered_for_the_model() -> None:
    text = format_passages([Passage(1, "a", "d", "guide.pdf", 3, "Setup", "Install it.", 1.0)])
    assert text == '[1] (guide.pdf, page 3, section "Setup")\nInstall it.'
    assert "No passages" in format_passages([])


def test_chunk_size_follows_the_embedder() -> None:
    options = chunking_options(DocumentSettings(chunk_tokens=400), OnnxMiniLMEmbedder())
    assert options == ChunkingOptions(max_tokens=254, overlap_tokens=60)
    small = chunking_options(
        DocumentSettings(chunk_tokens=100, chunk_overlap_tokens=60), OnnxMiniLMEmbedder()
    )
    assert small.max_tokens == 100 and small.overlap_tokens == 25


def test_a_cited_passage_is_its_own_block_in_its_section() -> None:
    text = "Intro\n\nFirst part. The cited words. Last part."
    start = text.index("The cited")
    page = PageView(
        2, text, [{"heading": "Intro", "level": 1, "start": 0, "body_start": 7, "end": len(text)}]
    )
    blocks = page_blocks(page, (start, start + len("The cited words.")))
    assert [(b.kind, b.text) for b in blocks] == [
        ("page", "Page 2"),
        ("heading", "Intro"),
        ("text", "First part. "),
        ("passage", "The cited words."),
        ("text", " Last part."),
    ]
