"""MCP servers as tool sources: one long-lived task per server owns its session and serves calls.

The SDK's context managers (stdio process, HTTP session, ClientSession) must be entered and
exited in the same task, so each server gets a worker task that connects, lists the tools and
then serves requests from a queue until it is stopped or the server goes away. A server that
fails never raises out of the manager: it gets status "error" and its tools disappear.

Modules: `config` (server config and status, limits, tool naming), `errors` (failure text and
stderr capture), `worker` (the per-server task), `manager` (all servers, their tools).
"""

from __future__ import annotations

from youworker.services.mcp.config import (
    ServerConfig,
    ServerStatus,
    namespaced_name,
    result_text,
    tool_parameters,
)
from youworker.services.mcp.manager import McpManager

__all__ = [
    "McpManager",
    "ServerConfig",
    "ServerStatus",
    "namespaced_name",
    "result_text",
    "tool_parameters",
]
