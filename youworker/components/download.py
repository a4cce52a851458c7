"""A link that downloads a file the server sends as an attachment."""

from __future__ import annotations

import reflex as rx


def download_link(
    label: str, href: str | rx.Var[str], *, testid: str, aria_label: str | rx.Var[str] = ""
) -> rx.Component:
    """Document navigation, not client-side routing: the router would swallow the request.

    The link itself is styled as a button: a button nested inside a link does not follow it.
    An icon-only link (empty `label`) needs `aria_label`.
    """
    named = {"aria_label": aria_label} if isinstance(aria_label, rx.Var) or aria_label else {}
    return rx.link(
        rx.icon("download", size=14, aria_hidden="true"),
        label,
        href=href,
        reload_document=True,
        download=True,
        underline="none",
        display="inline-flex",
        align_items="center",
        gap="0.35rem",
        padding_x="0.5rem",
        padding_y="0.25rem",
        border_radius="var(--radius-2)",
        background=rx.color("accent", 3),
        font_size="var(--font-size-1)",
        color=rx.color("accent", 12),
        data_testid=testid,
        **named,
    )
