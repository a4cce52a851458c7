"""Rows the chat pages show (a saved message, its tool calls and sources, a sidebar entry, a
tool or collection switch) and the pure mappers that build them.

Times go out as ISO 8601 in UTC; the browser shows them in its own time zone (local_time).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.services import chat
from youworker.services.chat.display import ended_early
from youworker.services.chat.runs import ToolCard
from youworker.services.documents import access
from youworker.services.documents.citations import Citation, link_citations, passage_url
from youworker.services.markdown import escape_raw_html
from youworker.state.times import iso_utc


@dataclasses.dataclass
class ToolRow:
    name: str = ""
    arguments: str = ""
    output: str = ""
    error: str = ""
    status: str = ""
    duration: str = ""


@dataclasses.dataclass
class SourceRow:
    number: int = 0
    label: str = ""
    snippet: str = ""
    url: str = ""  # empty when the reader cannot open the document; `note` says why
    note: str = ""


@dataclasses.dataclass
class MessageRow:
    id: str = ""
    role: str = ""
    content: str = ""  # markdown with raw HTML escaped
    raw: str = ""  # the text as written, for the copy button (and a question's plain text)
    thinking: str = ""
    status: str = ""
    time: str = ""  # ISO 8601, UTC
    detail: str = ""
    error: str = ""
    ended: str = ""  # "Stopped" by its reader, "Interrupted" by a crash or restart
    tools: list[ToolRow] = dataclasses.field(default_factory=list)
    sources: list[SourceRow] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ConversationRow:
    id: str = ""
    title: str = ""
    updated: str = ""  # ISO 8601, UTC


def _detail(view: chat.MessageView) -> str:
    parts = [view.model or ""]
    if view.completion_tokens:
        parts.append(f"{view.prompt_tokens or 0} in / {view.completion_tokens} out tokens")
    if view.latency_ms is not None:
        parts.append(f"{view.latency_ms / 1000:.1f} s")
    if view.ttft_ms is not None:
        parts.append(f"first token {view.ttft_ms} ms")
    return " · ".join(p for p in parts if p)


def tool_row_from_card(card: ToolCard) -> ToolRow:
    return ToolRow(
        name=card.name,
        arguments=card.arguments,
        output=card.output,
        error=card.error,
        status=card.status,
        duration=f"{card.duration_ms} ms" if card.duration_ms is not None else "",
    )


def _source(citation: Citation, note: str) -> SourceRow:
    label = f"{citation.document_name} · page {citation.page}"
    if citation.heading:
        label += f" · {citation.heading}"
    url = "" if note else passage_url(citation)
    return SourceRow(citation.number, label, citation.snippet, url, note)


def message_row(view: chat.MessageView, unopenable: dict[str, str] | None = None) -> MessageRow:
    """A saved message as a thread shows it (here and in the shared read-only view).

    `unopenable` maps the cited documents the reader cannot open to the reason: those sources
    say why instead of linking to a page that would only say "not found".
    """
    notes = unopenable or {}
    linked = [c for c in view.citations if c.document_id not in notes]
    return MessageRow(
        id=view.id,
        role=view.role,
        content=link_citations(escape_raw_html(view.content), linked),
        raw=view.content,
        thinking=escape_raw_html(view.thinking),
        status=view.status,
        time=iso_utc(view.created_at),
        detail=_detail(view) if view.role == "assistant" else "",
        error=view.error_message or "",
        ended=ended_early(view.status, view.error_code),
        tools=[
            ToolRow(
                name=c.name,
                arguments=c.arguments,
                output=c.result or "",
                error=c.error or "",
                status="ok" if c.ok else "error",
                duration=f"{c.duration_ms} ms" if c.duration_ms is not None else "",
            )
            for c in view.tool_calls
        ],
        sources=[_source(c, notes.get(c.document_id, "")) for c in view.citations],
    )


def question_row(row_id: str, text: str) -> MessageRow:
    """A question shown before it is saved."""
    return MessageRow(
        id=row_id,
        role="user",
        content=escape_raw_html(text),
        raw=text,
        status="complete",
        time=iso_utc(datetime.now(UTC)),
    )


async def message_rows(
    session: AsyncSession, reader: User, views: list[chat.MessageView]
) -> list[MessageRow]:
    """Saved messages as rows; sources the reader cannot open say why."""
    cited = {c.document_id for view in views for c in view.citations}
    notes = await access.unopenable(session, reader, cited) if cited else {}
    return [message_row(view, notes) for view in views]


@dataclasses.dataclass
class ToolToggle:
    name: str = ""
    description: str = ""
    enabled: bool = True


@dataclasses.dataclass
class CollectionChoice:
    id: str = ""
    label: str = ""


def encode_cursor(cursor: chat.ConversationCursor | None) -> str:
    """The sidebar's next-page cursor as the page keeps it (a string var)."""
    return f"{cursor.updated_at.isoformat()}|{cursor.id}" if cursor else ""


def decode_cursor(raw: str) -> chat.ConversationCursor | None:
    try:
        moment, ident = raw.split("|", 1)
        return chat.ConversationCursor(datetime.fromisoformat(moment), uuid.UUID(ident))
    except ValueError:
        return None
