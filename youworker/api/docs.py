"""OpenAPI at /openapi.json and Swagger UI at /docs, with its assets served by this app (no CDN)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
OPENAPI_URL = "/openapi.json"
ASSETS_URL = "/docs-assets"
# fastapi-offline ships swagger-ui-dist (bundle and stylesheet) and a favicon.
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def install(api: FastAPI) -> None:
    api.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @api.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{api.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )
