"""The app shell: sidebar navigation (a drawer below 64em), user menu, theme toggle.

Wide screens get the sidebar; narrow ones (phones, tablets) a top bar whose menu button opens the
same navigation in a drawer. Which one shows is decided by CSS media queries only, so the server
render is right at every size and nothing waits for JavaScript to measure the window. While a
drawer is open its inline twin is unmounted: every test id and landmark stays unique.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from youworker.state.session import SessionState

# Radix Themes' own `md` breakpoint (1024 px): responsive props and these queries agree.
WIDE = "@media screen and (min-width: 64em)"
NARROW = "@media screen and (max-width: 63.99em)"
TOP_BAR_HEIGHT = "3.5rem"

NAV_ITEMS = [
    ("Chat", "/chat", "message-square"),
    ("Documents", "/documents", "file-text"),
    ("Shared with me", "/shared", "share-2"),
    ("Groups", "/groups", "users"),
    ("Account", "/account", "user-cog"),
]

# Whether the navigation drawer is open: browser-only state, no round trip to the server.
NAV_OPEN = ClientStateVar.create("yw_nav_open", False)


def wide_only(display: str = "flex") -> dict[str, Any]:
    """Style that shows an element from 64em up (the sidebar layout)."""
    return {"display": "none", WIDE: {"display": display}}


def narrow_only(display: str = "flex") -> dict[str, Any]:
    """Style that shows an element below 64em (the drawer layout)."""
    return {"display": display, WIDE: {"display": "none"}}


def _brand(size: str = "4") -> rx.Component:
    return rx.hstack(
        rx.icon("bot", size=22, color=rx.color("accent", 11), aria_hidden="true"),
        rx.text("YouWorker", size=size, weight="bold"),
        align="center",
        spacing="2",
    )


def _nav_link(label: str, href: str, icon: str, in_drawer: bool) -> rx.Component:
    active = rx.State.router.url.path.startswith(href)
    extra: dict[str, Any] = {"on_click": NAV_OPEN.set_value(False)} if in_drawer else {}
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=16, aria_hidden="true"),
            rx.text(label, size="2"),
            spacing="2",
            align="center",
        ),
        href=href,
        underline="none",
        color=rx.cond(active, rx.color("accent", 12), rx.color("gray", 12)),
        background=rx.cond(active, rx.color("accent", 4), "transparent"),
        aria_current=rx.cond(active, "page", "false"),
        padding_x="0.75rem",
        padding_y="0.5rem",
        border_radius="0.5rem",
        width="100%",
        data_testid=f"nav-{label.lower().replace(' ', '-')}",
        **extra,
    )


def color_mode_toggle() -> rx.Component:
    """The light/dark switch, named for what it does."""
    return rx.color_mode.button(
        size="2",
        variant="ghost",
        aria_label=rx.color_mode_cond("Switch to dark mode", "Switch to light mode"),
        data_testid="color-mode-toggle",
    )


def _nav_body(in_drawer: bool) -> list[rx.Component]:
    links = [_nav_link(*item, in_drawer=in_drawer) for item in NAV_ITEMS]
    return [
        rx.el.nav(
            rx.vstack(
                *links,
                rx.cond(SessionState.is_admin, _nav_link("Admin", "/admin", "shield", in_drawer)),
                spacing="1",
                width="100%",
            ),
            aria_label="Main",
            width="100%",
        ),
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
                rx.text(
                    SessionState.user_email,
                    size="1",
                    color_scheme="gray",
                    title=SessionState.user_email,
                    overflow="hidden",
                    text_overflow="ellipsis",
                    white_space="nowrap",
                    max_width="100%",
                ),
                spacing="0",
                min_width="0",
                flex="1",
            ),
            rx.spacer(),
            color_mode_toggle(),
            width="100%",
            align="center",
        ),
        rx.button(
            rx.icon("log-out", size=14, aria_hidden="true"),
            "Sign out",
            variant="soft",
            color_scheme="gray",
            width="100%",
            on_click=SessionState.sign_out,
            data_testid="sign-out",
        ),
    ]


def sidebar() -> rx.Component:
    """The inline sidebar of wide screens; hidden below 64em, unmounted while the drawer is open."""
    return rx.cond(
        NAV_OPEN.value,
        rx.fragment(),
        rx.el.aside(
            rx.vstack(
                rx.box(_brand(), padding_bottom="1rem"),
                *_nav_body(in_drawer=False),
                height="100%",
                width="100%",
            ),
            width="15rem",
            min_width="15rem",
            height="100vh",
            padding="1rem",
            border_right=f"1px solid {rx.color('gray', 5)}",
            background=rx.color("gray", 2),
            position="sticky",
            top="0",
            style=wide_only("block"),
        ),
    )


def side_drawer(
    *children: rx.Component,
    trigger: rx.Component,
    open_var: ClientStateVar,
    title: str,
    testid: str,
) -> rx.Component:
    """A modal panel from the left edge, opened by `trigger`: focus moves in and is trapped,
    Escape and the backdrop close it, and focus returns to the trigger."""
    return rx.dialog.root(
        rx.dialog.trigger(trigger),
        rx.dialog.content(
            rx.dialog.title(title, size="3", margin_bottom="0.75rem"),
            rx.dialog.close(
                rx.icon_button(
                    rx.icon("x", size=16, aria_hidden="true"),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label=f"Close {title.lower()}",
                    position="absolute",
                    top="0.75rem",
                    right="0.75rem",
                    data_testid=f"close-{testid}",
                ),
            ),
            rx.vstack(*children, flex="1", width="100%", min_height="0"),
            position="fixed",
            top="0",
            left="0",
            bottom="0",
            width="min(20rem, 88vw)",
            max_width="none",
            height="100dvh",
            max_height="none",
            border_radius="0",
            padding="1rem",
            display="flex",
            flex_direction="column",
            background=rx.color("gray", 2),
            data_testid=testid,
        ),
        open=open_var.value,
        on_open_change=open_var.set,
    )


def _nav_drawer() -> rx.Component:
    return side_drawer(
        *_nav_body(in_drawer=True),
        trigger=rx.icon_button(
            rx.icon("menu", size=20, aria_hidden="true"),
            variant="ghost",
            color_scheme="gray",
            size="3",
            aria_label="Open navigation",
            data_testid="open-navigation",
        ),
        open_var=NAV_OPEN,
        title="Navigation",
        testid="nav-drawer",
    )


def top_bar(*actions: rx.Component) -> rx.Component:
    """The bar of narrow screens: the menu button, the name, and page actions on the right."""
    return rx.el.header(
        rx.hstack(
            _nav_drawer(),
            _brand("3"),
            rx.spacer(),
            *actions,
            align="center",
            width="100%",
            height="100%",
            padding_x="0.75rem",
        ),
        position="sticky",
        top="0",
        z_index="10",
        height=TOP_BAR_HEIGHT,
        min_height=TOP_BAR_HEIGHT,
        width="100%",
        background=rx.color("gray", 2),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        style=narrow_only("block"),
    )


def _shell(main: rx.Component, actions: tuple[rx.Component, ...]) -> rx.Component:
    return rx.cond(
        SessionState.signed_in,
        rx.box(
            top_bar(*actions),
            sidebar(),
            main,
            width="100%",
            min_height="100vh",
            style={
                "display": "flex",
                "flexDirection": "column",
                # What a full-height page subtracts for the top bar (0 when there is none).
                "--yw-top-bar": TOP_BAR_HEIGHT,
                WIDE: {"flexDirection": "row", "--yw-top-bar": "0px"},
            },
        ),
        rx.center(rx.spinner(size="3"), height="100vh"),
    )


def app_shell(*content: rx.Component, title: str) -> rx.Component:
    """A signed-in page: nothing renders until the session check has passed."""
    return _shell(
        rx.el.main(
            rx.heading(title, as_="h1", size="6", margin_bottom="1.25rem"),
            *content,
            width="100%",
            max_width="64rem",
            min_width="0",
            style={"padding": "1rem", WIDE: {"padding": "2rem"}},
        ),
        (),
    )


def app_shell_wide(content: rx.Component, *actions: rx.Component) -> rx.Component:
    """A signed-in page that manages its own layout (the chat page); `actions` go in the top
    bar of narrow screens."""
    return _shell(rx.el.main(content, width="100%", min_width="0"), actions)


def coming_soon(what: str) -> rx.Component:
    """An honest placeholder for a part that is not built yet."""
    return rx.callout(
        f"{what} is coming soon. This page is a placeholder: nothing here works yet.",
        icon="construction",
        color_scheme="amber",
        data_testid="coming-soon",
    )


ADMIN_TABS = [
    ("users", "Users", "/admin"),
    ("groups", "Groups", "/admin/groups"),
    ("tools", "Tools and MCP", "/admin/tools"),
    ("audit", "Audit log", "/admin/audit"),
    ("analytics", "Analytics", "/admin/analytics"),
    ("outbox", "Outbox", "/admin/outbox"),
    ("system", "System", "/admin/system"),
]


def link_button(
    *children: rx.Component | str, href: str | rx.Var[str], current: bool = False, **props: Any
) -> rx.Component:
    """A link that looks like a button (a button inside a link is two nested controls)."""
    style: dict[str, Any] = {
        "underline": "none",
        "display": "inline-flex",
        "align_items": "center",
        "gap": "0.35rem",
        "padding_x": "0.75rem",
        "height": "var(--space-6)",
        "border_radius": "var(--radius-2)",
        "font_size": "var(--font-size-2)",
        "font_weight": "500",
        "white_space": "nowrap",
        "color": "var(--accent-contrast)" if current else rx.color("accent", 12),
        "background": rx.color("accent", 9) if current else rx.color("accent", 4),
    }
    if current:
        style["aria_current"] = "page"
    return rx.link(*children, href=href, **(style | props))


def admin_tabs(current: str) -> rx.Component:
    """Links between the admin pages (they wrap onto more lines on narrow screens)."""
    return rx.cond(
        SessionState.is_admin,
        rx.el.nav(
            rx.hstack(
                *[
                    link_button(
                        label, href=href, current=key == current, data_testid=f"admin-tab-{key}"
                    )
                    for key, label, href in ADMIN_TABS
                ],
                wrap="wrap",
                spacing="2",
            ),
            aria_label="Admin pages",
            margin_bottom="1rem",
        ),
    )


def scroll_x(label: str, *children: rx.Component) -> rx.Component:
    """A region that scrolls sideways itself, so the page never does (wide tables).

    Radix tables scroll inside their own scroll area, which cannot take focus; here that area
    lets the table through and this region scrolls instead: keyboard users can focus it (it is
    named by `label`) and scroll it with the arrow keys.
    """
    return rx.box(
        *children,
        role="region",
        aria_label=label,
        tab_index=0,
        width="100%",
        max_width="100%",
        overflow_x="auto",
        style={
            "& .rt-TableRoot .rt-ScrollAreaRoot, & .rt-TableRoot .rt-ScrollAreaViewport": {
                "overflow": "visible !important",
            },
            "& .rt-TableRoot .rt-ScrollAreaScrollbar": {"display": "none"},
            "&:focus-visible": {"outline": "2px solid var(--focus-8)", "outlineOffset": "2px"},
        },
    )


def confirm_action(
    trigger: rx.Component,
    *,
    title: rx.Component | str,
    description: rx.Component | str,
    confirm_label: str,
    on_confirm: Any,
    confirm_testid: str,
) -> rx.Component:
    """A destructive action behind an alert dialog: `trigger` opens it, nothing happens until
    the person confirms (Cancel, Escape and clicking outside leave everything as it was)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                ),
                rx.alert_dialog.action(
                    rx.button(
                        confirm_label,
                        color_scheme="red",
                        on_click=on_confirm,
                        data_testid=confirm_testid,
                    ),
                ),
                justify="end",
                spacing="2",
                margin_top="1rem",
            ),
            max_width="28rem",
        ),
    )


def field_error(message: rx.Var[str]) -> rx.Component:
    return rx.cond(message != "", rx.text(message, color_scheme="red", size="1", role="alert"))
