"""Times in the browser's own time zone: the state sends ISO 8601 in UTC, the page formats it."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.function import FunctionStringVar


def _formatter(seconds: bool) -> FunctionStringVar[Any]:
    # A constant function applied to the value at render time (no script is built from data).
    tail = ":${p(d.getSeconds())}" if seconds else ""
    return FunctionStringVar.create(
        "((iso) => { if (!iso) return ''; const d = new Date(iso);"
        " if (Number.isNaN(d.getTime())) return String(iso);"
        " const p = (n) => String(n).padStart(2, '0');"
        " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}"
        f" ${{p(d.getHours())}}:${{p(d.getMinutes())}}{tail}`; }})"
    )


_FORMAT = _formatter(seconds=False)
_FORMAT_SECONDS = _formatter(seconds=True)


def local_time(iso: rx.Var[str], *, seconds: bool = False) -> rx.Var[str]:
    """`2025-01-31 14:05` in the browser's time zone for an ISO time such as `...T13:05:00Z`."""
    return (_FORMAT_SECONDS if seconds else _FORMAT).call(iso).to(str)


def time_element(iso: rx.Var[Any], *, missing: str = "", seconds: bool = False) -> rx.Component:
    """A `<time>` showing `iso` in the browser's time zone; `missing` when there is no time."""
    text = iso.to(str)
    shown = rx.el.time(local_time(text, seconds=seconds), date_time=text)
    return rx.cond(text, shown, rx.text.span(missing)) if missing else shown
