"""Form pieces shared by every page."""

from __future__ import annotations

from typing import Any

import reflex as rx


def submit_button(
    *children: Any, disabled: rx.Var[bool] | bool = False, **props: Any
) -> rx.Component:
    """A submit button that stays disabled until the page has hydrated and run its on_load.

    On a full page load Reflex queues the page's on_load after the hydrate round trip, so a
    submit clicked (or Enter pressed) before then would be handled first and its errors wiped
    by the on_load's reset. A disabled default button also blocks implicit submission.
    """
    return rx.button(
        *children,
        type="submit",
        disabled=rx.cond(rx.State.is_hydrated, disabled, True),
        **props,
    )
