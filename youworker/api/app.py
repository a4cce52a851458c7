"""The FastAPI app that Reflex mounts through `api_transformer`."""

from __future__ import annotations

from fastapi import FastAPI

from youworker.api import audit, documents
from youworker.api.routes import router


def create_api() -> FastAPI:
    api = FastAPI(title="YouWorker", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(router)
    api.include_router(documents.router)
    api.include_router(audit.router)
    return api
