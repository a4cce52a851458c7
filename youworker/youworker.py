"""The Reflex app: pages, theme and the HTTP routes mounted through api_transformer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import reflex as rx

from youworker.api.app import create_api
from youworker.api.middleware import asgi_middleware, guard_socketio
from youworker.logging import configure_logging
from youworker.pages.registry import add_pages
from youworker.private_files import make_private
from youworker.services import runtime
from youworker.settings import get_settings
from youworker.state.store import sealed
from youworker.state.tab_guard import TabOwner, TabSessionGuard

_settings = get_settings()
configure_logging(_settings.api.log_level, json=_settings.is_production)
# Before any worker writes: the database, uploads and vectors are created private (0600/0700).
make_private(_settings)


@contextlib.asynccontextmanager
async def lifespan() -> AsyncIterator[None]:
    """Provider probes, MCP servers and answer bookkeeping live as long as the backend."""
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


tab_owner = TabOwner()
# a11y.css: contrast and focus fixes over Radix Themes (WCAG AA in light and dark mode).
app = rx.App(
    api_transformer=[create_api(), *asgi_middleware(tab_owner=tab_owner)],
    stylesheets=["/a11y.css"],
)
# Reflex built its state manager from rxconfig; with Redis, ours seals what it stores.
app._state_manager = sealed(app.state_manager)
tab_owner.app = app
# First of all middleware, before Reflex's hydrate answers a page load with the whole state.
app.add_middleware(TabSessionGuard(), index=0)
guard_socketio(app.sio)
app.register_lifespan_task(lifespan)
add_pages(app)
