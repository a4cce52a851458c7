"""Message bubbles, tool-call cards and the answer being written."""

from __future__ import annotations

import reflex as rx

from youworker.components.local_time import local_time
from youworker.state.chat import ChatState, LiveAnswerState
from youworker.state.chat.rows import MessageRow, SourceRow, ToolRow

# Tables in answers look like tables: ruled cells, a shaded header, sideways scroll when wide.
MARKDOWN_STYLE = {
    "& table": {
        "display": "block",
        "max_width": "100%",
        "overflow_x": "auto",
        "border_collapse": "collapse",
        "margin_y": "0.5em",
        "font_size": "0.925em",
    },
    "& th, & td": {
        "border": f"1px solid {rx.color('gray', 6)}",
        "padding": "0.35em 0.75em",
        "text_align": "left",
        "vertical_align": "top",
    },
    "& th": {"background": rx.color("gray", 3), "font_weight": "600"},
    "& tbody tr:nth-child(even)": {"background": rx.color("gray", 2)},
}


def _code_block(text: rx.Var[str], **props: object) -> rx.Component:
    return rx.code_block(text, can_copy=True, wrap_long_lines=True, margin_y="0.5em", **props)


def safe_markdown(text: rx.Var[str]) -> rx.Component:
    """Markdown without the raw-HTML plugin; the text was already escaped by the state."""
    return rx.box(
        rx.markdown(text, use_raw=False, component_map={"pre": _code_block}),
        width="100%",
        style=MARKDOWN_STYLE,
    )


def plain_text(text: rx.Var[str]) -> rx.Component:
    """A question as it was typed: line breaks kept, nothing interpreted."""
    return rx.text(text, as_="div", size="3", white_space="pre-wrap", overflow_wrap="anywhere")


def tool_card(tool: ToolRow) -> rx.Component:
    icon = rx.match(
        tool.status,
        ("running", rx.spinner(size="1")),
        ("ok", rx.icon("circle-check", size=14, color=rx.color("green", 10))),
        rx.icon("circle-x", size=14, color=rx.color("red", 10)),
    )
    return rx.accordion.root(
        rx.accordion.item(
            header=rx.hstack(
                icon,
                rx.code(tool.name),
                rx.text(tool.duration, size="1", color_scheme="gray"),
                align="center",
                spacing="2",
            ),
            content=rx.vstack(
                rx.text("Arguments", size="1", weight="medium"),
                rx.code_block(tool.arguments, language="json", wrap_long_lines=True),
                rx.cond(
                    tool.error != "",
                    rx.callout(tool.error, icon="triangle-alert", color_scheme="red", size="1"),
                    rx.fragment(
                        rx.text("Result", size="1", weight="medium"),
                        rx.code_block(tool.output, wrap_long_lines=True),
                    ),
                ),
                width="100%",
                spacing="1",
            ),
            value="tool",
        ),
        collapsible=True,
        type="single",
        variant="surface",
        width="100%",
        data_testid="tool-card",
    )


def _source(source: SourceRow) -> rx.Component:
    label = rx.hstack(
        rx.badge(f"[{source.number}]", variant="soft", size="1"),
        rx.text(source.label, size="1", trim="end"),
        spacing="1",
        align="center",
    )
    return rx.cond(
        source.url != "",
        rx.tooltip(
            rx.link(label, href=source.url, underline="hover", data_testid="citation"),
            content=source.snippet,
        ),
        # A document the reader cannot open: no link to a "not found" page, but the reason.
        rx.vstack(
            label,
            rx.text(source.note, size="1", color_scheme="gray", data_testid="citation-note"),
            spacing="0",
            data_testid="citation-unavailable",
        ),
    )


def sources(message: MessageRow) -> rx.Component:
    return rx.cond(
        message.sources.length() > 0,
        rx.vstack(
            rx.text("Sources", size="1", weight="medium", color_scheme="gray"),
            rx.foreach(message.sources, _source),
            spacing="1",
            width="100%",
            data_testid="sources",
        ),
    )


def _copy_button(text: rx.Var[str]) -> rx.Component:
    return rx.tooltip(
        rx.icon_button(
            rx.icon("copy", size=12),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=[rx.set_clipboard(text), rx.toast.success("Copied", duration=1200)],
            aria_label="Copy message",
        ),
        content="Copy",
    )


def _error_callout(message: MessageRow, read_only: bool) -> rx.Component:
    retry = rx.button("Retry", size="1", on_click=ChatState.regenerate, data_testid="retry")
    return rx.callout(
        rx.hstack(rx.text(message.error), *([] if read_only else [retry]), align="center"),
        icon="triangle-alert",
        color_scheme="red",
        size="1",
        width="100%",
        data_testid="message-error",
    )


def _regenerate_button(can_regenerate: rx.Var[bool]) -> rx.Component:
    return rx.cond(
        can_regenerate,
        rx.tooltip(
            rx.icon_button(
                rx.icon("refresh-cw", size=12),
                size="1",
                variant="ghost",
                color_scheme="gray",
                on_click=ChatState.regenerate,
                aria_label="Regenerate",
                data_testid="regenerate",
            ),
            content="Regenerate",
        ),
    )


def _ended_note(message: MessageRow) -> rx.Component:
    """ "Stopped" by the reader, or "Interrupted" by a crash or restart (not the reader's doing)."""
    return rx.match(
        message.ended,
        (
            "Stopped",
            rx.text("Stopped", size="1", color_scheme="gray", data_testid="stopped-marker"),
        ),
        (
            "Interrupted",
            rx.text(
                rx.text.strong("Interrupted"),
                ": the server stopped while writing this answer (a restart or a failure).",
                size="1",
                color_scheme="amber",
                data_testid="interrupted-marker",
            ),
        ),
        rx.fragment(),
    )


def message_bubble(
    message: MessageRow,
    *,
    read_only: bool = False,
    can_regenerate: rx.Var[bool] | None = None,
    rest: rx.RestProp | None = None,
) -> rx.Component:
    """One message; `read_only` (someone else's shared conversation) leaves out retry and
    regenerate, which act on the viewer's own open conversation."""
    is_user = message.role == "user"
    body = rx.vstack(
        rx.foreach(message.tools, tool_card),
        rx.cond(
            message.thinking != "",
            rx.accordion.root(
                rx.accordion.item(
                    header=rx.text("Thinking", size="1"),
                    content=safe_markdown(message.thinking),
                    value="t",
                ),
                collapsible=True,
                type="single",
                variant="ghost",
                width="100%",
            ),
        ),
        rx.box(
            rx.cond(is_user, plain_text(message.raw), safe_markdown(message.content)),
            width="100%",
            data_testid="message-content",
        ),
        sources(message),
        rx.cond(message.status == "error", _error_callout(message, read_only)),
        _ended_note(message),
        rx.hstack(
            rx.text(
                rx.el.time(local_time(message.time), date_time=message.time),
                size="1",
                color_scheme="gray",
                data_testid="message-time",
            ),
            rx.cond(
                message.detail != "",
                rx.text(
                    message.detail, size="1", color_scheme="gray", data_testid="message-detail"
                ),
            ),
            _copy_button(message.raw),
            *([] if read_only or can_regenerate is None else [_regenerate_button(can_regenerate)]),
            spacing="2",
            align="center",
        ),
        spacing="1",
        width="100%",
    )
    return rx.box(
        body,
        *([] if rest is None else [rest]),
        align_self=rx.cond(is_user, "end", "start"),
        max_width=rx.cond(is_user, "80%", "100%"),
        background=rx.cond(is_user, rx.color("accent", 3), "transparent"),
        padding=rx.cond(is_user, "0.5rem 0.9rem", "0"),
        border_radius="0.75rem",
        data_testid=rx.cond(is_user, "user-message", "assistant-message"),
        data_status=message.status,
        data_message=message.id,
    )


@rx.memo
def thread_message(
    message: rx.Var[MessageRow], can_regenerate: rx.Var[bool], rest: rx.RestProp
) -> rx.Component:
    """A message of the open conversation, as its own React component: it renders again only
    when its own row changes, not on every change of the chat state (a long thread's markdown
    would otherwise be parsed again each time, just when the first token is due). `rest` takes
    the list's `key`."""
    return message_bubble(message, can_regenerate=can_regenerate, rest=rest)


def live_answer() -> rx.Component:
    return rx.box(
        rx.vstack(
            rx.foreach(LiveAnswerState.tools, tool_card),
            rx.cond(
                LiveAnswerState.thinking != "",
                rx.text(
                    LiveAnswerState.thinking, size="1", color_scheme="gray", white_space="pre-wrap"
                ),
            ),
            rx.cond(
                LiveAnswerState.text != "",
                safe_markdown(LiveAnswerState.text),
                rx.hstack(
                    rx.spinner(size="1"), rx.text("Thinking…", size="1", color_scheme="gray")
                ),
            ),
            width="100%",
            spacing="1",
        ),
        width="100%",
        data_testid="live-answer",
    )
