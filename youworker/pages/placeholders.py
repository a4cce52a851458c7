"""Pages whose features arrive with later work; they say so plainly."""

from __future__ import annotations

import reflex as rx

from youworker.components.layout import app_shell, coming_soon


def groups_page() -> rx.Component:
    return app_shell(coming_soon("Groups and sharing"), title="Groups")


def index_page() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")
