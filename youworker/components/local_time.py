"""Times in the browser's own time zone: the state sends ISO 8601 in UTC, the page formats it."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars.function import FunctionStringVar

# A constant function applied to the value at render time (no script is built from data).
_FORMAT: FunctionStringVar[Any] = FunctionStringVar.create(
    "((iso) => { if (!iso) return ''; const d = new Date(iso);"
    " if (Number.isNaN(d.getTime())) return String(iso);"
    " const p = (n) => String(n).padStart(2, '0');"
    " return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}"
    " ${p(d.getHours())}:${p(d.getMinutes())}`; })"
)


def local_time(iso: rx.Var[str]) -> rx.Var[str]:
    """`2025-01-31 14:05` in the browser's time zone for an ISO time such as `...T13:05:00Z`."""
    return _FORMAT.call(iso).to(str)
