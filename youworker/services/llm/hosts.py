"""The Ollama host pool: what each host last showed (probe or request), and which one to use.

Every host is probed concurrently with a short timeout. A request goes to a reachable host
that has the model, the one with the fewest requests in flight (ties in turn), so load spreads
and a host that went away is skipped. Results are ordered per host by a ticket taken when the
probe or failure began, so a slow probe that started earlier never undoes newer news.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from youworker.logging import get_logger
from youworker.services.llm.base import LLMError
from youworker.services.llm.ollama import OllamaBackend

logger = get_logger(__name__)


def has_model(names: Iterable[str], model: str) -> bool:
    """Whether `model` is among `names` ("x" and "x:latest" are the same model)."""
    wanted = model.removesuffix(":latest")
    return bool(wanted) and any(name.removesuffix(":latest") == wanted for name in names)


@dataclass(frozen=True)
class HostStatus:
    """What one host last showed; `reachable` is None until a probe or a request said."""

    url: str
    reachable: bool | None = None
    models: tuple[str, ...] = ()
    latency_ms: float | None = None
    error: str = ""
    checked_at: datetime | None = None
    in_flight: int = 0

    @property
    def up(self) -> bool:
        return self.reachable is True

    def has_model(self, model: str) -> bool:
        return has_model(self.models, model)


class Host:
    """One Ollama server of the pool: its client and its latest known state."""

    def __init__(self, index: int, backend: OllamaBackend) -> None:
        self.index = index
        self.backend = backend
        self.url = backend.base_url
        self.state = HostStatus(self.url)
        self.in_flight = 0
        self.ticket = 0  # the newest probe or failure applied


class HostPool:
    """Several Ollama hosts with their health; picks one per request."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        probe_timeout: float,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("an Ollama host pool needs at least one URL")
        self.hosts = [Host(index, OllamaBackend(url)) for index, url in enumerate(urls)]
        self.probe_timeout = probe_timeout
        self.on_change = on_change  # called when a host goes up or down
        self._cursor = 0
        self._tickets = itertools.count(1)
        self._lock = threading.Lock()  # clients may live on several event loops

    @property
    def urls(self) -> list[str]:
        return [host.url for host in self.hosts]

    def statuses(self) -> tuple[HostStatus, ...]:
        with self._lock:
            return tuple(replace(host.state, in_flight=host.in_flight) for host in self.hosts)

    async def refresh(self) -> tuple[HostStatus, ...]:
        """Probe every host at once; each probe waits at most `probe_timeout` seconds."""
        await asyncio.gather(*(self._probe(host) for host in self.hosts))
        return self.statuses()

    async def _probe(self, host: Host) -> None:
        ticket = next(self._tickets)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.probe_timeout):
                models = await host.backend.list_models()
        except LLMError as exc:
            self._record(host, ticket, HostStatus(host.url, False, error=exc.message))
        except TimeoutError:
            error = f"Ollama at {host.url} did not answer within {self.probe_timeout:g} s."
            self._record(host, ticket, HostStatus(host.url, False, error=error))
        except Exception as exc:  # one odd host must not fail the probe of the others
            logger.exception("ollama host probe failed", url=host.url)
            error = f"{type(exc).__name__}: {exc}"[:300]
            self._record(host, ticket, HostStatus(host.url, False, error=error))
        else:
            latency = round((time.perf_counter() - started) * 1000, 2)
            names = tuple(model.name for model in models)
            self._record(host, ticket, HostStatus(host.url, True, names, latency))

    def mark_down(self, host: Host, error: str) -> None:
        """A request could not reach `host`: skip it until a later probe finds it again."""
        self._record(host, next(self._tickets), HostStatus(host.url, False, error=error))

    def _record(self, host: Host, ticket: int, state: HostStatus) -> None:
        state = replace(state, checked_at=datetime.now(UTC))
        with self._lock:
            if ticket <= host.ticket:
                return  # began before news already applied
            host.ticket = ticket
            previous, host.state = host.state, state
        if previous.reachable == state.reachable:
            return
        if previous.reachable is None:
            pass  # the first look is reported by the owner ("llm provider selected")
        elif state.up:
            logger.info("ollama host up", url=host.url, models=len(state.models))
        else:
            logger.warning("ollama host down", url=host.url, error=state.error)
        if self.on_change is not None:
            self.on_change()

    def acquire(self, model: str, exclude: Collection[str] = ()) -> Host | None:
        """The host for a request on `model` (counted in flight until `release`), or None.

        Preference: reachable with the model, then not yet probed, then reachable without it
        (Ollama then says the model is missing). Among those, fewest in flight, ties in turn.
        """
        with self._lock:
            usable = [
                host
                for host in self.hosts
                if host.url not in exclude and host.state.reachable is not False
            ]
            tiers = (
                [h for h in usable if h.state.up and h.state.has_model(model)],
                [h for h in usable if h.state.reachable is None],
                [h for h in usable if h.state.up],
            )
            candidates = next((tier for tier in tiers if tier), None)
            if candidates is None:
                return None
            fewest = min(host.in_flight for host in candidates)
            count = len(self.hosts)
            chosen = min(
                (host for host in candidates if host.in_flight == fewest),
                key=lambda host: (host.index - self._cursor) % count,
            )
            self._cursor = (chosen.index + 1) % count
            chosen.in_flight += 1
        return chosen

    def release(self, host: Host) -> None:
        with self._lock:
            host.in_flight -= 1

    def usable(self) -> list[Host]:
        """Hosts not known to be down (for calls that ask every host, like the model list)."""
        with self._lock:
            return [host for host in self.hosts if host.state.reachable is not False]

    def unavailable(self) -> LLMError:
        """The error when no host may take a request."""
        states = self.statuses()
        if len(states) == 1:
            message = states[0].error or f"Ollama is not reachable at {states[0].url}."
            return LLMError("unavailable", message)
        urls = ", ".join(state.url for state in states)
        return LLMError("unavailable", f"None of the {len(states)} Ollama hosts answers ({urls}).")

    async def aclose(self) -> None:
        """Close every host's HTTP client of the running event loop."""
        for host in self.hosts:
            await host.backend.aclose()


def summary(hosts: Sequence[HostStatus]) -> str:
    """Like "2 of 3 Ollama hosts up"."""
    return f"{sum(host.up for host in hosts)} of {len(hosts)} Ollama hosts up"


def describe(hosts: Sequence[HostStatus], model: str) -> str:
    """One line about the hosts for status pages: which are up, and which have `model`."""
    if len(hosts) == 1:
        host = hosts[0]
        if host.reachable is None:
            return f"checking Ollama at {host.url}"
        if not host.up:
            return host.error
        if host.has_model(model):
            return f"Ollama at {host.url} with {model}"
        return f"Ollama at {host.url}; model {model} is not pulled there"
    with_model = sum(host.up and host.has_model(model) for host in hosts)
    parts = [_host_part(host, model) for host in hosts]
    return f"{summary(hosts)}, {with_model} with {model}: " + "; ".join(parts)


def _host_part(host: HostStatus, model: str) -> str:
    if host.reachable is None:
        return f"{host.url} not checked yet"
    if not host.up:
        return f"{host.url} down"
    latency = f" ({host.latency_ms:.0f} ms)" if host.latency_ms is not None else ""
    missing = "" if host.has_model(model) else f" without {model}"
    return f"{host.url} up{missing}{latency}"
