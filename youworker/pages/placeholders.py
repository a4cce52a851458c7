"""Pages whose features arrive with later work; they say so plainly."""

from __future__ import annotations

import reflex as rx


def index_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")
