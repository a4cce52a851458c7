"""What an empty table says, instead of showing headers over nothing."""

from __future__ import annotations

from typing import Any

import reflex as rx


def empty_row(items: rx.Var[list[Any]], columns: int, text: str, test_id: str) -> rx.Component:
    """A table row, spanning every column, shown while `items` is empty."""
    return rx.cond(
        items.length() == 0,
        rx.table.row(
            rx.table.cell(
                rx.text(text, size="2", color_scheme="gray"),
                col_span=columns,
            ),
            data_testid=test_id,
        ),
    )
