"""Admin: tools and MCP servers."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.forms import submit_button
from youworker.components.layout import admin_tabs, app_shell, scroll_x
from youworker.state.admin_tools import AdminToolsState, ServerRow, ToolRow


def _status_badge(row: ServerRow) -> rx.Component:
    return rx.match(
        row.status,
        ("ok", rx.badge("connected", color_scheme="green")),
        ("connecting", rx.badge("connecting", color_scheme="amber")),
        ("disabled", rx.badge("disabled", color_scheme="gray")),
        rx.badge(row.status, color_scheme="red"),
    )


def _server_row(row: ServerRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(
            rx.vstack(
                rx.badge(row.transport, variant="outline"),
                rx.code(row.target, size="1"),
                rx.cond(
                    row.env != "",
                    rx.text(
                        "env: ", row.env, size="1", color_scheme="gray", data_testid="server-env"
                    ),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.vstack(
                _status_badge(row),
                rx.cond(
                    row.error != "",
                    rx.text(row.error, size="1", color_scheme="red", data_testid="server-error"),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(row.tool_count),
        rx.table.cell(
            rx.switch(
                checked=row.enabled,
                on_change=lambda v: AdminToolsState.set_server_enabled(row.id, v),
                aria_label="Server " + row.name.to(str) + " enabled",
            )
        ),
        rx.table.cell(
            rx.button(
                "Remove",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=AdminToolsState.ask_delete(row.id, row.name),
            )
        ),
        data_testid="server-row",
    )


def _tool_row(row: ToolRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.name)),
        rx.table.cell(rx.text(row.source, size="1")),
        rx.table.cell(rx.text(row.description, size="1", color_scheme="gray")),
        rx.table.cell(
            rx.switch(
                checked=row.enabled,
                on_change=lambda v: AdminToolsState.set_tool_enabled(row.name, v),
                aria_label="Tool " + row.name.to(str) + " enabled",
            )
        ),
        data_testid="tool-row",
    )


def _error(field: str) -> rx.Component:
    message = AdminToolsState.form_errors.get(field, "")
    return rx.cond(message != "", rx.text(message, size="1", color_scheme="red", role="alert"))


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("Add an MCP server", as_="h3", size="3"),
            rx.hstack(
                rx.vstack(
                    rx.input(
                        name="name",
                        placeholder="name (a-z, 0-9, - or _)",
                        aria_label="Server name",
                        max_length=40,
                    ),
                    _error("name"),
                    spacing="1",
                ),
                rx.select(
                    ["stdio", "http"],
                    value=AdminToolsState.transport,
                    on_change=AdminToolsState.set_transport,
                    size="2",
                    custom_attrs={"aria-label": "Transport"},
                ),
                align="start",
                wrap="wrap",
            ),
            rx.cond(
                AdminToolsState.transport == "stdio",
                rx.vstack(
                    rx.input(
                        name="command",
                        placeholder="command, e.g. npx or /usr/bin/python3",
                        aria_label="Command",
                        max_length=1000,
                        width="100%",
                    ),
                    _error("command"),
                    rx.text_area(
                        name="args",
                        placeholder="arguments, one per line",
                        aria_label="Arguments",
                        rows="3",
                        width="100%",
                    ),
                    _error("args"),
                    rx.text_area(
                        name="env",
                        placeholder="environment, KEY=VALUE per line",
                        aria_label="Environment",
                        rows="2",
                        width="100%",
                    ),
                    _error("env"),
                    rx.cond(
                        AdminToolsState.stdio_allowed,
                        rx.input(
                            name="confirm_password",
                            type="password",
                            placeholder="your password, to confirm a command run on the server",
                            auto_complete="current-password",
                            max_length=256,
                            width="100%",
                            data_testid="stdio-password",
                        ),
                        rx.callout(
                            "Stdio servers run a command on this server and are switched off. "
                            "An operator can allow them with "
                            "SECURITY__ALLOW_STDIO_MCP_SERVERS=true; HTTP servers work without it.",
                            icon="shield-alert",
                            color_scheme="amber",
                            size="1",
                            data_testid="stdio-off",
                        ),
                    ),
                    _error("password"),
                    _error("transport"),
                    width="100%",
                    spacing="1",
                ),
                rx.vstack(
                    rx.input(
                        name="url",
                        placeholder="https://host/mcp (streamable HTTP)",
                        aria_label="Server URL",
                        max_length=2000,
                        width="100%",
                    ),
                    _error("url"),
                    width="100%",
                    spacing="1",
                ),
            ),
            submit_button("Add server", data_testid="add-server"),
            width="100%",
            spacing="2",
        ),
        on_submit=AdminToolsState.add_server,
        reset_on_submit=False,
        width="100%",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove this MCP server?"),
            rx.alert_dialog.description(
                rx.text(AdminToolsState.deleting_name, " and its tools disappear from chat.")
            ),
            rx.hstack(
                rx.button(
                    "Cancel",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AdminToolsState.cancel_delete,
                ),
                rx.button("Remove", color_scheme="red", on_click=AdminToolsState.confirm_delete),
                justify="end",
                margin_top="1rem",
            ),
        ),
        open=AdminToolsState.deleting_id != "",
        # Escape and a click outside close it like Cancel (Radix reports them as "closed").
        on_open_change=lambda _open: AdminToolsState.cancel_delete(),
    )


def admin_tools_page() -> rx.Component:
    return app_shell(
        admin_tabs("tools"),
        rx.cond(
            AdminToolsState.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            rx.vstack(
                rx.card(
                    rx.vstack(
                        rx.hstack(
                            rx.heading("MCP servers", as_="h2", size="4"),
                            rx.spacer(),
                            rx.button(
                                rx.icon("refresh-cw", size=14),
                                "Check again",
                                size="1",
                                variant="soft",
                                on_click=AdminToolsState.refresh_servers,
                            ),
                            width="100%",
                        ),
                        scroll_x(
                            "MCP servers",
                            rx.table.root(
                                rx.table.header(
                                    rx.table.row(
                                        *[
                                            rx.table.column_header_cell(h)
                                            for h in (
                                                "Name",
                                                "Runs",
                                                "Status",
                                                "Tools",
                                                "Enabled",
                                                "Actions",
                                            )
                                        ]
                                    )
                                ),
                                rx.table.body(
                                    rx.foreach(AdminToolsState.servers, _server_row),
                                    empty_row(
                                        AdminToolsState.servers,
                                        6,
                                        "No MCP servers yet. Add one below.",
                                        "mcp-servers-empty",
                                    ),
                                ),
                                width="100%",
                                size="1",
                            ),
                        ),
                        rx.divider(),
                        _add_form(),
                        width="100%",
                    ),
                    width="100%",
                ),
                rx.card(
                    rx.vstack(
                        rx.heading("Tools", as_="h2", size="4"),
                        rx.text(
                            "Switched-off tools are never offered to the model. Users can also "
                            "switch tools off per conversation.",
                            size="1",
                            color_scheme="gray",
                        ),
                        scroll_x(
                            "Tools",
                            rx.table.root(
                                rx.table.header(
                                    rx.table.row(
                                        *[
                                            rx.table.column_header_cell(h)
                                            for h in ("Tool", "Source", "Description", "Enabled")
                                        ]
                                    )
                                ),
                                rx.table.body(
                                    rx.foreach(AdminToolsState.tools, _tool_row),
                                    empty_row(AdminToolsState.tools, 4, "No tools.", "tools-empty"),
                                ),
                                width="100%",
                                size="1",
                            ),
                        ),
                        width="100%",
                    ),
                    width="100%",
                ),
                _delete_dialog(),
                width="100%",
                spacing="4",
            ),
        ),
        title="Admin",
    )
