"""Checks that a page event's arguments have the types its handler declares.

Reflex converts what it can (a number sent as text, form fields), but passes anything else on:
a forged event can hand a list where the handler expects a string. The guards check the plain
types (str, bool, int, float, dict, list) before the handler runs, so a handler can trust them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from youworker.logging import get_logger

log = get_logger(__name__)

_PLAIN: dict[Any, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (int, float),
    dict: (dict,),
    list: (list,),
}


@functools.cache
def _expected(handler: Callable[..., Any]) -> dict[str, tuple[type, ...]]:
    """The plain types of the handler's parameters; others (and unresolvable hints) unchecked."""
    try:
        hints = typing.get_type_hints(handler)
    except Exception:  # a hint only importable for type checkers: leave that handler unchecked
        log.warning("event argument hints unresolved", handler=handler.__qualname__)
        return {}
    return {
        name: _PLAIN[typing.get_origin(hint) or hint]
        for name, hint in hints.items()
        if name != "return" and (typing.get_origin(hint) or hint) in _PLAIN
    }


@functools.cache
def _signature(handler: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(handler)


def misfit_argument(handler: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """The name of the first argument whose type is not the declared one (or that is missing or
    unexpected), else None. `args` include the handler's leading self and user."""
    try:
        bound = _signature(handler).bind(*args, **kwargs)
    except TypeError:
        return "arguments"
    for name, kinds in _expected(handler).items():
        if name not in bound.arguments:
            continue
        value = bound.arguments[name]
        # bool is an int to Python, never to a page: True is no page number.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return name
    return None
