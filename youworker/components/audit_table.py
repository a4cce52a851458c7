"""A table of audit entries; rows come from `state.admin_audit.audit_rows`."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.event import EventSpec

from youworker.components.layout import scroll_x
from youworker.components.local_time import time_element

ResourceClick = Callable[[rx.Var[str], rx.Var[str]], EventSpec]


def _action_badge(action: rx.Var[str]) -> rx.Component:
    failed = action.contains("failed") | action.contains("delete") | action.contains("deactivate")
    return rx.badge(
        action,
        color_scheme=rx.cond(failed, "red", "gray"),
        variant="soft",
        white_space="nowrap",
    )


def _resource(row: rx.Var[dict[str, str]], on_resource: ResourceClick | None) -> rx.Component:
    label = rx.text(
        row["resource_type"],
        " ",
        rx.code(row["resource_id"].to(str)[:8], size="1"),
        size="1",
        white_space="nowrap",
        title=row["resource_id"],
    )
    if on_resource is not None:
        label = rx.link(
            label,
            on_click=on_resource(row["resource_type"], row["resource_id"]),
            cursor="pointer",
            underline="hover",
            data_testid="audit-resource",
        )
    return rx.cond(row["resource_type"] != "", label, rx.text("—", size="1", color_scheme="gray"))


def _row(row: rx.Var[dict[str, str]], on_resource: ResourceClick | None) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(time_element(row["time"], seconds=True), size="1", white_space="nowrap")
        ),
        rx.table.cell(rx.text(row["actor"], size="1")),
        rx.table.cell(_action_badge(row["action"])),
        rx.table.cell(_resource(row, on_resource)),
        rx.table.cell(rx.text(row["ip"], size="1", white_space="nowrap")),
        rx.table.cell(
            rx.text(
                row["details"],
                size="1",
                color_scheme="gray",
                title=row["details"],
                max_width="18rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            )
        ),
        data_testid="audit-row",
    )


def audit_table(
    rows: rx.Var[list[dict[str, str]]], on_resource: ResourceClick | None = None
) -> rx.Component:
    """Time, actor, action, resource, IP and compact details; `on_resource(type, id)`
    makes the resource clickable."""
    return rx.cond(
        rows.length() > 0,
        scroll_x(
            "Audit entries",
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Time", "Actor", "Action", "Resource", "IP", "Details")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(rows, lambda row: _row(row, on_resource))),
                width="100%",
                size="1",
                data_testid="audit-table",
            ),
        ),
        rx.text("No entries.", size="2", color_scheme="gray", data_testid="audit-empty"),
    )
