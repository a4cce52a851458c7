"""A simulated browser tab: Reflex's websocket protocol spoken by python-socketio, no browser.

What a page does, as recorded from Chromium talking to the app: it opens socket.io on `/_event`
with its session token in the query string and its first event (`hydrate_and_load` with the
page's path) in the CONNECT packet; it sends `["event", {name, payload, router_data}]` and
receives `["event", {"delta": {state: {var_rx_state_: value}}, "events": [...]}]`. Cookies and
Origin ride on the websocket upgrade as in a browser, so the app authenticates the tab from its
HttpOnly session cookie. Uploads are the browser's multipart POST to `/_upload`.

Hundreds of these fit in one process where a Chromium page each would not fit on the machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import httpx
import socketio

log = logging.getLogger("bench.reflex_client")

NAMESPACE = "/_event"
VAR_SUFFIX = "_rx_state_"
ROOT_STATE = "reflex___state____state"
# The sign-in hand-off: a constant page function called with the one-time code as a JSON string.
HANDOFF_CODE = re.compile(r"/auth/session.*\(\s*\"([A-Za-z0-9_\-]+)\"\s*\)", re.S)


def state_name(state_class: type) -> str:
    """The full state name the protocol uses, from the app's state class."""
    return str(state_class.get_full_name())  # type: ignore[attr-defined]


@dataclass
class Update:
    """One `event` message from the server, stamped when it arrived."""

    received: float
    delta: dict[str, dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)


class TabError(RuntimeError):
    """The app refused or dropped the simulated tab."""


class ReflexTab:
    """One page's websocket: sends events, keeps the state it was sent, wakes waiters."""

    def __init__(
        self, base_url: str, cookies: httpx.Cookies | None = None, local_address: str = ""
    ) -> None:
        """`local_address` makes the websocket connect from that address of this machine (say
        127.0.0.2, for a client the server sees as another one)."""
        self.base_url = base_url.rstrip("/")
        self.cookies = cookies or httpx.Cookies()
        self.token = str(uuid.uuid4())
        self.path = "/"
        self.search = ""
        self.query: dict[str, str] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.scripts: list[str] = []  # the JavaScript the server asked the page to run
        self.events: list[dict[str, Any]] = []  # every event the server sent (redirects, ...)
        self.updates = 0
        self.on_update: Callable[[Update], None] | None = None
        self._changed = asyncio.Condition()
        self._http: aiohttp.ClientSession | None = None
        if local_address:
            connector = aiohttp.TCPConnector(local_addr=(local_address, 0))
            self._http = aiohttp.ClientSession(connector=connector)
        self._client = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, http_session=self._http
        )
        self._client.on("event", self._receive, namespace=NAMESPACE)
        self._client.on("disconnect", self._disconnected, namespace=NAMESPACE)
        self._closed = False
        self.dropped = False

    async def open(self, path: str, query: dict[str, str] | None = None, search: str = "") -> None:
        """Connect as a page loaded at `path` (hydrate and its on_load events run at once).

        `query` carries a dynamic route's parameters (`{"cid": ...}` for /chat/[cid]); `search`
        is the address's query string as the browser has it (`?next=%2Fchat`)."""
        self.path = path if path.endswith("/") else f"{path}/"
        self.search = search
        self.query = {**dict(parse_qsl(search.removeprefix("?"))), **(query or {})}
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        headers = {"Origin": self.base_url}
        if cookie:
            headers["Cookie"] = cookie
        boot = {
            "name": f"{ROOT_STATE}.hydrate_and_load",
            "payload": {},
            "router_data": self._route(),
        }
        await self._client.connect(
            f"{self.base_url}?token={self.token}",
            headers=headers,
            auth={"event": boot},
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path="/_event",
            wait_timeout=30,
        )
        await self.wait_for(lambda: self.var(ROOT_STATE, "is_hydrated") is True, 60)

    async def send(self, state: str, handler: str, **payload: Any) -> None:
        """Emit `state.handler(**payload)` as the page would."""
        event = {"name": f"{state}.{handler}", "payload": payload, "router_data": self._route()}
        await self._client.emit("event", event, namespace=NAMESPACE)

    async def submit(self, state: str, handler: str, form: dict[str, str]) -> None:
        """Emit a form submission (Reflex encodes the form's fields as name/value pairs)."""
        pairs = [[name, value] for name, value in form.items()]
        await self.send(state, handler, form={"__reflex_form_data__": pairs})

    def var(self, state: str, name: str, default: Any = None) -> Any:
        return self.state.get(state, {}).get(name, default)

    async def wait_for(self, ready: Callable[[], bool], within_s: float) -> None:
        """Until `ready()` holds after some update; TabError if the tab drops or time runs out."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: ready() or self.dropped), within_s
                )
            except TimeoutError as exc:
                raise TabError(f"{self.path}: condition not met within {within_s:.0f} s") from exc
        if self.dropped and not ready():
            raise TabError(f"{self.path}: the server closed the websocket")

    async def upload(
        self, state: str, handler: str, name: str, data: bytes, *, check: bool = True
    ) -> httpx.Response:
        """The browser's upload: a multipart POST naming this tab and the handler."""
        headers = {
            "Reflex-Client-Token": self.token,
            "Reflex-Event-Handler": f"{state}.{handler}",
            "Origin": self.base_url,
        }
        files = {"files": (name, data, "application/octet-stream")}
        async with httpx.AsyncClient(base_url=self.base_url, cookies=self.cookies) as http:
            response = await http.post("/_upload", headers=headers, files=files, timeout=120)
        if not check and response.status_code != 200:
            return response
        response.raise_for_status()
        # The handler's updates come back in the response, one JSON object per line.
        for line in response.text.splitlines():
            if line.strip():
                await self._receive(json.loads(line))
        return response

    async def close(self) -> None:
        self._closed = True
        if self._client.connected:
            await self._client.disconnect()
        if self._http is not None:
            await self._http.close()

    def _route(self) -> dict[str, Any]:
        route: dict[str, Any] = {"pathname": self.path, "asPath": self.path + self.search}
        if self.query:
            route["query"] = self.query
        return route

    async def _receive(self, message: dict[str, Any]) -> None:
        update = Update(time.time(), message.get("delta") or {}, message.get("events") or [])
        for state, values in update.delta.items():
            own = self.state.setdefault(state, {})
            for key, value in values.items():
                own[key.removesuffix(VAR_SUFFIX)] = value
        for event in update.events:
            name = str(event.get("name", ""))
            self.events.append(event)
            if name == "_call_script":
                self.scripts.append(str(event.get("payload", {}).get("javascript_code", "")))
            elif name == "_call_function":
                self.scripts.append(str(event.get("payload", {}).get("function", "")))
            elif not name.startswith("_"):
                # A handler chained another (e.g. an upload starts the page's watcher): the
                # browser sends it back over the websocket, and so does this tab.
                await self._client.emit(
                    "event", {**event, "router_data": self._route()}, namespace=NAMESPACE
                )
        self.updates += 1
        if self.on_update is not None:
            self.on_update(update)
        async with self._changed:
            self._changed.notify_all()

    async def _disconnected(self, *_: Any) -> None:
        if not self._closed:
            self.dropped = True
            log.warning("tab dropped by the server path=%s", self.path)
        async with self._changed:
            self._changed.notify_all()


async def register(
    base_url: str, register_state: str, email: str, name: str, password: str
) -> httpx.Cookies:
    """Sign up through the registration form and swap the hand-off code for the session cookie."""
    tab = ReflexTab(base_url)
    try:
        await tab.open("/register")
        form = {
            "email": email,
            "display_name": name,
            "password": password,
            "confirm_password": password,
        }
        await tab.submit(register_state, "submit", form)
        return await complete_hand_off(tab)
    finally:
        await tab.close()


async def sign_in(
    tab: ReflexTab, login_state: str, email: str, password: str, search: str = ""
) -> httpx.Cookies:
    """Sign in through the sign-in form on `tab` (opened at /login + `search`); the cookie."""
    await tab.open("/login", search=search)
    await tab.submit(login_state, "submit", {"email": email, "password": password})
    return await complete_hand_off(tab)


async def complete_hand_off(tab: ReflexTab) -> httpx.Cookies:
    """What the page's hand-off script does: swap the one-time code for the session cookie."""
    await tab.wait_for(lambda: any(HANDOFF_CODE.search(s) for s in tab.scripts), 60)
    code = next(m.group(1) for s in tab.scripts if (m := HANDOFF_CODE.search(s)))
    async with httpx.AsyncClient(base_url=tab.base_url) as http:
        response = await http.post(
            "/auth/session", json={"code": code}, headers={"Origin": tab.base_url}, timeout=30
        )
        if response.status_code != 200:
            raise TabError(f"sign-in hand-off refused: {response.status_code} {response.text}")
        return response.cookies
