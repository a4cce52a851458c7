"""The chat page: conversations on the left, the thread and composer on the right."""

from __future__ import annotations

import reflex as rx

from youworker.components.layout import app_shell_wide
from youworker.components.message import live_answer, thread_message
from youworker.components.share_dialog import share_dialog
from youworker.state.chat import ChatState, ConversationRow, ToolToggle
from youworker.state.share_dialog import CONVERSATION, ShareDialogState


@rx.memo
def conversation_item(
    row: rx.Var[ConversationRow], active: rx.Var[bool], rest: rx.RestProp
) -> rx.Component:
    """A sidebar row, as its own React component: it renders again only when its row or its
    highlight changes, not on every change of the chat state. `rest` takes the list's `key`."""
    return rx.hstack(
        rx.link(
            rx.text(row.title, size="2", trim="end", weight=rx.cond(active, "medium", "regular")),
            href=f"/chat/{row.id}",
            underline="none",
            color=rx.color("gray", 12),
            flex="1",
            min_width="0",
            data_testid="conversation-link",
        ),
        rx.menu.root(
            rx.menu.trigger(
                rx.icon_button(
                    rx.icon("ellipsis", size=14),
                    size="1",
                    variant="ghost",
                    aria_label="Conversation actions",
                    data_testid="conversation-menu",
                ),
            ),
            rx.menu.content(
                rx.menu.item("Rename", on_click=ChatState.ask_rename(row.id, row.title)),
                rx.menu.item(
                    "Share",
                    on_click=ShareDialogState.open_conversation(row.id, row.title),
                    data_testid="share-conversation",
                ),
                rx.menu.item(
                    "Delete",
                    color="red",
                    on_click=ChatState.ask_delete(row.id, row.title),
                    data_testid="delete-conversation",
                ),
            ),
        ),
        rest,
        width="100%",
        padding_x="0.5rem",
        padding_y="0.35rem",
        border_radius="0.4rem",
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        align="center",
    )


def _rename_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rename conversation"),
            rx.form(
                rx.vstack(
                    rx.input(
                        name="title",
                        default_value=ChatState.dialog_title,
                        max_length=200,
                        width="100%",
                        aria_label="New title",
                        auto_focus=True,
                    ),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            variant="soft",
                            color_scheme="gray",
                            type="button",
                            on_click=ChatState.close_dialogs,
                        ),
                        rx.button("Save", type="submit", data_testid="confirm-rename"),
                        justify="end",
                        width="100%",
                    ),
                ),
                on_submit=ChatState.confirm_rename,
            ),
        ),
        open=ChatState.renaming_id != "",
        on_open_change=ChatState.dialog_open_changed,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this conversation?"),
            rx.alert_dialog.description(
                rx.text("“", ChatState.dialog_title, "” and all its messages are deleted for good.")
            ),
            rx.hstack(
                rx.button(
                    "Cancel", variant="soft", color_scheme="gray", on_click=ChatState.close_dialogs
                ),
                rx.button(
                    "Delete",
                    color_scheme="red",
                    on_click=ChatState.confirm_delete,
                    data_testid="confirm-delete",
                ),
                justify="end",
                spacing="2",
                margin_top="1rem",
            ),
        ),
        open=ChatState.deleting_id != "",
        on_open_change=ChatState.dialog_open_changed,
    )


def conversation_list() -> rx.Component:
    return rx.vstack(
        rx.button(
            rx.icon("plus", size=14),
            "New chat",
            width="100%",
            on_click=ChatState.new_chat,
            data_testid="new-chat",
        ),
        rx.input(
            placeholder="Search chats",
            on_change=ChatState.search.debounce(250),
            max_length=200,
            width="100%",
            size="1",
        ),
        rx.scroll_area(
            rx.vstack(
                rx.foreach(
                    ChatState.conversations,
                    lambda row: conversation_item(
                        row=row, active=ChatState.current_id == row.id, key=row.id
                    ),
                ),
                rx.cond(
                    ChatState.has_more_conversations,
                    rx.button(
                        "Load more",
                        size="1",
                        variant="ghost",
                        width="100%",
                        on_click=ChatState.load_more_conversations,
                    ),
                ),
                spacing="1",
                width="100%",
            ),
            type="hover",
            scrollbars="vertical",
            flex="1",
        ),
        _rename_dialog(),
        _delete_dialog(),
        share_dialog(
            CONVERSATION,
            "Members of the groups you switch on can read this conversation, not write in it.",
            "share-chat-group-",
        ),
        width="16rem",
        min_width="16rem",
        height="100vh",
        padding="0.75rem",
        border_right=f"1px solid {rx.color('gray', 5)}",
        spacing="2",
    )


def _tool_toggle(toggle: ToolToggle) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=toggle.enabled,
            on_change=lambda value: ChatState.toggle_tool(toggle.name, value),
            size="1",
        ),
        rx.vstack(
            rx.text(toggle.name, size="1", weight="medium"),
            rx.text(toggle.description, size="1", color_scheme="gray"),
            spacing="0",
        ),
        align="start",
    )


def _header() -> rx.Component:
    return rx.hstack(
        rx.heading(
            rx.cond(ChatState.current_title != "", ChatState.current_title, "New chat"),
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
                    data_testid="use-documents",
                ),
                rx.text("Use my documents", size="1"),
                align="center",
                spacing="1",
            ),
            content="Search your documents before answering, and cite them",
        ),
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
        padding_bottom="0.5rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def _thread() -> rx.Component:
    return rx.box(
        rx.vstack(
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
        flex="1",
        overflow_y="auto",
        width="100%",
        id="thread",
        data_testid="thread",
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
                    placeholder="Message YouWorker (Enter to send, Shift+Enter for a new line)",
                    enter_key_submit=True,
                    auto_height=True,
                    rows="1",
                    max_length=32000,
                    disabled=ChatState.streaming,
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
            width="100%",
            spacing="1",
        ),
        on_submit=ChatState.send,
        reset_on_submit=True,
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
            height="100vh",
            width="100%",
            max_width="56rem",
            padding="1rem",
            spacing="2",
        ),
    )


def chat_page() -> rx.Component:
    return app_shell_wide(
        rx.hstack(conversation_list(), _workspace(), spacing="0", width="100%", align="start")
    )
