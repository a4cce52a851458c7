"""The FastAPI app that Reflex mounts through `api_transformer`."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from youworker.api import audit, docs, downloads, errors, health, session_cookie, v1
from youworker.api.nul_guard import reject_nul_characters


def create_api() -> FastAPI:
    api = FastAPI(
        title="YouWorker",
        summary="Chat, documents and groups of a YouWorker installation.",
        version="1",
        docs_url=None,  # served by api/docs.py with local assets
        redoc_url=None,
        openapi_url=docs.OPENAPI_URL,
        # PostgreSQL text cannot hold NUL: refused up front as a validation error, never a 500.
        dependencies=[Depends(reject_nul_characters)],
    )
    errors.install(api)
    api.include_router(health.router)
    api.include_router(session_cookie.router)
    api.include_router(downloads.router)
    api.include_router(audit.router)
    api.include_router(v1.build_router())
    docs.install(api)
    return api
