"""Admin: users and the registration policy."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.forms import submit_button
from youworker.components.layout import (
    admin_tabs,
    app_shell,
    confirm_action,
    field_error,
    scroll_x,
)
from youworker.components.local_time import time_element
from youworker.state.admin import AdminState
from youworker.state.groups import InvitationRow


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
                custom_attrs={"aria-label": "Role of " + row["email"].to(str)},
            )
        ),
        rx.table.cell(
            rx.cond(
                row["active"] == "yes",
                rx.badge("active", color_scheme="green"),
                rx.badge("deactivated", color_scheme="red"),
            )
        ),
        rx.table.cell(time_element(row["last_sign_in"], missing="never")),
        rx.table.cell(
            rx.cond(
                row["is_self"] == "yes",
                rx.text("you", size="1", color_scheme="gray"),
                rx.cond(
                    row["active"] == "yes",
                    rx.hstack(
                        rx.button(
                            "Send reset link",
                            size="1",
                            variant="soft",
                            on_click=AdminState.send_reset_link(row["id"]),
                            data_testid=f"reset-{row['email']}",
                        ),
                        confirm_action(
                            rx.button(
                                "Deactivate",
                                size="1",
                                variant="soft",
                                color_scheme="red",
                                data_testid=f"deactivate-{row['email']}",
                            ),
                            title=rx.text("Deactivate ", row["name"], "?", as_="span"),
                            description=rx.text(
                                row["email"],
                                " is signed out everywhere at once and their API keys stop "
                                "working. You can reactivate the account later.",
                                as_="span",
                            ),
                            confirm_label="Deactivate",
                            on_confirm=AdminState.set_active(row["id"], "no"),
                            confirm_testid="confirm-deactivate",
                        ),
                        spacing="2",
                        wrap="wrap",
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
        # Keyed by id: a row (and its open confirmation) stays with its user when the list
        # changes under it, e.g. when a search result arrives.
        key=row["id"],
        data_testid="user-row",
    )


def _users() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Users", as_="h2", size="4"),
                rx.spacer(),
                rx.input(
                    placeholder="Search by email or name",
                    aria_label="Search users by email or name",
                    on_change=AdminState.search.debounce(300),
                    max_length=254,
                    width="100%",
                    max_width="18rem",
                ),
                width="100%",
                wrap="wrap",
            ),
            scroll_x(
                "Users",
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("User", "Role", "Status", "Last sign-in", "Actions")
                            ]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(AdminState.users, _user_row),
                        empty_row(
                            AdminState.users, 5, "No user matches this search.", "users-empty"
                        ),
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
                    disabled=AdminState.page == 0,
                    on_click=AdminState.go_to_page(AdminState.page - 1),
                ),
                rx.text(
                    f"Page {AdminState.page + 1} of {AdminState.page_count}"
                    f" · {AdminState.total} users",
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
            rx.heading("Registration", as_="h2", size="4"),
            rx.radio_group(
                ["open", "invite_only"],
                value=AdminState.registration_mode,
                on_change=AdminState.set_registration_mode,
                direction="row",
                aria_label="Registration mode",
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


def _pending_row(row: rx.Var[InvitationRow]) -> rx.Component:
    return rx.hstack(
        rx.icon("mail", size=14, aria_hidden="true"),
        rx.text(row.email, size="2", word_break="break-all"),
        rx.text("expires ", time_element(row.expires), size="1", color_scheme="gray"),
        rx.spacer(),
        confirm_action(
            rx.button(
                "Withdraw",
                size="1",
                variant="soft",
                color_scheme="gray",
                data_testid=f"revoke-site-{row.email}",
            ),
            title="Withdraw this invitation?",
            description=rx.text(
                "The link sent to ", row.email, " stops working at once.", as_="span"
            ),
            confirm_label="Withdraw",
            on_confirm=AdminState.revoke_invitation(row.id),
            confirm_testid="confirm-withdraw",
        ),
        width="100%",
        align="center",
        wrap="wrap",
        key=row.id,
        data_testid="pending-site-invitation",
    )


def _invite() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Invite someone", as_="h2", size="4"),
            rx.text(
                "They get a link to create an account, even when registration is by invitation "
                "only. To invite into a group, use the group's page.",
                size="1",
                color_scheme="gray",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="email",
                        type="email",
                        placeholder="name@example.com",
                        aria_label="Email address to invite",
                        max_length=254,
                        required=True,
                        width="100%",
                        max_width="20rem",
                        data_testid="site-invite-email",
                    ),
                    submit_button("Send invitation", data_testid="site-invite-submit"),
                    wrap="wrap",
                ),
                on_submit=AdminState.invite,
                reset_on_submit=True,
            ),
            field_error(AdminState.invite_error),
            rx.cond(
                AdminState.invite_note != "",
                rx.callout(AdminState.invite_note, icon="send", data_testid="site-invite-note"),
            ),
            rx.foreach(AdminState.pending_invitations, _pending_row),
            width="100%",
        ),
        width="100%",
        margin_bottom="1.25rem",
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
            rx.fragment(_users(), _invite(), _policy()),
        ),
        title="Admin",
    )
