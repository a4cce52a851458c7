"""What a tool is, for the registry and the agent loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from youworker.services.llm.base import ToolSpec

if TYPE_CHECKING:
    from youworker.services.documents.citations import CitationBook


class ToolError(Exception):
    """A tool failed; the message goes back to the model and to the user."""


@dataclass(frozen=True)
class ToolContext:
    """Who the tool runs for: tools that touch user data check access with this."""

    user_id: str
    conversation_id: str | None = None
    # The answer's numbered sources; tools that return passages number them here.
    citations: CitationBook | None = None
    # The conversation's collections: document search looks only there (empty: everywhere).
    collection_ids: tuple[str, ...] = ()


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    """A callable tool. `source` is "builtin" or "mcp:<server name>"."""

    spec: ToolSpec
    handler: ToolHandler
    source: str = "builtin"

    @property
    def name(self) -> str:
        return self.spec.name
