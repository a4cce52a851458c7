"""A real MCP server for the tests: `python tests/mcp_server.py` (stdio) or `--http PORT`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("youworker-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def fail() -> str:
    """Always fail; the client sees an error result."""
    raise ToolError("this tool always fails")


@server.tool()
def crash() -> str:
    """Kill the server process without answering."""
    sys.stderr.write("crashing on purpose\n")
    sys.stderr.flush()
    os._exit(1)


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def env_value(name: str) -> str:
    """Read one environment variable of the server process (checks env passing)."""
    return os.environ.get(name, "<unset>")


@server.tool()
def pid() -> int:
    """The server's process id (lets tests check that a process ended)."""
    return os.getpid()


@server.tool(name="odd.name/with spaces")
def odd_name() -> str:
    """A tool whose name needs sanitizing for Ollama."""
    return "odd"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, help="serve streamable HTTP on this port")
    options = parser.parse_args()
    if options.http is None:
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=options.http)


if __name__ == "__main__":
    main()
