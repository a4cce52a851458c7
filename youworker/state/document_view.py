"""One document's extracted text by page and section; a citation opens it at the passage."""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services.documents import library
from youworker.services.documents.filetypes import format_size
from youworker.services.errors import NotFound
from youworker.state import scripts
from youworker.state.guards import signed_in
from youworker.state.session import SessionState

PAGES_PER_VIEW = 5


@dataclasses.dataclass
class TextBlock:
    kind: str = "text"  # page | heading | text | passage
    text: str = ""
    page: int = 0
    level: int = 0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def page_blocks(page: library.PageView, passage: tuple[int, int] | None) -> list[TextBlock]:
    """A page as blocks to render: a page marker, then each section's heading and text.

    `passage` (offsets into the page's text) becomes its own highlighted block.
    """
    blocks = [TextBlock("page", f"Page {page.number}", page.number)]
    text = page.text
    sections = page.sections or [{"heading": None, "start": 0, "body_start": 0, "end": len(text)}]
    for section in sections:
        start, body_start, end = (_int(section.get(k)) for k in ("start", "body_start", "end"))
        heading = text[start:body_start].strip() if body_start > start else ""
        if heading:
            level = _int(section.get("level")) or 1
            blocks.append(TextBlock("heading", heading, page.number, level))
        body = (body_start, end)
        if passage is not None and passage[0] < body[1] and passage[1] > body[0]:
            cut_start, cut_end = max(passage[0], body[0]), min(passage[1], body[1])
            for kind, (a, b) in (
                ("text", (body[0], cut_start)),
                ("passage", (cut_start, cut_end)),
                ("text", (cut_end, body[1])),
            ):
                if text[a:b].strip():
                    blocks.append(TextBlock(kind, text[a:b].strip("\n"), page.number))
        elif text[body[0] : body[1]].strip():
            blocks.append(TextBlock("text", text[body[0] : body[1]].strip("\n"), page.number))
    return blocks


class DocumentViewState(SessionState):
    document_id: str = ""
    name: str = ""
    meta: str = ""
    status: str = ""
    page_count: int = 0
    first_page: int = 1
    blocks: list[TextBlock] = []
    not_found: bool = False
    passage_page: int = 0

    @rx.var
    def has_earlier(self) -> bool:
        return self.first_page > 1

    @rx.var
    def has_later(self) -> bool:
        return self.first_page + PAGES_PER_VIEW <= self.page_count

    @rx.var
    def download_url(self) -> str:
        return f"/api/documents/{self.document_id}/download" if self.document_id else ""

    def _route_document(self) -> str:
        return self._route_arg("documents")

    async def _show(
        self, user: User, document_id: uuid.UUID, first: int, passage: library.ChunkLocation | None
    ) -> None:
        async with session_scope() as db:
            document = await library.get_readable(db, user, document_id)
            pages = await library.read_pages(db, user, document_id, first, PAGES_PER_VIEW)
        self.document_id = str(document.id)
        self.name = document.name
        self.status = document.status
        self.page_count = document.page_count or 0
        details = [document.kind.upper(), format_size(document.size_bytes)]
        if document.page_count:
            details.append(f"{document.page_count} page(s)")
        if document.chunk_count:
            details.append(f"{document.chunk_count} passages")
        self.meta = " · ".join(details)
        self.first_page = first
        self.passage_page = passage.page if passage else 0
        blocks: list[TextBlock] = []
        for page in pages:
            span = (
                (passage.char_start, passage.char_end)
                if passage is not None and passage.page == page.number
                else None
            )
            blocks.extend(page_blocks(page, span))
        self.blocks = blocks

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | None:
        self.not_found = False
        self.blocks = []
        chunk_param = self.router.url.query_parameters.get("chunk", "")
        try:
            document_id = uuid.UUID(self._route_document())
            passage = None
            first = 1
            async with session_scope() as db:
                if chunk_param:
                    passage = await library.locate_chunk(db, user, uuid.UUID(chunk_param))
                    if passage.document_id != str(document_id):
                        raise NotFound("Passage not found.")
                    first = passage.page
            await self._show(user, document_id, first, passage)
        except (NotFound, ValueError):
            self.not_found = True
            self.name = ""
            return None
        return scripts.run(scripts.SCROLL_TO_PASSAGE) if passage is not None else None

    @rx.event
    async def later(self) -> EventSpec | None:
        return await self._turn(self.first_page + PAGES_PER_VIEW)

    @rx.event
    async def earlier(self) -> EventSpec | None:
        return await self._turn(max(1, self.first_page - PAGES_PER_VIEW))

    @signed_in
    async def _turn(self, user: User, first: int) -> EventSpec | None:
        try:
            await self._show(user, uuid.UUID(self.document_id), first, None)
        except (NotFound, ValueError):
            self.not_found = True
        return None
