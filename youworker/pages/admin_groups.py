"""Admin: groups overview."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.layout import admin_tabs, app_shell, scroll_x
from youworker.state.admin_groups import AdminGroupRow, AdminGroupsState


def _row(row: rx.Var[AdminGroupRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(row.name, href=f"/groups/{row.id}", weight="medium"),
                rx.text(row.description, size="1", color_scheme="gray", trim="end"),
                spacing="0",
            )
        ),
        rx.table.cell(row.members),
        rx.table.cell(rx.cond(row.my_role != "", rx.badge(row.my_role), "")),
        rx.table.cell(row.created),
        data_testid="admin-group-row",
    )


def admin_groups_page() -> rx.Component:
    state = AdminGroupsState
    return app_shell(
        admin_tabs("groups"),
        rx.cond(
            state.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            rx.card(
                rx.vstack(
                    rx.hstack(
                        rx.heading("Groups", as_="h2", size="4"),
                        rx.spacer(),
                        rx.input(
                            placeholder="Search by name",
                            aria_label="Search groups by name",
                            on_change=state.search.debounce(300),
                            max_length=100,
                            width="100%",
                            max_width="18rem",
                        ),
                        width="100%",
                        wrap="wrap",
                    ),
                    scroll_x(
                        "Groups",
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    *[
                                        rx.table.column_header_cell(h)
                                        for h in ("Group", "Members", "Your role", "Created")
                                    ]
                                )
                            ),
                            rx.table.body(
                                rx.foreach(state.rows, _row),
                                empty_row(state.rows, 4, "No groups to show.", "groups-empty"),
                            ),
                            width="100%",
                            size="1",
                        ),
                    ),
                    rx.hstack(
                        rx.button(
                            "Previous",
                            size="1",
                            variant="soft",
                            disabled=state.page == 0,
                            on_click=state.go_to_page(state.page - 1),
                        ),
                        rx.text(
                            f"Page {state.page + 1} of {state.page_count} · {state.total} groups",
                            size="1",
                        ),
                        rx.button(
                            "Next",
                            size="1",
                            variant="soft",
                            disabled=state.page + 1 >= state.page_count,
                            on_click=state.go_to_page(state.page + 1),
                        ),
                        align="center",
                    ),
                    width="100%",
                ),
                width="100%",
            ),
        ),
        title="Admin",
    )
