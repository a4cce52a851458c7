"""The index page: a spinner while its on_load sends the person to the chat or to sign in."""

from __future__ import annotations

import reflex as rx


def index_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")
