""" "Use my documents": the search made before the model is asked, and an honest "no source".

The switch is the person's choice for the conversation, so it searches even when the agent's own
`search_documents` tool is switched off in that conversation; the admin's installation-wide switch
still holds. When nothing is found (no documents, no matching passage, search switched off or
failing) the answer opens with a plain note saying it has no source, and the model is told not to
cite any: the note comes from the app, so it holds whatever the model writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from youworker.services.chat.agent import ToolFinished, ToolRunner, ToolStarted
from youworker.services.documents.search_tool import SEARCH_TOOL_NAME
from youworker.services.llm.base import ChatMessage
from youworker.services.tools.base import ToolContext

NO_DOCUMENTS = (
    "No source: you have no documents yet, so this answer does not draw on any. "
    "Upload documents on the Documents page to ask about them."
)
NO_MATCH = (
    "No source: none of your documents has a passage about this, "
    "so this answer does not draw on them."
)
SEARCH_OFF = (
    "No source: searching documents is switched off by an administrator, "
    "so this answer does not draw on your documents."
)
SEARCH_FAILED = (
    "No source: your documents could not be searched ({reason}), "
    "so this answer does not draw on them."
)
_TOLD_MODEL = (
    "The user asked to answer from their documents, but {why}. Do not cite sources, do not use "
    "[n] markers and do not claim anything comes from their documents."
)
QUERY_MAX_CHARS = 2000


@dataclass(frozen=True)
class Retrieval:
    history: list[ChatMessage]
    notice: str = ""  # "No source: ..." when the answer has no passage to draw on


# Shows the search as a tool card while the answer is written.
Report = Callable[[ToolStarted | ToolFinished], None]
HasDocuments = Callable[[], Awaitable[bool]]


def notice_markdown(notice: str) -> str:
    """How the note opens the answer's text."""
    return f"*{notice}*\n\n" if notice else ""


async def retrieve_first(
    tools: ToolRunner,
    history: list[ChatMessage],
    ctx: ToolContext,
    report: Report,
    has_documents: HasDocuments,
) -> Retrieval:
    """Search with the question and put the passages before it; say so when there are none."""
    question = history[-1].content if history and history[-1].role == "user" else ""
    if not question.strip():
        return Retrieval(history)
    if SEARCH_TOOL_NAME not in {spec.name for spec in tools.specs()}:
        return _without_source(history, SEARCH_OFF, "searching documents is switched off")
    call_id = f"documents-{uuid.uuid4().hex[:8]}"
    arguments = {"query": question[:QUERY_MAX_CHARS]}
    report(ToolStarted(call_id, 0, SEARCH_TOOL_NAME, arguments))
    found_before = len(ctx.citations) if ctx.citations is not None else 0
    result = await tools.run(SEARCH_TOOL_NAME, arguments, ctx)
    report(ToolFinished(call_id, result.ok, result.output, result.error, result.duration_ms))
    if not result.ok:
        notice = SEARCH_FAILED.format(reason=result.error.rstrip("."))
        return _without_source(
            history, notice, f"their documents could not be searched ({result.error})"
        )
    if ctx.citations is not None and len(ctx.citations) == found_before:
        if not await has_documents():
            return _without_source(history, NO_DOCUMENTS, "they have no documents")
        return _without_source(history, NO_MATCH, "no passage of their documents matches")
    context = ChatMessage(
        role="system",
        content="Passages from the user's documents that may answer the next message:\n\n"
        + result.output,
    )
    return Retrieval([*history[:-1], context, history[-1]])


def _without_source(history: list[ChatMessage], notice: str, why: str) -> Retrieval:
    note = ChatMessage(role="system", content=_TOLD_MODEL.format(why=why))
    return Retrieval([*history[:-1], note, history[-1]], notice)
