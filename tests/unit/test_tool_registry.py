"""The tool registry: enabled filtering, and every failure as a ToolResult, never raised."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from youworker.services.llm.base import ToolSpec
from youworker.services.tools.base import Tool, ToolContext, ToolError
from youworker.services.tools.registry import OUTPUT_MAX_CHARS, ToolRegistry

CTX = ToolContext(user_id="u1", conversation_id="c1")
NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


def make_tool(name: str, handler: Any, parameters: dict[str, Any] | None = None) -> Tool:
    return Tool(spec=ToolSpec(name, f"{name} tool", parameters or NO_ARGS), handler=handler)


async def sleepy(arguments: dict[str, Any], ctx: ToolContext) -> str:
    await asyncio.sleep(10)
    return "too late"


async def crashes(arguments: dict[str, Any], ctx: ToolContext) -> str:
    raise RuntimeError("database password is hunter2")


async def refuses(arguments: dict[str, Any], ctx: ToolContext) -> str:
    raise ToolError("I cannot do that.")


async def chatty(arguments: dict[str, Any], ctx: ToolContext) -> str:
    return "x" * (OUTPUT_MAX_CHARS + 5000)


async def whoami(arguments: dict[str, Any], ctx: ToolContext) -> str:
    return f"{ctx.user_id}/{ctx.conversation_id}/{arguments}"


async def returns_number(arguments: dict[str, Any], ctx: ToolContext) -> Any:
    return 42


@pytest.fixture
def registry() -> ToolRegistry:
    tools = ToolRegistry(default_timeout_s=5)
    for name, handler in [
        ("sleepy", sleepy),
        ("crashes", crashes),
        ("refuses", refuses),
        ("chatty", chatty),
        ("whoami", whoami),
        ("returns_number", returns_number),
    ]:
        tools.register(make_tool(name, handler))
    return tools


async def test_success_carries_output_and_duration(registry: ToolRegistry) -> None:
    result = await registry.run("calculator", {"expression": "6 * 7"}, CTX)
    assert result.ok and result.output == "42" and result.error == ""
    assert result.duration_ms >= 0 and result.text == "42"


async def test_context_reaches_the_handler(registry: ToolRegistry) -> None:
    result = await registry.run("whoami", {"k": "v"}, CTX)
    assert result.output == "u1/c1/{'k': 'v'}"


async def test_timeout_becomes_an_error_result(registry: ToolRegistry) -> None:
    result = await registry.run("sleepy", {}, CTX, timeout_s=0.1)
    assert not result.ok
    assert "did not finish within 0.1 seconds" in result.error
    assert 90 <= result.duration_ms < 2000


async def test_default_timeout_applies() -> None:
    tools = ToolRegistry(default_timeout_s=0.05)
    tools.register(make_tool("sleepy", sleepy))
    result = await tools.run("sleepy", {}, CTX)
    assert not result.ok and "0.05 seconds" in result.error


async def test_exception_becomes_an_error_result_without_internals(
    registry: ToolRegistry,
) -> None:
    result = await registry.run("crashes", {}, CTX)
    assert not result.ok
    assert "RuntimeError" in result.error and "hunter2" not in result.error


async def test_tool_error_message_is_kept(registry: ToolRegistry) -> None:
    result = await registry.run("refuses", {}, CTX)
    assert not result.ok and result.error == "I cannot do that."
    assert result.text == "Error: I cannot do that."


async def test_unknown_tool_lists_what_exists(registry: ToolRegistry) -> None:
    result = await registry.run("rm_rf", {}, CTX)
    assert not result.ok
    assert "Unknown tool: 'rm_rf'" in result.error and "calculator" in result.error


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "'expression' is a required property"),
        ({"expression": 5}, "5 is not of type 'string'"),
        ("2 + 2", "must be a JSON object"),
        ([1, 2], "must be a JSON object"),
    ],
)
async def test_bad_arguments_are_refused_before_running(
    registry: ToolRegistry, arguments: Any, message: str
) -> None:
    result = await registry.run("calculator", arguments, CTX)
    assert not result.ok and message in result.error


async def test_nested_argument_errors_name_the_field() -> None:
    schema = {
        "type": "object",
        "properties": {"options": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    }
    tools = ToolRegistry(include_builtins=False)
    tools.register(make_tool("nested", whoami, schema))
    result = await tools.run("nested", {"options": {"n": "many"}}, CTX)
    assert not result.ok and "options/n" in result.error


async def test_missing_arguments_mean_none(registry: ToolRegistry) -> None:
    result = await registry.run("current_datetime", None, CTX)
    assert result.ok and "UTC" in result.output


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": 5}}},
        {"$schema": 5, "type": "object"},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
    ],
)
async def test_a_broken_schema_does_not_block_the_tool(schema: dict[str, Any]) -> None:
    tools = ToolRegistry(include_builtins=False)
    tools.register(make_tool("odd", whoami, schema))
    result = await tools.run("odd", {"a": 1}, CTX)
    assert result.ok


async def test_declared_draft_is_honored() -> None:
    # Draft-07 reads "exclusiveMinimum" as a number, as many MCP servers emit it.
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"n": {"type": "integer", "exclusiveMinimum": 0}},
    }
    tools = ToolRegistry(include_builtins=False)
    tools.register(make_tool("draft7", whoami, schema))
    assert (await tools.run("draft7", {"n": 1}, CTX)).ok
    result = await tools.run("draft7", {"n": 0}, CTX)
    assert not result.ok and "n:" in result.error


async def test_long_output_is_truncated(registry: ToolRegistry) -> None:
    result = await registry.run("chatty", {}, CTX)
    assert result.ok and result.truncated
    assert result.output.startswith("x" * OUTPUT_MAX_CHARS)
    assert len(result.output) < OUTPUT_MAX_CHARS + 100
    assert "5000 more characters" in result.output


async def test_non_text_output_is_stringified(registry: ToolRegistry) -> None:
    result = await registry.run("returns_number", {}, CTX)
    assert result.ok and result.output == "42"


def test_specs_follow_admin_switches_and_conversation_choices(registry: ToolRegistry) -> None:
    names = {spec.name for spec in registry.specs()}
    assert {"calculator", "current_datetime", "sleepy"} <= names

    registry.apply_settings({"calculator": False, "sleepy": True})
    names = {spec.name for spec in registry.specs()}
    assert "calculator" not in names and "sleepy" in names

    names = {spec.name for spec in registry.specs({"current_datetime"})}
    assert "current_datetime" not in names and "calculator" not in names
    # The admin's switch hides a tool; it stays known (the admin page lists it).
    assert "calculator" in {tool.name for tool in registry.tools()}
    assert registry.is_enabled("never_heard_of_it")


async def test_disabled_tools_cannot_be_run(registry: ToolRegistry) -> None:
    registry.apply_settings({"calculator": False})
    result = await registry.run("calculator", {"expression": "1"}, CTX)
    assert not result.ok and "disabled" in result.error

    result = await registry.run("current_datetime", {}, CTX, disabled={"current_datetime"})
    assert not result.ok and "disabled" in result.error


def test_register_refuses_duplicates_and_bad_names(registry: ToolRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(make_tool("calculator", whoami))
    for bad in ("has space", "dots.not.ok", "", "x" * 65):
        with pytest.raises(ValueError, match="must match"):
            registry.register(make_tool(bad, whoami))
    registry.register(make_tool("search_documents", whoami))
    assert registry.get("search_documents") is not None
    registry.unregister("search_documents")
    assert registry.get("search_documents") is None


async def test_caller_cancellation_is_not_swallowed(registry: ToolRegistry) -> None:
    task = asyncio.create_task(registry.run("sleepy", {}, CTX))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
