"""One place that knows every tool, which are enabled, and how to run one without raising."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from youworker.logging import get_logger
from youworker.models import ToolSetting
from youworker.services.llm.base import ToolSpec
from youworker.services.tools.base import Tool, ToolContext, ToolError
from youworker.services.tools.builtins import builtin_tools

if TYPE_CHECKING:
    from youworker.services.mcp import McpManager

log = get_logger(__name__)

DEFAULT_TIMEOUT_S = 30.0
OUTPUT_MAX_CHARS = 20_000
AVAILABLE_LISTED = 30  # tool names quoted back to the model when it asks for an unknown one
TRUNCATION_NOTE = "\n[output truncated: {omitted} more characters]"
# Ollama (and OpenAI-style APIs) accept these names; longer or odder ones are refused.
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class ToolResult:
    """What one tool call produced: never an exception, so the agent loop can always go on."""

    ok: bool
    output: str = ""
    error: str = ""
    duration_ms: int = 0
    truncated: bool = False

    @property
    def text(self) -> str:
        """What to hand back to the model as the tool message."""
        return self.output if self.ok else f"Error: {self.error}"


def _truncate(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + TRUNCATION_NOTE.format(omitted=len(text) - limit), True


def _argument_problem(validator: Validator | None, arguments: dict[str, Any]) -> str:
    """The first schema violation, phrased for the model; empty when the arguments fit."""
    if validator is None:
        return ""
    error = best_match(validator.iter_errors(arguments))
    if error is None:
        return ""
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


class ToolRegistry:
    """Built-ins, registered tools and the MCP manager's tools, filtered by the admin's switches."""

    def __init__(
        self,
        *,
        mcp: McpManager | None = None,
        include_builtins: bool = True,
        default_timeout_s: float = DEFAULT_TIMEOUT_S,
        max_output_chars: int = OUTPUT_MAX_CHARS,
    ) -> None:
        self._local: dict[str, Tool] = {}
        self._mcp = mcp
        self._overrides: dict[str, bool] = {}
        # name -> (the schema it was built from, validator or None for an unusable schema)
        self._validators: dict[str, tuple[dict[str, Any], Validator | None]] = {}
        self.default_timeout_s = default_timeout_s
        self.max_output_chars = max_output_chars
        if include_builtins:
            for tool in builtin_tools():
                self.register(tool)

    # --- what exists ----------------------------------------------------------------------

    def register(self, tool: Tool) -> None:
        """Add an in-process tool (e.g. search_documents); names must be unique and Ollama-safe."""
        if not TOOL_NAME.match(tool.name):
            raise ValueError(f"tool name {tool.name!r} must match {TOOL_NAME.pattern}")
        if tool.name in self._local:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._local[tool.name] = tool

    def unregister(self, name: str) -> None:
        self._local.pop(name, None)

    def tools(self) -> list[Tool]:
        """Every known tool, enabled or not (the admin page lists them all)."""
        found = dict(self._local)
        if self._mcp is not None:
            for tool in self._mcp.tools():
                # A local tool wins a name clash; MCP names are namespaced so this is rare.
                found.setdefault(tool.name, tool)
        return list(found.values())

    def get(self, name: str) -> Tool | None:
        tool = self._local.get(name)
        if tool is None and self._mcp is not None:
            tool = next((t for t in self._mcp.tools() if t.name == name), None)
        return tool

    # --- what is enabled ------------------------------------------------------------------

    def apply_settings(self, settings: Mapping[str, bool]) -> None:
        """Replace the admin's switches (tool name -> enabled); tools not listed stay enabled."""
        self._overrides = dict(settings)

    async def load_settings(self, session: AsyncSession) -> None:
        """Read the admin's switches from the ToolSetting table."""
        rows = await session.scalars(select(ToolSetting))
        self.apply_settings({row.tool_name: row.enabled for row in rows})

    def is_enabled(self, name: str) -> bool:
        return self._overrides.get(name, True)

    def specs(self, disabled: Collection[str] = frozenset()) -> list[ToolSpec]:
        """Specs to offer the model: enabled installation-wide, minus this conversation's."""
        return [
            tool.spec
            for tool in self.tools()
            if self.is_enabled(tool.name) and tool.name not in disabled
        ]

    # --- running --------------------------------------------------------------------------

    def _validator(self, tool: Tool) -> Validator | None:
        schema = tool.spec.parameters
        cached = self._validators.get(tool.name)
        # Rebuilt when the schema object changes: an MCP server may change it on reconnect.
        if cached is not None and cached[0] is schema:
            return cached[1]
        validator: Validator | None
        try:
            # Honors a declared "$schema" (MCP servers often say draft-07); 2020-12 otherwise.
            kind = validator_for(schema, default=Draft202012Validator)
            kind.check_schema(schema)
            validator = kind(schema)
        except (SchemaError, TypeError, ValueError, AttributeError):
            # A bad schema from an MCP server: let the server judge the arguments itself.
            log.warning("tool_schema_invalid", tool=tool.name)
            validator = None
        self._validators[tool.name] = (schema, validator)
        return validator

    async def run(
        self,
        name: str,
        arguments: Any,
        ctx: ToolContext,
        timeout_s: float | None = None,
        *,
        disabled: Collection[str] = frozenset(),
    ) -> ToolResult:
        """Run one tool call; every failure comes back as ToolResult(ok=False), never raised."""
        started = time.monotonic()

        def failed(message: str) -> ToolResult:
            elapsed = int((time.monotonic() - started) * 1000)
            text, truncated = _truncate(message, self.max_output_chars)
            return ToolResult(ok=False, error=text, duration_ms=elapsed, truncated=truncated)

        tool = self.get(name)
        wanted = self.is_enabled(name) and name not in disabled
        if tool is None and self._mcp is not None and wanted:
            try:
                # A crashed MCP server dropped its tools; this reconnects it (rate-limited).
                tool = await self._mcp.find_tool(name)
            except ToolError as exc:
                return failed(str(exc))
            except Exception:
                log.exception("mcp_lookup_failed", tool=name)
                return failed(f"{name!r} is unavailable right now.")
        if tool is None or not wanted:
            names = [spec.name for spec in self.specs(disabled)]
            available = ", ".join(names[:AVAILABLE_LISTED]) or "none"
            if len(names) > AVAILABLE_LISTED:
                available += ", ..."
            reason = "Unknown tool" if tool is None else "Tool is disabled"
            return failed(f"{reason}: {name!r}. Available tools: {available}.")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return failed(f"Arguments for {name!r} must be a JSON object.")
        try:
            problem = _argument_problem(self._validator(tool), arguments)
        except Exception:
            # e.g. a "$ref" that resolves nowhere: the schema is at fault, not the arguments.
            log.warning("tool_schema_unusable", tool=name)
            problem = ""
        if problem:
            return failed(f"Invalid arguments for {name!r}: {problem}")

        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        try:
            output = await asyncio.wait_for(tool.handler(arguments, ctx), timeout=timeout)
        except ToolError as exc:
            return failed(str(exc) or f"{name!r} failed.")
        except TimeoutError:
            log.warning("tool_timeout", tool=name, timeout_s=timeout)
            return failed(f"{name!r} did not finish within {timeout:g} seconds.")
        except Exception as exc:
            # Details go to the log, not to the model: they may name internals.
            log.exception("tool_crashed", tool=name, source=tool.source)
            return failed(f"{name!r} failed unexpectedly ({type(exc).__name__}).")
        if not isinstance(output, str):
            output = str(output)
        elapsed = int((time.monotonic() - started) * 1000)
        text, truncated = _truncate(output, self.max_output_chars)
        log.info("tool_run", tool=name, source=tool.source, duration_ms=elapsed, chars=len(output))
        return ToolResult(ok=True, output=text, duration_ms=elapsed, truncated=truncated)
