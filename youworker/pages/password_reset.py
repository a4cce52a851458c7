"""The password-reset page a reset link opens (no sign-in needed: the link is the credential)."""

from __future__ import annotations

import reflex as rx

from youworker.components.forms import submit_button
from youworker.components.layout import link_button
from youworker.pages.auth import MAX_PASSWORD, auth_card, form_field
from youworker.services.password_reset import UNAVAILABLE_MESSAGES, ResetStatus
from youworker.state.password_reset import DONE, PasswordResetState

PROBLEM_TITLES = {
    ResetStatus.EXPIRED: "This link has expired",
    ResetStatus.USED: "This link was already used",
    ResetStatus.UNKNOWN: "This link is not valid",
    ResetStatus.DEACTIVATED: "This account is deactivated",
}


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "Choose a new password for ",
                rx.text.strong(PasswordResetState.email),
                ". Changing it signs you out on every device and revokes your API keys.",
                size="2",
            ),
            form_field(
                "New password (at least 10 characters)",
                "password",
                PasswordResetState.password_error,
                type="password",
                max_length=MAX_PASSWORD,
                auto_complete="new-password",
                auto_focus=True,
            ),
            form_field(
                "Confirm new password",
                "confirm_password",
                PasswordResetState.confirm_error,
                type="password",
                max_length=MAX_PASSWORD,
                auto_complete="new-password",
            ),
            submit_button(
                "Change password",
                width="100%",
                size="3",
                data_testid="reset-submit",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=PasswordResetState.submit,
        width="100%",
    )


def _done() -> rx.Component:
    return rx.vstack(
        rx.callout(
            "Password changed. You were signed out everywhere and your API keys were revoked; "
            "sign in with the new password.",
            icon="circle-check",
            color_scheme="green",
            width="100%",
            data_testid="reset-done",
        ),
        link_button(
            "Sign in",
            href="/login",
            width="100%",
            justify_content="center",
            height="var(--space-7)",
            data_testid="reset-sign-in",
        ),
        spacing="3",
        width="100%",
    )


def _problem(status: ResetStatus) -> rx.Component:
    return rx.vstack(
        rx.heading(PROBLEM_TITLES[status], as_="h2", size="3"),
        rx.callout(
            UNAVAILABLE_MESSAGES[status],
            icon="circle-alert",
            color_scheme="amber" if status == ResetStatus.EXPIRED else "red",
            width="100%",
        ),
        spacing="2",
        width="100%",
        data_testid=f"reset-{status.value}",
    )


def password_reset_page() -> rx.Component:
    return auth_card(
        rx.match(
            PasswordResetState.status,
            (ResetStatus.VALID.value, _form()),
            (DONE, _done()),
            *[(status.value, _problem(status)) for status in PROBLEM_TITLES],
            rx.center(rx.spinner(size="3"), width="100%", padding="1rem"),
        ),
        rx.cond(
            PasswordResetState.status != DONE,
            rx.text(rx.link("Back to sign in", href="/login"), size="2"),
        ),
        title="Reset your password",
    )
