"""A simulated user of the chat and documents pages, on `ReflexTab`s, for the crowd and soak runs.

Answers come from the test server's `test-stamped` model: every token is `s<index>@<µs>`, the
wall-clock time it was written to the app's socket. A token's delay is the time the tab first
held it in its state minus that stamp: model -> app -> follower -> websocket -> tab, everything
a person waits for except React's render.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.reflex_client import ReflexTab, TabError, Update, register, state_name

STAMPED_MODEL = "test-stamped"


def _names() -> tuple[str, str, str, str]:
    # Imported late: the app's state modules load settings from the environment of the caller.
    from youworker.state.auth import RegisterState
    from youworker.state.chat import ChatState, LiveAnswerState
    from youworker.state.documents import DocumentsState

    return (
        state_name(RegisterState),
        state_name(ChatState),
        state_name(LiveAnswerState),
        state_name(DocumentsState),
    )


@dataclass
class AnswerWatch:
    """The tokens of one answer as a tab sees them arrive."""

    expected: int
    sent_at: float
    delays: list[float] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)  # when the test server wrote each token
    seen: int = 0
    first_token_at: float | None = None
    disorder: str = ""

    def feed(self, text: str, received: float) -> None:
        tokens = text.split()
        if not tokens or self.disorder:
            return
        first = _parse(tokens[0])
        if first is None or first[1] < self.sent_at:
            return  # an earlier answer's text, still in the tab's state
        for token in tokens[self.seen :]:
            parsed = _parse(token)
            if parsed is None or parsed[0] != self.seen:
                self.disorder = f"token {self.seen}: got {token!r}"
                return
            if self.first_token_at is None:
                self.first_token_at = received
            self.delays.append(received - parsed[1])
            self.stamps.append(parsed[1])
            self.seen += 1

    @property
    def complete(self) -> bool:
        return self.seen == self.expected and not self.disorder


def _parse(token: str) -> tuple[int, float] | None:
    index, _, stamp = token.partition("@")
    if not index.startswith("s") or not index[1:].isdigit() or not stamp.isdigit():
        return None
    return int(index[1:]), int(stamp) / 1e6


class SimUser:
    """Signs up, keeps a chat tab open, sends messages and checks every answer token by token."""

    def __init__(self, base_url: str, label: str) -> None:
        self.base_url = base_url
        self.email = f"{label}-{time.time_ns()}@example.com"
        self.password = f"pass phrase {label} {time.time_ns()}"
        self.register_state, self.chat, self.live, self.documents = _names()
        self.cookies: httpx.Cookies | None = None
        self.tab: ReflexTab | None = None
        self.watch: AnswerWatch | None = None
        self.documents_tab: ReflexTab | None = None

    async def sign_up(self) -> None:
        self.cookies = await register(
            self.base_url, self.register_state, self.email, self.email.split("@")[0], self.password
        )

    async def open_chat(self, model: str = "") -> None:
        """A chat tab on a new conversation; `model` is picked in the model menu if given."""
        tab = ReflexTab(self.base_url, self.cookies)
        tab.on_update = self._on_update
        await tab.open("/chat")
        await tab.wait_for(lambda: bool(tab.var(self.chat, "models")), 60)
        if model and tab.var(self.chat, "current_model") != model:
            await tab.send(self.chat, "choose_model", model=model)
            await tab.wait_for(lambda: tab.var(self.chat, "current_model") == model, 60)
        self.tab = tab

    async def ask(self, text: str, tokens: int, within_s: float) -> AnswerWatch:
        """Send `text`; return once the saved answer is back in the thread."""
        tab = self._open_tab()
        watch = self.watch = AnswerWatch(expected=tokens, sent_at=time.time())
        await tab.submit(self.chat, "send", {"message": text})
        refused = lambda: bool(tab.var(self.chat, "composer_error"))  # noqa: E731
        try:
            await tab.wait_for(lambda: self._saved_answer() is not None or refused(), within_s)
        except TabError as exc:
            raise TabError(f"{exc} ({self.describe()})") from exc
        if refused():
            raise TabError(f"the app refused the message: {tab.var(self.chat, 'composer_error')}")
        return watch

    async def upload(self, name: str, data: bytes, within_s: float) -> str:
        """Upload from the documents page like the browser; the document's final status."""
        tab = self.documents_tab
        if tab is None:
            tab = self.documents_tab = ReflexTab(self.base_url, self.cookies)
            await tab.open("/documents")
        await tab.upload(self.documents, "handle_upload", name, data)
        await tab.wait_for(lambda: self._added(tab, name) is not None, 60)
        document_id = self._added(tab, name)

        def status() -> str:
            rows = tab.var(self.documents, "rows") or []
            return next((str(r["status"]) for r in rows if r.get("id") == document_id), "")

        try:
            await tab.wait_for(lambda: status() in ("ready", "failed"), within_s)
        except TabError as exc:
            raise TabError(f"{exc} (document {name} stayed {status()!r})") from exc
        return status()

    def _added(self, tab: ReflexTab, name: str) -> str | None:
        for row in tab.var(self.documents, "uploads") or []:
            if row.get("name") == name:
                if row.get("state") in ("duplicate", "rejected"):
                    raise TabError(f"upload {name}: {row.get('state')} {row.get('message')}")
                if row.get("state") == "added":
                    return str(row.get("document_id"))
        return None

    def saved_text(self) -> str:
        answer = self._saved_answer()
        return "" if answer is None else str(answer.get("raw", ""))

    def describe(self) -> str:
        """What the tab shows, for an error report."""
        tab = self._open_tab()
        messages = tab.var(self.chat, "messages") or []
        last = messages[-1] if messages else {}
        live = str(tab.var(self.live, "text", ""))
        return (
            f"streaming={tab.var(self.chat, 'streaming')}, {len(messages)} messages, last "
            f"{last.get('role')}/{last.get('status')}, live text {len(live.split())} tokens, "
            f"seen {self.watch.seen if self.watch else 0}, updates {tab.updates}"
        )

    async def close(self) -> None:
        for tab in (self.tab, self.documents_tab):
            if tab is not None:
                await tab.close()

    def _open_tab(self) -> ReflexTab:
        if self.tab is None:
            raise RuntimeError("open_chat first")
        return self.tab

    def _saved_answer(self) -> dict[str, Any] | None:
        """The last answer in the thread once it is saved (not streaming) and from this send."""
        tab, watch = self._open_tab(), self.watch
        if watch is None or tab.var(self.chat, "streaming"):
            return None
        messages = tab.var(self.chat, "messages") or []
        if not messages or messages[-1].get("role") != "assistant":
            return None
        answer: dict[str, Any] = messages[-1]
        if answer.get("status") in ("", "streaming"):
            return None
        first = _parse((str(answer.get("raw", "")).split() or [""])[0])
        if first is not None and first[1] < watch.sent_at:
            return None
        return answer

    def _on_update(self, update: Update) -> None:
        watch, tab = self.watch, self.tab
        if watch is None or tab is None:
            return
        if self.live in update.delta:
            watch.feed(str(tab.var(self.live, "text", "")), update.received)
        if self.chat in update.delta:
            messages = tab.var(self.chat, "messages") or []
            if messages and messages[-1].get("role") == "assistant":
                watch.feed(str(messages[-1].get("raw", "")), update.received)


async def sign_up_all(people: list[SimUser], at_once: int, open_chat: bool = False) -> None:
    """Sign everyone up, `at_once` at a time (argon2 hashing makes a stampede pointless)."""
    gate = asyncio.Semaphore(at_once)

    async def one(person: SimUser) -> None:
        async with gate:
            await person.sign_up()
            if open_chat:
                await person.open_chat()

    await asyncio.gather(*(one(p) for p in people))
