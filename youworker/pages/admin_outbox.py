"""Admin: the outbox, where mail waits when SMTP is not configured or sending failed."""

from __future__ import annotations

import reflex as rx

from youworker.components.layout import admin_tabs, app_shell
from youworker.components.local_time import time_element
from youworker.state.admin_outbox import AdminOutboxState


def _note() -> rx.Component:
    return rx.cond(
        AdminOutboxState.smtp_enabled,
        rx.callout(
            f"Mail is sent through {AdminOutboxState.smtp_server}. Sent mail is listed without "
            "its body (it held a single-use link). Mail that failed to send keeps its body: "
            "pass the link on to the recipient yourself.",
            icon="send",
            color_scheme="blue",
            width="100%",
            data_testid="outbox-note",
        ),
        rx.callout(
            "SMTP is not configured, so mail is not sent: it lands here. Pass each link on to "
            "its recipient yourself, or set MAIL__SMTP_HOST (and the other MAIL__ settings) "
            "to send mail.",
            icon="inbox",
            color_scheme="amber",
            width="100%",
            data_testid="outbox-note",
        ),
    )


def _status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.match(
        status,
        ("sent", rx.badge("sent", color_scheme="green")),
        ("failed", rx.badge("failed", color_scheme="red")),
        rx.badge(status, color_scheme="amber"),
    )


def _link(url: rx.Var[str]) -> rx.Component:
    return rx.hstack(
        rx.link(
            url,
            href=url,
            is_external=True,
            size="2",
            word_break="break_all",
            data_testid="outbox-link",
        ),
        rx.icon_button(
            rx.icon("copy", size=14),
            size="1",
            variant="soft",
            title="Copy link",
            aria_label="Copy link",
            on_click=[rx.set_clipboard(url), rx.toast.success("Link copied.")],
            data_testid="outbox-copy",
        ),
        align="center",
        width="100%",
    )


def _mail(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                _status_badge(row["status"]),
                rx.text(row["subject"], weight="medium"),
                rx.spacer(),
                rx.text(time_element(row["time"]), size="1", color_scheme="gray"),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.text(
                "To ",
                rx.text.strong(row["recipient"]),
                " · ",
                row["kind"],
                size="2",
                word_break="break-all",
            ),
            rx.cond(
                row["error"] != "",
                rx.text(row["error"], size="1", color_scheme="red"),
            ),
            rx.cond(row["link"] != "", _link(row["link"])),
            rx.cond(
                row["body"] != "",
                rx.text(
                    row["body"],
                    size="2",
                    white_space="pre-wrap",
                    word_break="break-word",
                    color_scheme="gray",
                    data_testid="outbox-body",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="outbox-row",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.button(
            "Previous",
            size="1",
            variant="soft",
            disabled=AdminOutboxState.page == 0,
            on_click=AdminOutboxState.go_to_page(AdminOutboxState.page - 1),
        ),
        rx.text(
            f"Page {AdminOutboxState.page + 1} of {AdminOutboxState.page_count}"
            f" · {AdminOutboxState.total} mails",
            size="1",
        ),
        rx.button(
            "Next",
            size="1",
            variant="soft",
            disabled=AdminOutboxState.page + 1 >= AdminOutboxState.page_count,
            on_click=AdminOutboxState.go_to_page(AdminOutboxState.page + 1),
        ),
        align="center",
    )


def admin_outbox_page() -> rx.Component:
    return app_shell(
        admin_tabs("outbox"),
        rx.cond(
            AdminOutboxState.access_denied,
            rx.callout(
                "Administrators only. You do not have access to this page.",
                icon="shield-x",
                color_scheme="red",
                data_testid="access-denied",
            ),
            rx.vstack(
                _note(),
                rx.cond(
                    AdminOutboxState.total == 0,
                    rx.text("No mail yet.", color_scheme="gray", data_testid="outbox-empty"),
                    rx.fragment(rx.foreach(AdminOutboxState.mails, _mail), _pager()),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        title="Outbox",
    )
