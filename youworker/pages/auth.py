"""Sign-in and registration pages."""

from __future__ import annotations

import reflex as rx

from youworker.components.forms import submit_button
from youworker.components.layout import color_mode_toggle, field_error
from youworker.state.auth import LoginState, RegisterState

MAX_EMAIL = 254
MAX_PASSWORD = 256


def auth_card(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        rx.flex(color_mode_toggle(), justify="end", padding="0.75rem"),
        rx.el.main(
            rx.card(
                rx.vstack(
                    rx.hstack(
                        rx.icon("bot", size=28, color=rx.color("accent", 11), aria_hidden="true"),
                        rx.text("YouWorker", size="6", weight="bold"),
                        align="center",
                        spacing="2",
                    ),
                    rx.heading(title, as_="h1", size="4", weight="medium"),
                    *children,
                    spacing="4",
                    width="100%",
                ),
                width="100%",
                max_width="24rem",
                size="3",
            ),
            display="flex",
            justify_content="center",
            padding_x="1rem",
            padding_bottom="2rem",
        ),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def form_field(label: str, name: str, error: rx.Var[str], **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(
            label,
            html_for=name,
            font_size="var(--font-size-2)",
            line_height="var(--line-height-2)",
            font_weight="500",
        ),
        rx.input(id=name, name=name, width="100%", size="3", **props),
        field_error(error),
        spacing="1",
        width="100%",
        data_testid=f"field-{name}",
    )


def login_page() -> rx.Component:
    return auth_card(
        rx.form(
            rx.vstack(
                rx.cond(
                    LoginState.form_error != "",
                    rx.callout(
                        LoginState.form_error,
                        icon="circle-alert",
                        color_scheme="red",
                        width="100%",
                        data_testid="form-error",
                    ),
                ),
                form_field(
                    "Email",
                    "email",
                    LoginState.email_error,
                    type="email",
                    max_length=MAX_EMAIL,
                    auto_complete="username",
                    auto_focus=True,
                ),
                form_field(
                    "Password",
                    "password",
                    LoginState.password_error,
                    type="password",
                    max_length=MAX_PASSWORD,
                    auto_complete="current-password",
                ),
                submit_button("Sign in", width="100%", size="3", data_testid="sign-in-submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=LoginState.submit,
            width="100%",
        ),
        rx.text(
            "No account yet? ",
            rx.link("Create one", href="/register", underline="always"),
            size="2",
        ),
        # No self-service reset: it would let anyone probe which emails have accounts.
        rx.text(
            "Forgot your password? Ask an administrator for a reset link.",
            size="1",
            color_scheme="gray",
            data_testid="forgot-password-hint",
        ),
        title="Sign in",
    )


def register_page() -> rx.Component:
    return auth_card(
        rx.cond(
            RegisterState.invite_only,
            rx.callout(
                "Registration is by invitation only. Ask an administrator for an invitation.",
                icon="lock",
                color_scheme="amber",
                data_testid="invite-only",
            ),
            rx.form(
                rx.vstack(
                    rx.cond(
                        RegisterState.form_error != "",
                        rx.callout(
                            RegisterState.form_error,
                            icon="circle-alert",
                            color_scheme="red",
                            width="100%",
                            data_testid="form-error",
                        ),
                    ),
                    form_field(
                        "Email",
                        "email",
                        RegisterState.email_error,
                        type="email",
                        max_length=MAX_EMAIL,
                        auto_complete="email",
                        auto_focus=True,
                    ),
                    form_field(
                        "Display name",
                        "display_name",
                        RegisterState.display_name_error,
                        max_length=100,
                        auto_complete="name",
                    ),
                    form_field(
                        "Password (at least 10 characters)",
                        "password",
                        RegisterState.password_error,
                        type="password",
                        max_length=MAX_PASSWORD,
                        auto_complete="new-password",
                    ),
                    form_field(
                        "Confirm password",
                        "confirm_password",
                        RegisterState.confirm_error,
                        type="password",
                        max_length=MAX_PASSWORD,
                        auto_complete="new-password",
                    ),
                    submit_button(
                        "Create account",
                        width="100%",
                        size="3",
                        data_testid="register-submit",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=RegisterState.submit,
                width="100%",
            ),
        ),
        rx.text(
            "Already have an account? ",
            rx.link("Sign in", href="/login", underline="always"),
            size="2",
        ),
        title="Create your account",
    )
