"""The chat page: conversations on the left, the thread and composer on the right."""

from __future__ import annotations

import reflex as rx

from youworker.components.conversation_list import (
    conversation_dialogs,
    conversation_list,
    conversations_drawer,
)
from youworker.components.layout import app_shell_wide
from youworker.components.message import live_answer, thread_message
from youworker.components.welcome import welcome
from youworker.state.chat import ChatState, CollectionChoice, ToolToggle
from youworker.state.share_dialog import ShareDialogState


def _tool_toggle(toggle: ToolToggle) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=toggle.enabled,
            on_change=lambda value: ChatState.toggle_tool(toggle.name, value),
            size="1",
            aria_label=toggle.name,
        ),
        rx.vstack(
            rx.text(toggle.name, size="1", weight="medium"),
            rx.text(toggle.description, size="1", color_scheme="gray"),
            spacing="0",
        ),
        align="start",
    )


def _collection_option(option: CollectionChoice) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.checkbox(
                checked=ChatState.collections_chosen.contains(option.id),
                on_change=lambda checked: ChatState.toggle_collection(option.id, checked),
            ),
            rx.text(option.label, size="2"),
            align="center",
            spacing="2",
        ),
        data_testid="chat-collection-option",
    )


def _collections_picker() -> rx.Component:
    """Which collections the document search looks in: any number of them, or all documents."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("library", size=14),
                "Search in: ",
                ChatState.collections_summary,
                size="1",
                variant="soft",
                data_testid="chat-collection",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.text("Search in", size="1", weight="medium", color_scheme="gray"),
                rx.foreach(ChatState.collection_options, _collection_option),
                rx.button(
                    "All documents",
                    size="1",
                    variant="ghost",
                    disabled=ChatState.collections_chosen.length() == 0,
                    on_click=ChatState.search_all_documents,
                    data_testid="chat-all-documents",
                ),
                spacing="2",
            ),
            max_width="22rem",
            aria_label="Search in",
        ),
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.heading(
            rx.cond(ChatState.current_title != "", ChatState.current_title, "New chat"),
            as_="h1",
            size="4",
            trim="end",
            data_testid="conversation-title",
        ),
        rx.spacer(),
        rx.select.root(
            rx.select.trigger(data_testid="model-picker", aria_label="Model"),
            rx.select.content(
                rx.foreach(ChatState.models, lambda name: rx.select.item(name, value=name))
            ),
            value=ChatState.current_model,
            on_change=ChatState.choose_model,
            size="1",
        ),
        rx.tooltip(
            rx.hstack(
                rx.switch(
                    checked=ChatState.use_documents,
                    on_change=ChatState.toggle_documents,
                    size="1",
                    aria_label="Use my documents",
                    data_testid="use-documents",
                ),
                rx.text("Use my documents", size="1"),
                align="center",
                spacing="1",
            ),
            content="Search your documents before answering, and cite them",
        ),
        rx.cond(ChatState.collection_options.length() > 0, _collections_picker()),
        rx.cond(
            ChatState.current_id != "",
            rx.button(
                rx.icon("share-2", size=14),
                "Share",
                size="1",
                variant="soft",
                on_click=ShareDialogState.open_conversation(
                    ChatState.current_id, ChatState.current_title
                ),
                data_testid="share-chat",
            ),
        ),
        rx.popover.root(
            rx.popover.trigger(
                rx.button(rx.icon("wrench", size=14), "Tools", size="1", variant="soft")
            ),
            rx.popover.content(
                rx.vstack(rx.foreach(ChatState.tools, _tool_toggle), spacing="2"), max_width="22rem"
            ),
        ),
        width="100%",
        align="center",
        wrap="wrap",
        padding_bottom="0.5rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def _thread() -> rx.Component:
    """The messages, in a scroll box that assets/chat.js keeps at the newest one."""
    thread = rx.box(
        rx.vstack(
            rx.cond(ChatState.shows_welcome, welcome()),
            rx.cond(
                ChatState.has_older,
                rx.button(
                    "Load earlier messages",
                    size="1",
                    variant="ghost",
                    on_click=ChatState.load_older,
                    align_self="center",
                ),
            ),
            rx.foreach(
                ChatState.messages,
                lambda m: thread_message(
                    message=m, can_regenerate=m.id == ChatState.last_answer_id, key=m.id
                ),
            ),
            rx.foreach(
                ChatState.pending_messages,
                lambda m: thread_message(message=m, can_regenerate=False, key=m.id),
            ),
            rx.cond(ChatState.streaming, live_answer()),
            spacing="4",
            width="100%",
            padding_y="1rem",
        ),
        height="100%",
        overflow_y="auto",
        width="100%",
        id="thread",
        data_testid="thread",
        data_conversation=ChatState.current_id,
        data_streaming=rx.cond(ChatState.streaming, "true", "false"),
    )
    return rx.box(
        thread,
        _jump_to_latest(),
        position="relative",
        flex="1",
        min_height="0",
        width="100%",
    )


def _jump_to_latest() -> rx.Component:
    """Shown by assets/chat.js while the person reads further up than the newest message."""
    return rx.el.div(
        rx.button(
            rx.icon("arrow-down", size=14),
            "Jump to latest",
            size="1",
            variant="solid",
            radius="full",
            type="button",
            data_testid="jump-to-latest",
        ),
        id="jump-to-latest",
        hidden=True,
        position="absolute",
        bottom="0.75rem",
        left="50%",
        transform="translateX(-50%)",
    )


def _composer() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.cond(
                ChatState.composer_error != "",
                rx.text(
                    ChatState.composer_error,
                    color_scheme="red",
                    size="1",
                    role="alert",
                    data_testid="composer-error",
                ),
            ),
            rx.hstack(
                rx.text_area(
                    name="message",
                    id="composer",
                    placeholder="Message YouWorker (Enter to send, Shift+Enter for a new line)",
                    aria_label="Message",
                    enter_key_submit=True,
                    auto_height=True,
                    auto_focus=True,
                    rows="1",
                    # Longer pastes are cut to fit; assets/chat.js says so and counts.
                    max_length=ChatState.message_limit,
                    flex="1",
                    data_testid="composer",
                ),
                rx.cond(
                    ChatState.streaming,
                    rx.button(
                        rx.icon("square", size=14),
                        "Stop",
                        type="button",
                        color_scheme="red",
                        variant="soft",
                        on_click=ChatState.stop,
                        data_testid="stop",
                    ),
                    rx.button(rx.icon("send", size=14), "Send", type="submit", data_testid="send"),
                ),
                width="100%",
                align="end",
            ),
            rx.hstack(
                rx.text(
                    "",
                    id="composer-limit-note",
                    size="1",
                    color_scheme="amber",
                    role="status",
                    data_testid="composer-limit-note",
                ),
                rx.spacer(),
                rx.text(
                    "",
                    id="composer-count",
                    size="1",
                    color_scheme="gray",
                    aria_live="polite",
                    data_testid="composer-count",
                ),
                width="100%",
            ),
            width="100%",
            spacing="1",
        ),
        on_submit=ChatState.send,
        # Emptied by `send` once the message is accepted: a refused one stays to be edited.
        reset_on_submit=False,
        width="100%",
    )


def _workspace() -> rx.Component:
    return rx.cond(
        ChatState.not_found,
        rx.center(
            rx.callout(
                "Conversation not found.",
                icon="search-x",
                color_scheme="gray",
                data_testid="not-found",
            ),
            width="100%",
            padding="3rem",
        ),
        rx.vstack(
            rx.cond(
                ChatState.provider_banner != "",
                rx.callout(
                    ChatState.provider_banner,
                    icon="info",
                    size="1",
                    color_scheme="amber",
                    width="100%",
                    data_testid="provider-banner",
                ),
            ),
            _header(),
            _thread(),
            _composer(),
            height="calc(100dvh - var(--yw-top-bar, 0px))",
            width="100%",
            max_width="56rem",
            padding="1rem",
            spacing="2",
        ),
    )


def chat_page() -> rx.Component:
    return rx.fragment(
        # Scrolling, focus and the composer's count: a static file, never built from data.
        rx.script(src="/chat.js"),
        app_shell_wide(
            rx.hstack(
                conversation_list(),
                _workspace(),
                *conversation_dialogs(),
                spacing="0",
                width="100%",
                align="start",
            ),
            conversations_drawer(),
        ),
    )
