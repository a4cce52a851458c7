"""Refuse NUL characters in a request's path, query and JSON body before a route runs.

PostgreSQL text cannot hold U+0000: a NUL in a title, a search or an email failed deep in the
driver as a 500 (SQLite stored it). No field of the API has a use for one, so it is a validation
error naming the field, in the route's own error shape (/api/v1's JSON error, FastAPI's 422
elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

NUL = "\x00"
MESSAGE = "Must not contain NUL characters"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _nul_paths(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """The locations of strings (object keys included) with a NUL inside parsed JSON."""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield (*path, key)
            yield from _nul_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, index))


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


async def reject_nul_characters(request: Request) -> None:
    """An app-wide dependency: 422 when any path, query or JSON body string holds a NUL."""
    locations: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if NUL in str(value)
    ]
    locations += [
        ("query", name)
        for name, value in request.query_params.multi_items()
        if NUL in name or NUL in value
    ]
    if request.method in BODY_METHODS and _is_json(request):
        try:
            body = await request.json()  # already parsed (and cached) by FastAPI
        except ValueError:
            body = None  # FastAPI answers a malformed body itself
        locations += _nul_paths(body, ("body",))
    if locations:
        raise RequestValidationError(
            [{"type": "string_nul", "loc": loc, "msg": MESSAGE} for loc in locations]
        )
