"""Shared with me: conversations shared with the viewer's groups, and a read-only view."""

from __future__ import annotations

import reflex as rx

from youworker.components.layout import app_shell
from youworker.components.local_time import local_time
from youworker.components.message import message_bubble
from youworker.state.shared import SharedConversationState, SharedListState, SharedRow


def _shared_item(row: SharedRow) -> rx.Component:
    return rx.link(
        rx.card(
            rx.hstack(
                rx.vstack(
                    rx.text(row.title, weight="medium", trim="end", data_testid="shared-title"),
                    rx.text(
                        "by ",
                        rx.text.strong(row.owner),
                        " · with ",
                        row.groups,
                        size="1",
                        color_scheme="gray",
                        data_testid="shared-meta",
                    ),
                    spacing="1",
                    min_width="0",
                ),
                rx.spacer(),
                rx.text(
                    rx.el.time(local_time(row.updated), date_time=row.updated),
                    size="1",
                    color_scheme="gray",
                    white_space="nowrap",
                ),
                align="center",
                width="100%",
            ),
            width="100%",
        ),
        href=f"/shared/{row.id}",
        underline="none",
        color=rx.color("gray", 12),
        width="100%",
        data_testid="shared-conversation",
    )


def shared_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.text(
                "Conversations others shared with your groups. You can read them; only their "
                "owners can write in them.",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                SharedListState.shared_rows.length() > 0,
                rx.vstack(rx.foreach(SharedListState.shared_rows, _shared_item), width="100%"),
                rx.cond(
                    SharedListState.shared_loaded,
                    rx.text(
                        "Nothing is shared with you yet. Documents shared with your groups "
                        "appear on the Documents page.",
                        color_scheme="gray",
                        data_testid="nothing-shared",
                    ),
                ),
            ),
            width="100%",
            spacing="4",
        ),
        title="Shared with me",
    )


def _not_available() -> rx.Component:
    return rx.callout(
        rx.text(
            "This conversation is not available: it does not exist, or it is no longer shared "
            "with a group you belong to. ",
            rx.link("Back to Shared with me", href="/shared", underline="always"),
        ),
        icon="search-x",
        color_scheme="gray",
        width="100%",
        data_testid="not-available",
    )


def _read_only_note() -> rx.Component:
    state = SharedConversationState
    groups = rx.cond(state.shared_groups != "", state.shared_groups, "no group")
    return rx.callout(
        rx.cond(
            state.shared_by_me,
            rx.text("Your conversation, shared with ", groups, ". Read-only here."),
            rx.text("Read-only: shared by ", rx.text.strong(state.shared_owner), " with ", groups),
        ),
        icon="eye",
        color_scheme="blue",
        width="100%",
        data_testid="read-only-note",
    )


def _thread() -> rx.Component:
    state = SharedConversationState
    return rx.vstack(
        rx.cond(
            state.shared_has_older,
            rx.button(
                "Load earlier messages",
                size="1",
                variant="ghost",
                on_click=state.load_older,
                align_self="center",
                data_testid="load-earlier",
            ),
        ),
        rx.foreach(state.shared_messages, lambda m: message_bubble(m, read_only=True)),
        rx.cond(
            state.shared_messages.length() == 0,
            rx.text("No messages yet.", color_scheme="gray", size="2"),
        ),
        spacing="4",
        width="100%",
        padding_y="1rem",
        data_testid="shared-thread",
    )


def shared_conversation_page() -> rx.Component:
    state = SharedConversationState
    return app_shell(
        rx.cond(
            ~state.shared_ready,
            rx.center(rx.spinner(size="3"), width="100%", padding="3rem"),
            rx.cond(
                state.shared_not_available,
                _not_available(),
                rx.vstack(
                    rx.link(
                        rx.hstack(rx.icon("arrow-left", size=14), "Shared with me", spacing="1"),
                        href="/shared",
                        size="2",
                    ),
                    rx.heading(
                        state.shared_title, as_="h2", size="5", data_testid="conversation-title"
                    ),
                    _read_only_note(),
                    _thread(),
                    width="100%",
                    max_width="56rem",
                    spacing="3",
                ),
            ),
        ),
        title="Shared conversation",
    )
