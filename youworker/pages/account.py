"""The account page."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.forms import submit_button
from youworker.components.layout import app_shell, confirm_action, field_error, scroll_x
from youworker.components.local_time import time_element
from youworker.state.account import NEW_KEY, AccountState


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, as_="h2", size="4"), *children, spacing="3", width="100%"),
        width="100%",
        margin_bottom="1.25rem",
    )


def _profile() -> rx.Component:
    return _section(
        "Profile",
        rx.form(
            rx.hstack(
                rx.vstack(
                    rx.input(
                        name="display_name",
                        default_value=AccountState.display_name_input,
                        max_length=100,
                        width="100%",
                        max_width="20rem",
                        aria_label="Display name",
                    ),
                    field_error(AccountState.profile_error),
                    spacing="1",
                ),
                submit_button("Save"),
                align="start",
                wrap="wrap",
            ),
            on_submit=AccountState.save_profile,
        ),
    )


def _password() -> rx.Component:
    return _section(
        "Password",
        rx.form(
            rx.vstack(
                rx.input(
                    name="current_password",
                    type="password",
                    placeholder="Current password",
                    aria_label="Current password",
                    auto_complete="current-password",
                    max_length=256,
                    width="100%",
                    max_width="20rem",
                ),
                field_error(AccountState.current_password_error),
                rx.input(
                    name="new_password",
                    type="password",
                    placeholder="New password (10+ characters)",
                    aria_label="New password (10+ characters)",
                    auto_complete="new-password",
                    max_length=256,
                    width="100%",
                    max_width="20rem",
                ),
                field_error(AccountState.new_password_error),
                submit_button("Change password"),
                rx.text(
                    "Changing your password signs out every other session and revokes "
                    "every personal key below (programs using one need a new key).",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="2",
            ),
            on_submit=AccountState.change_password,
            reset_on_submit=True,
        ),
    )


def _session_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            row["user_agent"], max_width="22rem", overflow="hidden", text_overflow="ellipsis"
        ),
        rx.table.cell(row["ip"]),
        rx.table.cell(time_element(row["last_seen"], missing="never")),
        rx.table.cell(
            rx.cond(
                row["current"] == "yes",
                rx.badge("this browser", color_scheme="green"),
                confirm_action(
                    rx.button(
                        "Revoke",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        data_testid="revoke-session",
                    ),
                    title="Sign this session out?",
                    description=rx.text(
                        "The browser ", row["user_agent"], " is signed out at once.", as_="span"
                    ),
                    confirm_label="Sign out session",
                    on_confirm=AccountState.revoke_session(row["id"]),
                    confirm_testid="confirm-revoke-session",
                ),
            )
        ),
        key=row["id"],
    )


def _sessions() -> rx.Component:
    return _section(
        "Sessions",
        scroll_x(
            "Sessions",
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Browser", "IP", "Last seen", "Actions")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(AccountState.sessions, _session_row),
                    empty_row(AccountState.sessions, 4, "No active sessions.", "sessions-empty"),
                ),
                width="100%",
                size="1",
            ),
        ),
    )


def _key_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["name"]),
        rx.table.cell(rx.code(row["prefix"] + "…")),
        rx.table.cell(time_element(row["created"])),
        rx.table.cell(time_element(row["last_used"], missing="never")),
        rx.table.cell(
            confirm_action(
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    data_testid="revoke-key",
                ),
                title=rx.text("Revoke the key ", row["name"], "?", as_="span"),
                description="Scripts using it are refused from now on. This cannot be undone.",
                confirm_label="Revoke key",
                on_confirm=AccountState.revoke_key(row["id"]),
                confirm_testid="confirm-revoke-key",
            )
        ),
        key=row["id"],
    )


def _keys() -> rx.Component:
    return _section(
        "API keys",
        rx.cond(
            NEW_KEY.value != "",
            rx.callout(
                rx.vstack(
                    rx.text("Copy your new key now: it will not be shown again."),
                    rx.hstack(
                        rx.code(NEW_KEY.value, data_testid="new-api-key"),
                        rx.icon_button(
                            rx.icon("copy", size=14),
                            size="1",
                            variant="ghost",
                            aria_label="Copy API key",
                            on_click=rx.set_clipboard(NEW_KEY.value),
                        ),
                        wrap="wrap",
                    ),
                    rx.button(
                        "Done", size="1", on_click=NEW_KEY.set_value(""), data_testid="key-done"
                    ),
                ),
                icon="key-round",
                color_scheme="green",
            ),
        ),
        rx.form(
            rx.hstack(
                rx.vstack(
                    rx.input(
                        name="name",
                        placeholder="Key name, e.g. laptop script",
                        aria_label="Key name",
                        max_length=100,
                        width="100%",
                        max_width="20rem",
                    ),
                    field_error(AccountState.key_name_error),
                    spacing="1",
                ),
                submit_button("Create key"),
                align="start",
                wrap="wrap",
            ),
            on_submit=AccountState.create_key,
            reset_on_submit=True,
        ),
        scroll_x(
            "API keys",
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Name", "Key", "Created", "Last used", "Actions")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(AccountState.keys, _key_row),
                    empty_row(
                        AccountState.keys,
                        5,
                        "No keys yet. Create one to use the REST API from scripts.",
                        "api-keys-empty",
                    ),
                ),
                width="100%",
                size="1",
            ),
        ),
    )


def account_page() -> rx.Component:
    return app_shell(_profile(), _password(), _sessions(), _keys(), title="Account")
