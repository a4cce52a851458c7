"""Dependency probes for /health/detailed and `youworker check`. Every probe has a short timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import httpx
from sqlalchemy import text

from youworker.db import get_engine, session_scope
from youworker.models import User
from youworker.services.authz import require_site_admin
from youworker.settings import Settings

PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Probe:
    name: str
    status: str  # ok | down | not_configured
    latency_ms: float | None
    detail: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def _timed(name: str, check: Callable[[], Awaitable[str]]) -> Probe:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        return Probe(name, "down", None, f"no answer within {PROBE_TIMEOUT_SECONDS:.0f} s")
    except Exception as exc:  # a probe reports any failure; it never raises
        return Probe(name, "down", None, f"{type(exc).__name__}: {exc}"[:300])
    return Probe(name, "ok", round((time.perf_counter() - started) * 1000, 2), detail)


async def probe_database(settings: Settings) -> Probe:
    async def check() -> str:
        async with get_engine().connect() as connection:
            await connection.execute(text("SELECT 1"))
        return get_engine().dialect.name

    return await _timed("database", check)


async def probe_vector_store(settings: Settings) -> Probe:
    if settings.llm.qdrant_url is None:

        async def local() -> str:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            return f"embedded store in {settings.data_dir.resolve() / 'vectors'}"

        return await _timed("vector_store", local)

    async def remote() -> str:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS) as client:
            response = await client.get(f"{str(settings.llm.qdrant_url).rstrip('/')}/readyz")
            response.raise_for_status()
        return f"qdrant server at {settings.llm.qdrant_url}"

    return await _timed("vector_store", remote)


async def probe_llm(settings: Settings) -> Probe:
    if settings.llm.provider == "embedded":
        return Probe("llm", "ok", None, "embedded model (LLM__PROVIDER=embedded)")

    async def check() -> str:
        async with httpx.AsyncClient(timeout=settings.llm.probe_timeout_seconds) as client:
            response = await client.get(f"{str(settings.llm.ollama_base_url).rstrip('/')}/api/tags")
            response.raise_for_status()
            models = [item.get("model") for item in response.json().get("models", [])]
        return f"ollama at {settings.llm.ollama_base_url}: {len(models)} models"

    result = await _timed("llm", check)
    if result.status == "down" and settings.llm.provider == "auto":
        return Probe(
            "llm",
            "degraded",
            None,
            f"ollama unreachable ({result.detail}); using the embedded model",
        )
    return result


async def probe_redis(settings: Settings) -> Probe:
    if not settings.redis.url:
        return Probe("redis", "not_configured", None, "REDIS__URL not set; in-process state")
    url = settings.redis.url

    async def check() -> str:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_SECONDS)
        try:
            await client.ping()  # type: ignore[misc]  # redis-py types ping() as sync-or-async
        finally:
            await client.aclose()
        return "ping ok"

    return await _timed("redis", check)


async def probe_ingestion(settings: Settings) -> Probe:
    """The document queue: how many jobs wait, and how long the oldest has waited."""

    async def check() -> str:
        from youworker.services.documents import jobs

        async with session_scope() as session:
            backlog = await jobs.backlog(session)
        where = (
            "in-process worker"
            if settings.documents.worker == "in-process"
            else "external workers (`youworker worker`)"
        )
        waited = f", oldest queued {backlog.oldest_wait_s:.0f} s ago" if backlog.queued else ""
        return f"{where}: {backlog.queued} queued, {backlog.running} running{waited}"

    return await _timed("ingestion", check)


async def probe_all(settings: Settings) -> list[Probe]:
    return list(
        await asyncio.gather(
            probe_database(settings),
            probe_vector_store(settings),
            probe_llm(settings),
            probe_redis(settings),
            probe_ingestion(settings),
        )
    )


def overall(probes: list[Probe]) -> str:
    if any(p.status == "down" for p in probes):
        return (
            "down"
            if any(p.name == "database" and p.status == "down" for p in probes)
            else "degraded"
        )
    return "degraded" if any(p.status == "degraded" for p in probes) else "ok"


async def detailed(actor: User | None, settings: Settings) -> tuple[str, list[Probe]]:
    """Every probe and the overall status; site administrators only (they show internals)."""
    require_site_admin(actor)
    probes = await probe_all(settings)
    return overall(probes), probes
