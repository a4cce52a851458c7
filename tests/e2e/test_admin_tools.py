"""Admins register MCP servers, see their status and tools, and switch tools off."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, StorageState, expect

from bench.reflex_client import ReflexTab, state_name
from youworker.state.admin_tools import AdminToolsState

from .flows import Account, new_account, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MCP_SERVER = str(Path(__file__).resolve().parents[1] / "mcp_server.py")


def _open_tools(page: Page) -> None:
    page.goto("/admin/tools")
    expect(page.get_by_test_id("add-server")).to_be_visible()


def _add_stdio_server(
    page: Page, name: str, command: str, args: list[str], password: str = ""
) -> None:
    form = page.locator("form").filter(has=page.get_by_test_id("add-server"))
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=command]").fill(command)
    form.locator("textarea[name=args]").fill("\n".join(args))
    form.locator("input[name=confirm_password]").fill(password)
    page.get_by_test_id("add-server").click()


def test_admin_adds_a_working_and_a_broken_mcp_server(
    admin_context: BrowserContext, admin: Account
) -> None:
    page = admin_context.new_page()
    _open_tools(page)
    _add_stdio_server(page, "wrong", sys.executable, [MCP_SERVER], "not my password")
    expect(page.get_by_role("alert").filter(has_text="password is incorrect")).to_be_visible()
    expect(page.get_by_test_id("server-row").filter(has_text="wrong")).to_have_count(0)
    _add_stdio_server(page, "demo", sys.executable, [MCP_SERVER], admin.password)
    row = page.get_by_test_id("server-row").filter(has_text="demo")
    expect(row).to_contain_text("connected")
    tools = page.get_by_test_id("tool-row")
    expect(tools.filter(has_text="demo__add")).to_have_count(1)
    expect(tools.filter(has_text="calculator")).to_have_count(1)

    _add_stdio_server(page, "broken", "/nonexistent/mcp-binary", [], admin.password)
    broken = page.get_by_test_id("server-row").filter(has_text="broken")
    expect(broken.get_by_test_id("server-error")).to_be_visible()
    expect(row).to_contain_text("connected")

    toggle = tools.filter(has_text="demo__add").get_by_role("switch")
    expect(toggle).to_be_checked()
    toggle.click()
    expect(toggle).not_to_be_checked()
    page.reload()
    expect(
        page.get_by_test_id("tool-row").filter(has_text="demo__add").get_by_role("switch")
    ).not_to_be_checked()

    # Removing asks first; Cancel and Escape leave the server registered.
    dialog = page.get_by_role("alertdialog")
    remove = page.get_by_test_id("server-row").filter(has_text="broken").get_by_role("button")
    remove.filter(has_text="Remove").click()
    expect(dialog).to_contain_text("broken")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    remove.filter(has_text="Remove").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("server-row").filter(has_text="broken")).to_have_count(1)
    remove.filter(has_text="Remove").click()
    dialog.get_by_role("button", name="Remove").click()
    expect(page.get_by_test_id("server-row").filter(has_text="broken")).to_have_count(0)
    expect(page.get_by_test_id("server-row").filter(has_text="demo")).to_have_count(1)


def test_bad_server_input_gets_field_messages(admin_context: BrowserContext) -> None:
    page = admin_context.new_page()
    _open_tools(page)
    _add_stdio_server(page, "Bad Name!", "", [])
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.get_by_test_id("server-row").filter(has_text="Bad Name!")).to_have_count(0)


def test_non_admin_is_refused_on_the_tools_page(page: Page) -> None:
    register(page, new_account("plain"))
    page.goto("/admin/tools")
    expect(page.get_by_test_id("access-denied")).to_be_visible()
    expect(page.get_by_test_id("tool-row")).to_have_count(0)


async def _stdio_over_the_socket(base_url: str, cookies: httpx.Cookies) -> list[object]:
    """The admin's own tab, driven as an injected script would drive it: a stdio server sent as
    a bare event, without the password or with a wrong one."""
    tools = state_name(AdminToolsState)
    tab = ReflexTab(base_url, cookies)
    seen: list[object] = []
    try:
        await tab.open("/admin/tools")
        await tab.wait_for(lambda: tab.var(tools, "stdio_allowed") is True, 60)
        for extra in ({}, {"confirm_password": "guessed"}):
            form = {"name": "planted", "command": "/bin/sh", "args": "-c\nid", **extra}
            await tab.send(tools, "set_transport", transport="stdio")
            await tab.submit(tools, "add_server", form)
            await tab.wait_for(lambda: "password" in (tab.var(tools, "form_errors") or {}), 60)
            seen.append(dict(tab.var(tools, "form_errors")))
            await tab.send(tools, "load")
            await tab.wait_for(lambda: not tab.var(tools, "form_errors"), 60)
        seen.append([row["name"] for row in tab.var(tools, "servers") or []])
    finally:
        await tab.close()
    return seen


def test_a_stdio_server_sent_over_the_websocket_needs_the_password(
    base_url: str, admin_account: tuple[Account, StorageState]
) -> None:
    cookies = httpx.Cookies()
    for cookie in admin_account[1]["cookies"]:
        cookies.set(cookie["name"], cookie["value"])
    with ThreadPoolExecutor(max_workers=1) as thread:
        missing, wrong, names = thread.submit(
            asyncio.run, _stdio_over_the_socket(base_url, cookies)
        ).result()
    assert "Enter your password" in str(missing)
    assert "incorrect" in str(wrong)
    assert "planted" not in names  # type: ignore[operator]
