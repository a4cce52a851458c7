"""Admin: users and the registration policy."""

from __future__ import annotations

import reflex as rx

from youworker.components.layout import admin_tabs, app_shell
from youworker.state.admin import AdminState


def _user_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row["name"], weight="medium"),
                rx.text(row["email"], size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.select(
                ["admin", "user"],
                value=row["role"],
                size="1",
                on_change=lambda role: AdminState.set_role(row["id"], role),
                disabled=row["is_self"] == "yes",
            )
        ),
        rx.table.cell(
            rx.cond(
                row["active"] == "yes",
                rx.badge("active", color_scheme="green"),
                rx.badge("deactivated", color_scheme="red"),
            )
        ),
        rx.table.cell(row["last_sign_in"]),
        rx.table.cell(
            rx.cond(
                row["is_self"] == "yes",
                rx.text("you", size="1", color_scheme="gray"),
                rx.cond(
                    row["active"] == "yes",
                    rx.button(
                        "Deactivate",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=AdminState.set_active(row["id"], "no"),
                        data_testid=f"deactivate-{row['email']}",
                    ),
                    rx.button(
                        "Reactivate",
                        size="1",
                        variant="soft",
                        on_click=AdminState.set_active(row["id"], "yes"),
                    ),
                ),
            )
        ),
        data_testid="user-row",
    )


def _users() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Users", size="4"),
                rx.spacer(),
                rx.input(
                    placeholder="Search by email or name",
                    on_change=AdminState.search.debounce(300),
                    max_length=254,
                    width="18rem",
                ),
                width="100%",
            ),
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("User", "Role", "Status", "Last sign-in", "")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(AdminState.users, _user_row)),
                width="100%",
                size="1",
            ),
            rx.hstack(
                rx.button(
                    "Previous",
                    size="1",
                    variant="soft",
                    disabled=AdminState.page == 0,
                    on_click=AdminState.go_to_page(AdminState.page - 1),
                ),
                rx.text(
                    f"Page {AdminState.page + 1} of {AdminState.page_count}"
                    f" · {AdminState.total_users} users",
                    size="1",
                ),
                rx.button(
                    "Next",
                    size="1",
                    variant="soft",
                    disabled=AdminState.page + 1 >= AdminState.page_count,
                    on_click=AdminState.go_to_page(AdminState.page + 1),
                ),
                align="center",
            ),
            width="100%",
        ),
        width="100%",
        margin_bottom="1.25rem",
    )


def _policy() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Registration", size="4"),
            rx.radio_group(
                ["open", "invite_only"],
                value=AdminState.registration_mode,
                on_change=AdminState.set_registration_mode,
                direction="row",
            ),
            rx.text(
                "open: anyone who can reach this server may create an account. "
                "invite_only: only people with an invitation.",
                size="1",
                color_scheme="gray",
            ),
            spacing="2",
        ),
        width="100%",
    )


def admin_page() -> rx.Component:
    return app_shell(
        admin_tabs("users"),
        rx.cond(
            AdminState.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            rx.fragment(_users(), _policy()),
        ),
        title="Admin",
    )
