"""Reflex configuration, read from the same settings as the app."""

import reflex as rx
from reflex.constants import StateManagerMode
from reflex.plugins.sitemap import SitemapPlugin

from youworker.db import async_url, sync_url
from youworker.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="youworker",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    db_url=sync_url(_settings.database_url),
    async_db_url=async_url(_settings.database_url),
    redis_url=_settings.redis.url,
    # Chosen on purpose, never Reflex's default (pickles on disk): one process keeps tabs in
    # memory; several workers share them through Redis, sealed (youworker/state/store.py).
    state_manager_mode=StateManagerMode.REDIS if _settings.redis.url else StateManagerMode.MEMORY,
    frontend_port=_settings.api.port,
    backend_port=_settings.api.port,
    backend_host=_settings.api.host,
    # Reflex's own CORS layers follow our allow-list (its default "*" lets any site read
    # credentialed responses); empty means same-origin only.
    cors_allowed_origins=list(_settings.security.cors_origins),
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(
                accent_color="indigo", gray_color="slate", radius="medium", appearance="inherit"
            )
        )
    ],
    disable_plugins=[SitemapPlugin],
)
