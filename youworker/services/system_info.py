"""What the admin system page shows: dependency health, the active models, versions, settings.

Settings are listed without secrets: a secret only says whether it is set, and passwords
inside URLs are masked.
"""

from __future__ import annotations

import asyncio
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.services import health, runtime
from youworker.services.authz import require_site_admin
from youworker.settings import Settings, get_settings

EMBEDDER_WAIT_SECONDS = 3.0
SECRET_NAME = re.compile(r"password|secret|key", re.IGNORECASE)
URL_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")
PACKAGES = (
    ("YouWorker", "youworker"),
    ("Reflex", "reflex"),
    ("SQLAlchemy", "sqlalchemy"),
    ("SQLModel", "sqlmodel"),
    ("FastAPI", "fastapi"),
    ("qdrant-client", "qdrant-client"),
    ("ollama (Python client)", "ollama"),
)


@dataclass(frozen=True)
class SystemInfo:
    status: str  # ok | degraded | down
    probes: list[health.Probe]
    llm: dict[str, str]  # mode, active, model, detail
    embedder: dict[str, str]  # name, dimension, key (or a note while it is being chosen)
    versions: dict[str, str]
    settings: list[tuple[str, str]]  # (ENV__NAME, shown value)


def mask_url(value: str) -> str:
    """`scheme://user:***@host/...` for any URL carrying a password.

    Operators paste passwords unencoded, so the credentials run to the last "@" (a password may
    hold "/", "@" and ":"); what follows must parse as a URL's host, or the whole value is hidden.
    """
    scheme, separator, rest = value.strip().partition("://")
    if not separator or not URL_SCHEME.fullmatch(scheme) or "@" not in rest:
        return value
    credentials, _, location = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    if not colon:
        return value  # a user name alone
    try:
        parsed = urlsplit(f"{scheme}://{location}")
        parsed.port  # noqa: B018 - raises on a port that is no number
    except ValueError:
        return "*** (not a valid URL)"
    if not parsed.hostname:
        return "*** (not a valid URL)"
    return f"{scheme}://{user}:***@{location}"


def _shown(name: str, value: Any) -> str:
    if isinstance(value, SecretStr):
        return "set" if value.get_secret_value() else "not set"
    # Numbers and switches are never secret, whatever their name (PASSWORD_RESET_TTL_HOURS).
    if SECRET_NAME.search(name) and (value is None or isinstance(value, str)):
        return "set" if value else "not set"
    if value is None:
        return "not set"
    if isinstance(value, list):
        return ", ".join(mask_url(str(item)) for item in value) or "not set"
    return mask_url(str(value))


def _walk(model: BaseModel, prefix: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        env = f"{prefix}{name}".upper()
        if isinstance(value, BaseModel):
            rows.extend(_walk(value, f"{env}__"))
        else:
            rows.append((env, _shown(name, value)))
    return rows


def settings_rows(settings: Settings) -> list[tuple[str, str]]:
    """Every setting by its environment variable name; secrets only as "set"/"not set"."""
    rows = _walk(settings, "")
    # Empty values with a meaning: show what is really used.
    used = {
        "DATABASE__URL": mask_url(settings.database_url),
        "LLM__OLLAMA_BASE_URLS": ", ".join(mask_url(url) for url in settings.llm.ollama_hosts),
    }
    return [(name, used.get(name, value)) for name, value in rows]


def _package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


async def database_version(session: AsyncSession) -> str:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        found = await session.scalar(text("SELECT sqlite_version()"))
        return f"SQLite {found}"
    found = await session.scalar(text("SHOW server_version"))
    return f"PostgreSQL {found}"


async def _ollama_host_version(client: httpx.AsyncClient, base_url: str) -> str:
    try:
        response = await client.get(f"{base_url}/api/version")
        response.raise_for_status()
        return str(response.json().get("version", "unknown"))
    except (httpx.HTTPError, ValueError):
        return "unreachable"


async def ollama_version(settings: Settings) -> str:
    """The version of every Ollama host ("url: version; ..." when there are several)."""
    if settings.llm.provider == "embedded":
        return "not used (LLM__PROVIDER=embedded)"
    hosts = settings.llm.ollama_hosts
    async with httpx.AsyncClient(timeout=settings.llm.probe_timeout_seconds) as client:
        found = await asyncio.gather(*(_ollama_host_version(client, url) for url in hosts))
    if len(hosts) == 1:
        return found[0]
    return "; ".join(f"{url}: {version}" for url, version in zip(hosts, found, strict=True))


async def versions(session: AsyncSession, settings: Settings) -> dict[str, str]:
    found = {label: _package_version(dist) for label, dist in PACKAGES}
    found["Python"] = platform.python_version()
    found["Database server"] = await database_version(session)
    found["Ollama server"] = await ollama_version(settings)
    return found


def llm_info() -> dict[str, str]:
    manager = runtime.get_provider_manager()
    status = manager.status()
    return {
        "mode": manager.mode,
        "active": "checking" if status.checking else status.active,
        "model": manager.default_model(),
        "detail": status.detail,
    }


async def embedder_info() -> dict[str, str]:
    try:
        embedder = await asyncio.wait_for(runtime.current_embedder(), EMBEDDER_WAIT_SECONDS)
    except TimeoutError:
        return {"name": "being chosen", "dimension": "", "key": ""}
    except Exception as exc:  # the page reports why, it does not fail
        return {
            "name": f"unavailable: {type(exc).__name__}: {exc}"[:300],
            "dimension": "",
            "key": "",
        }
    return {"name": embedder.name, "dimension": str(embedder.dimension), "key": embedder.key}


async def collect(
    session: AsyncSession, actor: User | None, settings: Settings | None = None
) -> SystemInfo:
    """Everything on the system page; site administrators only."""
    require_site_admin(actor)
    settings = settings or get_settings()
    probes, embedder = await asyncio.gather(health.probe_all(settings), embedder_info())
    return SystemInfo(
        status=health.overall(probes),
        probes=probes,
        llm=llm_info(),
        embedder=embedder,
        versions=await versions(session, settings),
        settings=settings_rows(settings),
    )
