"""The versioned REST API: one module per resource, all behind `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from youworker.api.errors import ApiError
from youworker.api.v1 import (
    collections,
    conversations,
    documents,
    groups,
    health,
    messages,
    token,
)

PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for module in (token, conversations, messages, documents, collections, groups, health):
        router.include_router(module.router)

    @router.api_route(
        "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def unknown(path: str) -> None:
        # Without this, an unknown /api/v1 path would fall through to the Reflex app's pages.
        raise ApiError(404, "not_found", "No such API endpoint.")

    return router
