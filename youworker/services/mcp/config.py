"""What the manager knows of a server (its config and status), limits, and tool naming."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import McpServer
from youworker.models.tool import TOOL_NAME_MAX
from youworker.services.mcp_env import server_env
from youworker.services.tools.base import ToolError

# The MCP SDK (~13 MB resident) is imported where a server is connected or answers, so a
# backend without MCP servers never loads it.
if TYPE_CHECKING:
    from mcp import types


ServerState = Literal["connecting", "ok", "error", "stopped"]
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

CONNECT_TIMEOUT_S = 20.0
LIST_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 120.0
RETRY_AFTER_S = 30.0  # a failed server is retried on use at most this often
STOP_TIMEOUT_S = 10.0  # the SDK's own stdio shutdown is bounded at ~6 s
LIST_PAGES_MAX = 50
DESCRIPTION_MAX = 1024
STDERR_TAIL_CHARS = 300
STDERR_FILE_MAX = 1_000_000
NAME_SEPARATOR = "__"
CLIENT_NAME = "youworker"
CLIENT_VERSION = "0.1.0"

_UNSAFE_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one server; `env` may hold secrets, so it is kept out of reprs."""

    name: str
    transport: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str | None = None
    id: uuid.UUID | None = field(default=None, compare=False)

    @classmethod
    def from_model(cls, server: McpServer) -> ServerConfig:
        return cls(
            name=server.name,
            transport=server.transport,
            command=server.command,
            args=tuple(server.args or ()),
            env=server_env(server),
            url=server.url,
            id=server.id,
        )


@dataclass(frozen=True)
class ServerStatus:
    """What the admin page shows for one server."""

    name: str
    status: ServerState
    error: str | None = None
    tools: tuple[str, ...] = ()
    checked_at: datetime | None = None


def namespaced_name(server: str, tool: str) -> str:
    """`<server>__<tool>`, reduced to the characters and length Ollama accepts."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", tool).strip("_") or "tool"
    return f"{server}{NAME_SEPARATOR}{cleaned}"[:TOOL_NAME_MAX]


def tool_parameters(schema: Any) -> dict[str, Any]:
    """An MCP inputSchema as ToolSpec parameters: always an object schema with properties."""
    parameters = dict(schema) if isinstance(schema, dict) else {}
    parameters["type"] = "object"
    if not isinstance(parameters.get("properties"), dict):
        parameters["properties"] = {}
    return parameters


def result_text(result: types.CallToolResult) -> str:
    """Join the text blocks of a tool result; an error result becomes a ToolError."""
    from mcp import types

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.EmbeddedResource) and isinstance(
            block.resource, types.TextResourceContents
        ):
            parts.append(block.resource.text)
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource: {block.uri}]")
        else:
            parts.append(f"[{block.type} content omitted]")
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
    if result.is_error:
        raise ToolError(text or "The tool reported an error without a message.")
    return text
