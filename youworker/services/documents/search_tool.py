"""The agent's `search_documents` tool: hybrid search over what the user may read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from youworker.services.documents.retrieval import Passage, format_passages
from youworker.services.errors import ServiceError
from youworker.services.llm.base import ToolSpec
from youworker.services.tools.base import Tool, ToolContext, ToolError

SEARCH_TOOL_NAME = "search_documents"
MAX_TOOL_RESULTS = 10

# (user id, query, limit) -> passages the user may read, best first.
# (user id, query, limit, collection ids: empty for every readable document)
Searcher = Callable[[str, str, int, tuple[str, ...]], Awaitable[list[Passage]]]

CITE_INSTRUCTION = (
    "Cite the passages you use as [n] with their numbers, e.g. [1] or [2][3], and say in your "
    "answer which document and page (or section) it comes from, in the reader's words. "
    "If they do not answer the question, say so."
)


def search_documents_tool(searcher: Searcher, default_limit: int = 5) -> Tool:
    async def handler(arguments: dict[str, Any], ctx: ToolContext) -> str:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("query must be a non-empty string.")
        limit = arguments.get("limit", default_limit)
        if not isinstance(limit, int) or isinstance(limit, bool):
            limit = default_limit
        try:
            limit = min(max(limit, 1), MAX_TOOL_RESULTS)
            passages = await searcher(ctx.user_id, query, limit, ctx.collection_ids)
        except ServiceError as exc:
            raise ToolError(exc.message) from exc
        if ctx.citations is not None:
            passages = ctx.citations.add(passages)
        if not passages:
            return format_passages(passages)
        return f"{format_passages(passages)}\n\n{CITE_INSTRUCTION}"

    spec = ToolSpec(
        name=SEARCH_TOOL_NAME,
        description=(
            "Search the user's uploaded documents (and documents shared with their groups) for "
            "passages about a topic. Returns numbered passages with document name and page; "
            "cite them in the answer as [n]."
        ),
        parameters={
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "What to look for, in a few words or a question.",
                    "minLength": 1,
                    "maxLength": 2000,
                },
                "limit": {
                    "type": "integer",
                    "description": "How many passages to return (default 5).",
                    "minimum": 1,
                    "maximum": MAX_TOOL_RESULTS,
                },
            },
            "required": ["query"],
        },
    )
    return Tool(spec=spec, handler=handler)
