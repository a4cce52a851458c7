"""Admin: dependency health and latency, active models, versions, settings without secrets."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.layout import admin_tabs, app_shell, scroll_x
from youworker.state.admin_system import AdminSystemState

STATUS_COLORS = {"ok": "green", "degraded": "amber", "not_configured": "gray", "down": "red"}


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        *[(name, rx.badge(name, color_scheme=color)) for name, color in STATUS_COLORS.items()],
        rx.badge(status, color_scheme="gray"),
    )


def _probe_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["name"], weight="medium")),
        rx.table.cell(_status_badge(row["status"])),
        rx.table.cell(rx.text(row["latency"], white_space="nowrap")),
        rx.table.cell(rx.text(row["detail"], size="1", color_scheme="gray")),
        data_testid=f"probe-{row['name']}",
    )


def _pair_row(name: rx.Var[str] | str, value: rx.Var[str] | str, testid: str) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(name, size="1", weight="medium", white_space="nowrap")),
        rx.table.cell(rx.code(value, size="1", word_break="break-all")),
        data_testid=testid,
    )


def _health() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Health", as_="h2", size="4"),
                _status_badge(AdminSystemState.status),
                rx.spacer(),
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Refresh",
                    size="1",
                    variant="soft",
                    loading=AdminSystemState.loading,
                    on_click=AdminSystemState.refresh,
                    data_testid="system-refresh",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            scroll_x(
                "Health",
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Dependency", "Status", "Latency", "Detail")
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(AdminSystemState.probes, _probe_row),
                        empty_row(AdminSystemState.probes, 4, "No checks yet.", "probes-empty"),
                    ),
                    width="100%",
                    size="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
        margin_bottom="1.25rem",
    )


def _models() -> rx.Component:
    llm, embedder = AdminSystemState.llm, AdminSystemState.embedder
    return rx.card(
        rx.vstack(
            rx.heading("Models", as_="h2", size="4"),
            scroll_x(
                "Models",
                rx.table.root(
                    rx.table.body(
                        _pair_row("LLM provider (setting)", llm.get("mode", ""), "llm-mode"),
                        _pair_row("Active LLM provider", llm.get("active", ""), "llm-active"),
                        _pair_row("Chat model", llm.get("model", ""), "llm-model"),
                        _pair_row("Provider detail", llm.get("detail", ""), "llm-detail"),
                        _pair_row("Embedder", embedder.get("name", ""), "embedder-name"),
                        _pair_row(
                            "Vector dimension", embedder.get("dimension", ""), "embedder-dim"
                        ),
                        _pair_row("Collection key", embedder.get("key", ""), "embedder-key"),
                    ),
                    width="100%",
                    size="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
        margin_bottom="1.25rem",
    )


def _versions() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Versions", as_="h2", size="4"),
            scroll_x(
                "Versions",
                rx.table.root(
                    rx.table.body(
                        rx.foreach(
                            AdminSystemState.versions,
                            lambda row: _pair_row(row["name"], row["version"], "version-row"),
                        )
                    ),
                    width="100%",
                    size="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
        margin_bottom="1.25rem",
    )


def _settings() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Settings", as_="h2", size="4"),
            rx.text(
                "Secrets are never shown: only whether they are set. Passwords in URLs are masked.",
                size="1",
                color_scheme="gray",
            ),
            scroll_x(
                "Settings",
                rx.table.root(
                    rx.table.body(
                        rx.foreach(
                            AdminSystemState.settings_rows,
                            lambda row: _pair_row(row["name"], row["value"], "setting-row"),
                        )
                    ),
                    width="100%",
                    size="1",
                ),
            ),
            width="100%",
        ),
        width="100%",
    )


def admin_system_page() -> rx.Component:
    return app_shell(
        admin_tabs("system"),
        rx.cond(
            AdminSystemState.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            rx.fragment(_health(), _models(), _versions(), _settings()),
        ),
        title="System",
    )
