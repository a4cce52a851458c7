"""Admins register MCP servers, see their status and tools, and switch tools off."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .flows import new_account, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MCP_SERVER = str(Path(__file__).resolve().parents[1] / "mcp_server.py")


def _open_tools(page: Page) -> None:
    page.goto("/admin/tools")
    expect(page.get_by_test_id("add-server")).to_be_visible()


def _add_stdio_server(page: Page, name: str, command: str, args: list[str]) -> None:
    form = page.locator("form").filter(has=page.get_by_test_id("add-server"))
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=command]").fill(command)
    form.locator("textarea[name=args]").fill("\n".join(args))
    page.get_by_test_id("add-server").click()


def test_admin_adds_a_working_and_a_broken_mcp_server(admin_context: BrowserContext) -> None:
    page = admin_context.new_page()
    _open_tools(page)
    _add_stdio_server(page, "demo", sys.executable, [MCP_SERVER])
    row = page.get_by_test_id("server-row").filter(has_text="demo")
    expect(row).to_contain_text("connected")
    tools = page.get_by_test_id("tool-row")
    expect(tools.filter(has_text="demo__add")).to_have_count(1)
    expect(tools.filter(has_text="calculator")).to_have_count(1)

    _add_stdio_server(page, "broken", "/nonexistent/mcp-binary", [])
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
