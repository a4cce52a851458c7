"""The share dialog: a switch per group of the owner; opened by state, never by a trigger."""

from __future__ import annotations

import reflex as rx

from youworker.state.share_dialog import ShareDialogState, ShareOptionRow


def _option(option: ShareOptionRow, testid_prefix: str) -> rx.Component:
    # A label, so the group's name toggles the switch too.
    return rx.el.label(
        rx.switch(
            checked=option.shared,
            on_change=lambda value: ShareDialogState.toggle(option.group_id, value),
            data_testid=f"{testid_prefix}{option.name}",
        ),
        rx.text(option.name, size="2", as_="span"),
        rx.cond(
            option.shared,
            rx.badge("Shared", color_scheme="green", size="1", margin_left="auto"),
        ),
        display="flex",
        align_items="center",
        gap="0.5rem",
        width="100%",
        cursor="pointer",
    )


def _no_groups() -> rx.Component:
    return rx.callout(
        rx.text(
            "You are not in any group yet. ",
            rx.link("Create or join a group", href="/groups", underline="always"),
            " to share with its members.",
        ),
        icon="users",
        color_scheme="gray",
        width="100%",
        data_testid="share-no-groups",
    )


def share_dialog(kind: str, explanation: str, testid_prefix: str) -> rx.Component:
    """The dialog for `kind` ("document" or "conversation"), open while the state says so.

    Each switch's test id is `testid_prefix` followed by the group's name.
    """
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Share “", ShareDialogState.share_title, "”"),
            rx.dialog.description(explanation, size="2", color_scheme="gray"),
            rx.vstack(
                rx.cond(
                    ShareDialogState.share_options.length() > 0,
                    rx.vstack(
                        rx.foreach(
                            ShareDialogState.share_options,
                            lambda option: _option(option, testid_prefix),
                        ),
                        width="100%",
                        spacing="2",
                    ),
                    _no_groups(),
                ),
                rx.cond(
                    ShareDialogState.share_error != "",
                    rx.text(
                        ShareDialogState.share_error,
                        color_scheme="red",
                        size="1",
                        role="alert",
                        data_testid="share-error",
                    ),
                ),
                rx.hstack(
                    rx.button(
                        "Done",
                        variant="soft",
                        on_click=ShareDialogState.close,
                        data_testid="share-done",
                    ),
                    justify="end",
                    width="100%",
                ),
                width="100%",
                spacing="3",
                margin_top="1rem",
            ),
            data_testid="share-dialog",
        ),
        open=ShareDialogState.share_kind == kind,
        on_open_change=ShareDialogState.open_changed,
    )
