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
from youworker.services.llm.hosts import HostPool, HostStatus, summary
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
    """Every Ollama host at once: "2 of 3 Ollama hosts up: ..." with each host's state."""
    llm = settings.llm
    if llm.provider == "embedded":
        return Probe("llm", "ok", None, "embedded model (LLM__PROVIDER=embedded)")
    pool = HostPool(llm.ollama_hosts, probe_timeout=llm.probe_timeout_seconds)
    started = time.perf_counter()
    try:
        hosts = await pool.refresh()
    finally:
        await pool.aclose()
    latency = round((time.perf_counter() - started) * 1000, 2)
    up = sum(host.up for host in hosts)
    report = f"{summary(hosts)}: " + "; ".join(_host_report(host, llm.chat_model) for host in hosts)
    if up == len(hosts):
        return Probe("llm", "ok", latency, report)
    if up:
        return Probe("llm", "degraded", latency, report)
    if llm.provider == "auto":
        return Probe("llm", "degraded", None, f"{report}; using the embedded model")
    return Probe("llm", "down", None, report)


def _host_report(host: HostStatus, chat_model: str) -> str:
    if not host.up:
        return f"{host.url} down ({host.error})"
    pulled = "has" if host.has_model(chat_model) else "lacks"
    return (
        f"{host.url} up, {len(host.models)} models, {pulled} {chat_model}, "
        f"{host.latency_ms or 0:.0f} ms"
    )


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
