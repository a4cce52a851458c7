"""MCP servers through the manager and the registry, against tests/mcp_server.py (a real server)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import types
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN_PASSWORD
from youworker import db as db_module
from youworker.models import McpServer, User
from youworker.services import tools_admin
from youworker.services.mcp import (
    McpManager,
    ServerConfig,
    namespaced_name,
    result_text,
    tool_parameters,
)
from youworker.services.tools.base import ToolContext, ToolError
from youworker.services.tools.registry import ToolRegistry

SERVER_SCRIPT = str(Path(__file__).resolve().parent.parent / "mcp_server.py")
CTX = ToolContext(user_id="u1")


def stdio(name: str = "test", **env: str) -> ServerConfig:
    return ServerConfig(
        name=name, transport="stdio", command=sys.executable, args=(SERVER_SCRIPT,), env=env
    )


@pytest.fixture
async def manager() -> AsyncIterator[McpManager]:
    mcp = McpManager(connect_timeout_s=20, call_timeout_s=20, retry_after_s=3600)
    yield mcp
    await mcp.aclose()


def registry_for(mcp: McpManager) -> ToolRegistry:
    return ToolRegistry(mcp=mcp, default_timeout_s=20)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_until_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


# --- pure helpers -----------------------------------------------------------------------------


def test_names_are_namespaced_and_ollama_safe() -> None:
    assert namespaced_name("files", "read_file") == "files__read_file"
    assert namespaced_name("files", "odd.name/with spaces") == "files__odd_name_with_spaces"
    assert namespaced_name("files", "...") == "files__tool"
    assert len(namespaced_name("s" * 40, "t" * 100)) == 64


def test_input_schema_becomes_object_parameters() -> None:
    assert tool_parameters({}) == {"type": "object", "properties": {}}
    assert tool_parameters(None) == {"type": "object", "properties": {}}
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert tool_parameters(schema) == schema


def test_result_text_joins_text_and_raises_on_error() -> None:
    result = types.CallToolResult(
        content=[types.TextContent(text="one"), types.TextContent(text="two")]
    )
    assert result_text(result) == "one\ntwo"
    structured = types.CallToolResult(content=[], structured_content={"n": 1})
    assert result_text(structured) == '{"n": 1}'
    image = types.CallToolResult(content=[types.ImageContent(data="AA==", mime_type="image/png")])
    assert result_text(image) == "[image content omitted]"
    failed = types.CallToolResult(content=[types.TextContent(text="bad input")], is_error=True)
    with pytest.raises(ToolError, match="bad input"):
        result_text(failed)


# --- a live stdio server ----------------------------------------------------------------------


async def test_tools_are_listed_and_namespaced(manager: McpManager) -> None:
    statuses = await manager.sync([stdio()])
    assert [(s.name, s.status, s.error) for s in statuses] == [("test", "ok", None)]
    names = {tool.name for tool in manager.tools()}
    assert {"test__add", "test__echo", "test__fail", "test__odd_name_with_spaces"} <= names
    add = next(tool for tool in manager.tools() if tool.name == "test__add")
    assert add.source == "mcp:test" and add.spec.description == "Add two integers."
    assert add.spec.parameters["required"] == ["a", "b"]
    assert add.spec.parameters["properties"]["a"]["type"] == "integer"
    specs = {spec.name for spec in registry_for(manager).specs()}
    assert {"calculator", "current_datetime", "test__add"} <= specs


async def test_calls_go_through_the_registry(manager: McpManager) -> None:
    await manager.sync([stdio()])
    registry = registry_for(manager)
    result = await registry.run("test__add", {"a": 2, "b": 3}, CTX)
    assert result.ok and result.output == "5"
    result = await registry.run("test__echo", {"text": "héllo ✓"}, CTX)
    assert result.ok and result.output == "héllo ✓"
    result = await registry.run("test__odd_name_with_spaces", {}, CTX)
    assert result.ok and result.output == "odd"


async def test_error_results_and_bad_arguments(manager: McpManager) -> None:
    await manager.sync([stdio()])
    registry = registry_for(manager)
    result = await registry.run("test__fail", {}, CTX)
    assert not result.ok and "this tool always fails" in result.error
    result = await registry.run("test__add", {"a": "two", "b": 3}, CTX)
    assert not result.ok and "'two' is not of type 'integer'" in result.error
    assert manager.status()[0].status == "ok"


async def test_env_is_passed_and_app_secrets_are_not(manager: McpManager) -> None:
    assert os.environ.get("DATABASE__URL"), "conftest sets it; the server must not see it"
    await manager.sync([stdio(API_TOKEN="for-the-server")])
    registry = registry_for(manager)
    result = await registry.run("test__env_value", {"name": "API_TOKEN"}, CTX)
    assert result.output == "for-the-server"
    result = await registry.run("test__env_value", {"name": "DATABASE__URL"}, CTX)
    assert result.output == "<unset>"


async def test_slow_call_times_out_and_the_server_lives_on(manager: McpManager) -> None:
    await manager.sync([stdio()])
    registry = registry_for(manager)
    result = await registry.run("test__slow", {"seconds": 30}, CTX, timeout_s=0.5)
    assert not result.ok and "did not finish within 0.5 seconds" in result.error
    assert result.duration_ms < 5000
    result = await registry.run("test__add", {"a": 1, "b": 1}, CTX)
    assert result.ok and result.output == "2"


async def test_manager_call_timeout() -> None:
    mcp = McpManager(call_timeout_s=0.3)
    try:
        await mcp.sync([stdio()])
        with pytest.raises(ToolError, match=r"no answer within 0\.3 seconds"):
            await mcp.call("test", "slow", {"seconds": 30})
        assert await mcp.call("test", "add", {"a": 1, "b": 2}) == "3"
    finally:
        await mcp.aclose()


async def test_calls_run_concurrently(manager: McpManager) -> None:
    await manager.sync([stdio()])
    registry = registry_for(manager)
    started = time.monotonic()
    results = await asyncio.gather(
        *(registry.run("test__slow", {"seconds": 0.5}, CTX) for _ in range(5))
    )
    assert all(r.ok and r.output == "slept 0.5" for r in results)
    assert time.monotonic() - started < 2.4


async def test_crash_marks_the_server_and_nothing_else_breaks(manager: McpManager) -> None:
    await manager.sync([stdio("test"), stdio("other")])
    registry = registry_for(manager)
    pid = int((await registry.run("test__pid", {}, CTX)).output)

    result = await registry.run("test__crash", {}, CTX)
    assert not result.ok and "'test'" in result.error

    status = {s.name: s for s in manager.status()}
    assert status["test"].status == "error"
    assert status["test"].error and "crashing on purpose" in status["test"].error
    assert status["test"].tools == ()
    assert status["other"].status == "ok"
    assert await wait_until_gone(pid)

    specs = {spec.name for spec in registry.specs()}
    assert "test__add" not in specs and "other__add" in specs
    assert (await registry.run("other__add", {"a": 2, "b": 2}, CTX)).output == "4"
    assert (await registry.run("calculator", {"expression": "2+2"}, CTX)).output == "4"
    result = await registry.run("test__add", {"a": 1, "b": 1}, CTX)
    assert not result.ok and "unavailable" in result.error and "crashing on purpose" in result.error


async def test_server_stderr_is_kept_small(
    manager: McpManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("youworker.services.mcp.errors.STDERR_FILE_MAX", 10)
    await manager.sync([stdio()])
    registry = registry_for(manager)
    for _ in range(3):
        assert (await registry.run("test__fail", {}, CTX)).error
    await registry.run("test__crash", {}, CTX)
    error = manager.status()[0].error or ""
    assert "crashing on purpose" in error and "always fails" not in error


async def test_crash_while_idle_is_noticed(manager: McpManager) -> None:
    await manager.sync([stdio()])
    pid = int(await manager.call("test", "pid", {}))
    os.kill(pid, 9)
    for _ in range(100):
        if manager.status()[0].status == "error":
            break
        await asyncio.sleep(0.05)
    assert manager.status()[0].status == "error"
    assert manager.tools() == []


async def test_next_use_reconnects_after_a_crash() -> None:
    mcp = McpManager(retry_after_s=0)
    try:
        await mcp.sync([stdio()])
        registry = registry_for(mcp)
        await registry.run("test__crash", {}, CTX)
        assert mcp.status()[0].status == "error"
        result = await registry.run("test__add", {"a": 2, "b": 3}, CTX)
        assert result.ok and result.output == "5"
        assert mcp.status()[0].status == "ok"
    finally:
        await mcp.aclose()


async def test_missing_command_is_an_error_status(manager: McpManager) -> None:
    missing = ServerConfig(name="ghost", transport="stdio", command="/nonexistent/mcp-server")
    statuses = {s.name: s for s in await manager.sync([missing, stdio()])}
    assert statuses["ghost"].status == "error"
    assert statuses["ghost"].error == "Command not found: '/nonexistent/mcp-server'."
    assert statuses["test"].status == "ok"
    assert all(not tool.name.startswith("ghost__") for tool in manager.tools())


async def test_server_that_exits_at_once_reports_its_output(manager: McpManager) -> None:
    script = "import sys; sys.stderr.write('missing API key\\n'); sys.exit(3)"
    quitter = ServerConfig(
        name="quits", transport="stdio", command=sys.executable, args=("-c", script)
    )
    (status,) = await manager.sync([quitter])
    assert status.status == "error"
    assert status.error and "missing API key" in status.error


async def test_server_that_never_answers_times_out() -> None:
    mcp = McpManager(connect_timeout_s=1)
    hang = ServerConfig(
        name="hang",
        transport="stdio",
        command=sys.executable,
        args=("-c", "import time; time.sleep(60)"),
    )
    try:
        started = time.monotonic()
        (status,) = await mcp.sync([hang])
        assert status.status == "error"
        assert status.error == "No answer within 1 seconds while connecting."
        assert time.monotonic() - started < 10
    finally:
        await mcp.aclose()


async def test_sync_keeps_healthy_servers_and_restarts_changed_ones(manager: McpManager) -> None:
    await manager.sync([stdio(MODE="a")])
    first = int(await manager.call("test", "pid", {}))
    await manager.sync([stdio(MODE="a")])
    assert int(await manager.call("test", "pid", {})) == first
    await manager.sync([stdio(MODE="b")])
    second = int(await manager.call("test", "pid", {}))
    assert second != first and await wait_until_gone(first)
    assert await manager.call("test", "env_value", {"name": "MODE"}) == "b"
    await manager.sync([])
    assert manager.status() == [] and manager.tools() == []
    assert await wait_until_gone(second)


async def test_aclose_ends_the_server_processes() -> None:
    mcp = McpManager()
    await mcp.sync([stdio("one"), stdio("two")])
    pids = [int(await mcp.call(name, "pid", {})) for name in ("one", "two")]
    await mcp.aclose()
    assert mcp.status() == [] and mcp.tools() == []
    for pid in pids:
        assert await wait_until_gone(pid)


async def test_unconfigured_server_is_a_tool_error(manager: McpManager) -> None:
    with pytest.raises(ToolError, match="not configured"):
        await manager.call("nobody", "add", {})
    result = await registry_for(manager).run("nobody__add", {}, CTX)
    assert not result.ok and "Unknown tool" in result.error


# --- configured in the database ---------------------------------------------------------------


@pytest.mark.usefixtures("allow_stdio_mcp")
async def test_refresh_loads_the_database_and_stores_statuses(
    db: AsyncSession, admin: User
) -> None:
    good = await tools_admin.create_server(
        db,
        admin,
        name="test",
        transport="stdio",
        command=sys.executable,
        args=[SERVER_SCRIPT],
        confirm_password=ADMIN_PASSWORD,
    )
    broken = await tools_admin.create_server(
        db,
        admin,
        name="broken",
        transport="stdio",
        command="/nonexistent/mcp-server",
        confirm_password=ADMIN_PASSWORD,
    )
    off = await tools_admin.create_server(
        db,
        admin,
        name="off",
        transport="stdio",
        command=sys.executable,
        enabled=False,
        confirm_password=ADMIN_PASSWORD,
    )
    mcp = McpManager(session_factory=db_module.session_scope, retry_after_s=3600)
    try:
        statuses = {s.name: s.status for s in await mcp.refresh()}
        assert statuses == {"test": "ok", "broken": "error"}
        assert await mcp.call("test", "add", {"a": 2, "b": 3}) == "5"

        rows: dict[str, McpServer] = {}
        async with db_module.session_scope() as fresh:
            for server_id in (good.id, broken.id, off.id):
                row = await fresh.get(McpServer, server_id)
                assert row is not None
                rows[row.name] = row
        assert rows["test"].last_status == "ok" and rows["test"].last_error is None
        assert rows["broken"].last_status == "error"
        assert rows["broken"].last_error == "Command not found: '/nonexistent/mcp-server'."
        assert rows["off"].last_status == "disabled"
        assert all(row.last_checked_at is not None for row in rows.values())

        # A crash, then an explicit refresh reconnects.
        await registry_for(mcp).run("test__crash", {}, CTX)
        assert {s.name: s.status for s in mcp.status()}["test"] == "error"
        statuses = {s.name: s.status for s in await mcp.refresh()}
        assert statuses["test"] == "ok"
        assert await mcp.call("test", "add", {"a": 20, "b": 22}) == "42"

        # Disabling in the admin service takes the server away on the next refresh.
        await tools_admin.update_server(db, admin, good.id, enabled=False)
        assert {s.name for s in await mcp.refresh()} == {"broken"}
        assert mcp.tools() == []
    finally:
        await mcp.aclose()


@pytest.mark.usefixtures("allow_stdio_mcp")
async def test_start_connects_in_the_background(db: AsyncSession, admin: User) -> None:
    await tools_admin.create_server(
        db,
        admin,
        name="test",
        transport="stdio",
        command=sys.executable,
        args=[SERVER_SCRIPT],
        confirm_password=ADMIN_PASSWORD,
    )
    mcp = McpManager(session_factory=db_module.session_scope)
    try:
        started = time.monotonic()
        await mcp.start()
        assert time.monotonic() - started < 0.5, "start() must not wait for the servers"
        for _ in range(200):
            if any(s.status == "ok" for s in mcp.status()):
                break
            await asyncio.sleep(0.05)
        assert [s.status for s in mcp.status()] == ["ok"]
    finally:
        await mcp.aclose()


# --- streamable HTTP --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, SERVER_SCRIPT, "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_streamable_http_server(manager: McpManager, http_server: str) -> None:
    unreachable = ServerConfig(
        name="down", transport="http", url=f"http://127.0.0.1:{free_port()}/mcp"
    )
    statuses = {
        s.name: s
        for s in await manager.sync([ServerConfig("web", "http", url=http_server), unreachable])
    }
    assert statuses["web"].status == "ok" and "web__add" in statuses["web"].tools
    assert statuses["down"].status == "error" and statuses["down"].error
    registry = registry_for(manager)
    result = await registry.run("web__add", {"a": 2, "b": 3}, CTX)
    assert result.ok and result.output == "5"
    result = await registry.run("web__fail", {}, CTX)
    assert not result.ok and "this tool always fails" in result.error
