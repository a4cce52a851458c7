"""Numbered sources of one answer: every passage the answer was given, numbered once.

An answer may search several times (the switch, then the tool, maybe twice); a passage keeps
the number it got first, so "[2]" means the same passage wherever it appears in the answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace

from youworker.services.documents.retrieval import Passage

MAX_CITATIONS = 100
SNIPPET_CHARS = 300
# "[3]" not already part of a link ("[3](...)") or a reference ("[x][3]").
_MARKER = re.compile(r"(?<![\]\[])\[(\d{1,3})\](?![(\[:])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Citation:
    number: int
    chunk_id: str
    document_id: str
    document_name: str
    page: int
    heading: str | None
    snippet: str


class CitationBook:
    def __init__(self, citations: list[Citation] | None = None) -> None:
        self._by_chunk: dict[str, Citation] = {c.chunk_id: c for c in citations or []}

    def __len__(self) -> int:
        return len(self._by_chunk)

    def add(self, passages: list[Passage]) -> list[Passage]:
        """The passages renumbered with this answer's numbers (new ones get the next number)."""
        numbered: list[Passage] = []
        for passage in passages:
            known = self._by_chunk.get(passage.chunk_id)
            if known is None:
                if len(self._by_chunk) >= MAX_CITATIONS:
                    continue
                known = Citation(
                    number=len(self._by_chunk) + 1,
                    chunk_id=passage.chunk_id,
                    document_id=passage.document_id,
                    document_name=passage.document_name,
                    page=passage.page,
                    heading=passage.heading,
                    snippet=" ".join(passage.text.split())[:SNIPPET_CHARS],
                )
                self._by_chunk[passage.chunk_id] = known
            numbered.append(replace(passage, number=known.number))
        return numbered

    def citations(self) -> list[Citation]:
        return sorted(self._by_chunk.values(), key=lambda c: c.number)

    def to_json(self) -> str:
        return json.dumps([asdict(c) for c in self.citations()], ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> CitationBook:
        if not raw:
            return cls()
        try:
            items = json.loads(raw)
            return cls([Citation(**item) for item in items if isinstance(item, dict)])
        except (ValueError, TypeError):
            return cls()


def passage_url(citation: Citation) -> str:
    return f"/documents/{citation.document_id}?chunk={citation.chunk_id}"


def _where(citation: Citation) -> str:
    """The link's title (shown on hover): which document and page the passage is on."""
    where = f"{citation.document_name}, page {citation.page}"
    if citation.heading:
        where += f" · {citation.heading}"
    # Inside a Markdown link title: no quotes, brackets, markup or newlines to end it early.
    return " ".join(re.sub(r'["\\()\[\]<>]', "'", where).split())


def link_citations(markdown: str, citations: list[Citation]) -> str:
    """Turn "[n]" markers for known sources into links to the cited passage (not inside code),
    titled with the document and page."""
    if not citations:
        return markdown
    targets = {str(c.number): f'{passage_url(c)} "{_where(c)}"' for c in citations}

    def link(match: re.Match[str]) -> str:
        target = targets.get(match.group(1))
        return f"[[{match.group(1)}]]({target})" if target else match.group(0)

    lines: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0]:
                fence = None
            lines.append(line)
        elif opener:
            fence = opener.group(1)
            lines.append(line)
        else:
            parts = re.split(r"(`+[^`]*`+)", line)
            lines.append("".join(p if p.startswith("`") else _MARKER.sub(link, p) for p in parts))
    return "".join(lines)
