"""/invite/[token]: what an invitation link opens."""

from __future__ import annotations

import reflex as rx

from youworker.components.forms import submit_button
from youworker.components.layout import field_error, link_button
from youworker.pages.auth import MAX_PASSWORD, auth_card, form_field
from youworker.state.invite import InviteState

_REFUSED = {
    "expired": "This invitation has expired. Ask the person who invited you for a new one.",
    "used": "This invitation was already used. If it was you, sign in.",
    "revoked": "This invitation was withdrawn by the group's admins.",
    "unknown": "This invitation link is not valid. Check that you copied all of it.",
}


def _what() -> rx.Component:
    return rx.text(
        rx.cond(InviteState.inviter_name != "", InviteState.inviter_name, "Someone"),
        " invited ",
        rx.text.strong(InviteState.invited_email),
        rx.cond(
            InviteState.group_name != "",
            rx.fragment(" to join the group ", rx.text.strong(InviteState.group_name), "."),
            " to YouWorker.",
        ),
        size="2",
        data_testid="invitation-summary",
    )


def _accept_signed_in() -> rx.Component:
    return rx.cond(
        InviteState.email_matches,
        rx.button(
            "Accept invitation",
            size="3",
            width="100%",
            on_click=InviteState.accept,
            data_testid="accept-invitation",
        ),
        rx.callout(
            rx.text(
                f"You are signed in as {InviteState.user_email}. This invitation is for "
                f"{InviteState.invited_email}: sign out and sign in with that address.",
            ),
            icon="user-x",
            color_scheme="amber",
            data_testid="wrong-account",
        ),
    )


def _register_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text("New here? Create your account:", size="2", weight="medium"),
            form_field(
                "Display name",
                "display_name",
                InviteState.display_name_error,
                max_length=100,
                auto_complete="name",
            ),
            form_field(
                "Password (at least 10 characters)",
                "password",
                InviteState.password_error,
                type="password",
                max_length=MAX_PASSWORD,
                auto_complete="new-password",
            ),
            form_field(
                "Confirm password",
                "confirm_password",
                InviteState.confirm_error,
                type="password",
                max_length=MAX_PASSWORD,
                auto_complete="new-password",
            ),
            submit_button(
                "Create account and join",
                size="3",
                width="100%",
                data_testid="register-and-join",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=InviteState.register,
        width="100%",
    )


def _valid() -> rx.Component:
    return rx.vstack(
        _what(),
        field_error(InviteState.error),
        rx.cond(
            InviteState.signed_in,
            _accept_signed_in(),
            rx.vstack(
                link_button(
                    "I have an account: sign in",
                    href=InviteState.sign_in_href,
                    width="100%",
                    justify_content="center",
                    data_testid="invite-sign-in",
                ),
                rx.divider(),
                _register_form(),
                width="100%",
                spacing="3",
            ),
        ),
        width="100%",
        spacing="3",
    )


def invite_page() -> rx.Component:
    return auth_card(
        rx.match(
            InviteState.status,
            ("", rx.center(rx.spinner())),
            ("valid", _valid()),
            (
                "member",
                rx.callout(
                    rx.text(
                        "You are already a member of ",
                        rx.text.strong(InviteState.group_name),
                        ". ",
                        rx.link("Open the group", href=f"/groups/{InviteState.joined_group_id}"),
                    ),
                    icon="circle-check",
                    color_scheme="green",
                ),
            ),
            *[
                (
                    state,
                    rx.callout(message, icon="circle-alert", color_scheme="red"),
                )
                for state, message in _REFUSED.items()
            ],
            rx.center(rx.spinner()),
        ),
        rx.box(data_testid=f"invite-{InviteState.status}"),
        title="Invitation",
    )
