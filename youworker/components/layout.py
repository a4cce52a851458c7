"""The app shell: sidebar navigation, user menu, theme toggle."""

from __future__ import annotations

import reflex as rx

from youworker.state.session import SessionState

NAV_ITEMS = [
    ("Chat", "/chat", "message-square"),
    ("Documents", "/documents", "file-text"),
    ("Shared with me", "/shared", "share-2"),
    ("Groups", "/groups", "users"),
    ("Account", "/account", "user-cog"),
]


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    active = rx.State.router.url.path.startswith(href)
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2"), spacing="2", align="center"),
        href=href,
        underline="none",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        padding_x="0.75rem",
        padding_y="0.5rem",
        border_radius="0.5rem",
        width="100%",
        data_testid=f"nav-{label.lower().replace(' ', '-')}",
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("bot", size=22, color=rx.color("accent", 10)),
            rx.heading("YouWorker", size="4"),
            align="center",
            spacing="2",
            padding_bottom="1rem",
        ),
        *[_nav_link(*item) for item in NAV_ITEMS],
        rx.cond(SessionState.is_admin, _nav_link("Admin", "/admin", "shield")),
        rx.spacer(),
        rx.divider(),
        rx.hstack(
            rx.vstack(
                rx.text(
                    SessionState.user_name,
                    size="2",
                    weight="medium",
                    data_testid="current-user-name",
                ),
                rx.text(SessionState.user_email, size="1", color_scheme="gray"),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            rx.color_mode.button(size="1", variant="ghost"),
            width="100%",
            align="center",
        ),
        rx.button(
            rx.icon("log-out", size=14),
            "Sign out",
            variant="soft",
            color_scheme="gray",
            width="100%",
            on_click=SessionState.sign_out,
            data_testid="sign-out",
        ),
        width="15rem",
        min_width="15rem",
        height="100vh",
        padding="1rem",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        position="sticky",
        top="0",
    )


def app_shell(*content: rx.Component, title: str) -> rx.Component:
    """A signed-in page: nothing renders until the session check has passed."""
    return rx.cond(
        SessionState.signed_in,
        rx.hstack(
            sidebar(),
            rx.box(
                rx.heading(title, size="6", margin_bottom="1.25rem"),
                *content,
                padding="2rem",
                width="100%",
                max_width="64rem",
            ),
            spacing="0",
            align="start",
            width="100%",
        ),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )


def app_shell_wide(content: rx.Component) -> rx.Component:
    """A signed-in page that manages its own layout (the chat page)."""
    return rx.cond(
        SessionState.signed_in,
        rx.hstack(sidebar(), content, spacing="0", align="start", width="100%"),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )


def coming_soon(what: str) -> rx.Component:
    """An honest placeholder for a part that is not built yet."""
    return rx.callout(
        f"{what} is coming soon. This page is a placeholder: nothing here works yet.",
        icon="construction",
        color_scheme="amber",
        data_testid="coming-soon",
    )


def admin_tabs(current: str) -> rx.Component:
    """Links between the admin pages."""
    tabs = [
        ("users", "Users", "/admin"),
        ("groups", "Groups", "/admin/groups"),
        ("tools", "Tools and MCP", "/admin/tools"),
        ("audit", "Audit log", "/admin/audit"),
        ("analytics", "Analytics", "/admin/analytics"),
        ("outbox", "Outbox", "/admin/outbox"),
        ("system", "System", "/admin/system"),
    ]
    return rx.cond(
        SessionState.is_admin,
        rx.hstack(
            *[
                rx.link(
                    rx.button(label, size="2", variant="solid" if key == current else "soft"),
                    href=href,
                    data_testid=f"admin-tab-{key}",
                )
                for key, label, href in tabs
            ],
            margin_bottom="1rem",
        ),
    )


def field_error(message: rx.Var[str]) -> rx.Component:
    return rx.cond(message != "", rx.text(message, color_scheme="red", size="1", role="alert"))
