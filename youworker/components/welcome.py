"""What a new chat shows before its first message: what YouWorker can do, and where to start."""

from __future__ import annotations

import reflex as rx

from youworker.state.chat import ChatState

CAN_DO = (
    ("message-square", "Ask anything. The answer appears as it is written; stop it at any time."),
    (
        "file-text",
        "Switch on “Use my documents” to answer from your files, with sources you can open.",
    ),
    ("wrench", "Let it use tools (a calculator, the current date and time) from the Tools menu."),
    ("share-2", "Share a conversation or a document with your groups."),
)


def _item(icon: str, text: str) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=16, color=rx.color("accent", 10), flex_shrink="0", aria_hidden="true"),
        rx.text(text, size="2"),
        spacing="2",
        align="start",
    )


def welcome() -> rx.Component:
    return rx.vstack(
        rx.heading("Welcome to YouWorker", as_="h2", size="5"),
        rx.text("Your own AI workspace. Type a message below to start.", color_scheme="gray"),
        rx.vstack(*[_item(icon, text) for icon, text in CAN_DO], spacing="2"),
        rx.cond(
            ~ChatState.has_documents,
            rx.callout(
                rx.text(
                    "You have no documents yet. ",
                    rx.link("Upload documents", href="/documents"),
                    " to ask questions about them.",
                ),
                icon="upload",
                size="1",
                data_testid="welcome-upload",
            ),
        ),
        spacing="3",
        padding_y="2rem",
        max_width="36rem",
        align_self="center",
        data_testid="welcome",
    )
