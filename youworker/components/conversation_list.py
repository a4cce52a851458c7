"""The chat page's conversations: New chat, search, the list and its dialogs.

From 64em up the list is the page's left column; below, the same list opens as a drawer from the
top bar ("Conversations"). Only one of the two is mounted at a time.
"""

from __future__ import annotations

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from youworker.components.layout import side_drawer, wide_only
from youworker.components.share_dialog import share_dialog
from youworker.state.chat import ChatState
from youworker.state.chat.rows import ConversationRow
from youworker.state.share_dialog import CONVERSATION, ShareDialogState

# Below 64em the conversation list is a drawer ("Conversations" in the top bar).
CONVERSATIONS_OPEN = ClientStateVar.create("yw_conversations_open", False)


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
            on_click=CONVERSATIONS_OPEN.set_value(False),
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


def _conversation_list_body() -> list[rx.Component]:
    return [
        rx.button(
            rx.icon("plus", size=14),
            "New chat",
            width="100%",
            on_click=[ChatState.new_chat, CONVERSATIONS_OPEN.set_value(False)],
            data_testid="new-chat",
        ),
        rx.input(
            placeholder="Search chats",
            on_change=ChatState.search.debounce(250),
            max_length=200,
            width="100%",
            size="1",
            aria_label="Search chats",
            data_testid="search-chats",
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
                    ChatState.conversations_note != "",
                    rx.text(
                        ChatState.conversations_note,
                        size="1",
                        color_scheme="gray",
                        padding_x="0.5rem",
                        data_testid="conversations-empty",
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
    ]


def conversation_dialogs() -> list[rx.Component]:
    """Rename, delete and share: mounted by the page, so they outlive a closed drawer."""
    return [
        _rename_dialog(),
        _delete_dialog(),
        share_dialog(
            CONVERSATION,
            "Members of the groups you switch on can read this conversation, not write in it.",
            "share-chat-group-",
        ),
    ]


def conversation_list() -> rx.Component:
    """The left column of wide screens (unmounted while the drawer is open)."""
    return rx.cond(
        CONVERSATIONS_OPEN.value,
        rx.fragment(),
        rx.vstack(
            *_conversation_list_body(),
            width="16rem",
            min_width="16rem",
            height="100vh",
            padding="0.75rem",
            border_right=f"1px solid {rx.color('gray', 5)}",
            spacing="2",
            style=wide_only("flex"),
        ),
    )


def conversations_drawer() -> rx.Component:
    """The conversation list of narrow screens, opened from the top bar."""
    return side_drawer(
        *_conversation_list_body(),
        trigger=rx.button(
            rx.icon("messages-square", size=16, aria_hidden="true"),
            "Conversations",
            variant="soft",
            size="2",
            data_testid="open-conversations",
        ),
        open_var=CONVERSATIONS_OPEN,
        title="Conversations",
        testid="conversations-drawer",
    )
