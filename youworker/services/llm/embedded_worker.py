"""The built-in model's child process: llama.cpp runs here, never in the web server's process.

A native crash (llama.cpp has segfaulted on grammars built from real tool schemas) ends this
process only; the supervisor in `embedded.py` fails the one answer and starts a new child.

Protocol, one JSON object per line. Requests on stdin:
  {"op": "chat", "id": ..., "messages": [...], "tools": [...], "max_tokens": ..., ...}
  {"op": "cancel", "id": ...}
Replies on the original stdout (fd 1 is pointed at stderr so that nothing llama.cpp prints can
corrupt the protocol):
  {"t": "ready"} once the model is loaded, or {"t": "fatal", "code": ..., "message": ...}
  {"t": "text", "id": ..., "x": ...} per piece of the answer
  {"t": "call", "id": ..., "name": ..., "arguments": {...}} for a tool call
  {"t": "end", "id": ..., "reason": ..., "error": null | {...}, <GenerationStats fields>}
The child exits when stdin closes (the supervisor stopped or died).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import IO, Any

from youworker.services.llm.base import ChatMessage, LLMError, ToolCallRequest, ToolSpec
from youworker.services.llm.embedded_prompt import (
    DEFAULT_SYSTEM,
    chatml,
    decision_grammar,
    named_tools,
    render,
    tool_instructions,
)

_STOP = ["<|im_end|>", "<|im_start|>"]
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class GenerationStats:
    """What one generation did (for logs, benchmarks and tests)."""

    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cancelled: bool
    tool_call: bool


def message_from_json(data: dict[str, Any]) -> ChatMessage:
    calls = tuple(
        ToolCallRequest(name=c["name"], arguments=c.get("arguments") or {}, id=c.get("id", ""))
        for c in data.get("tool_calls") or ()
    )
    return ChatMessage(
        role=data["role"],
        content=data.get("content") or "",
        tool_calls=calls,
        tool_name=data.get("tool_name"),
    )


class Generator:
    """Answers one request at a time with the loaded model."""

    def __init__(self, llm: Any, n_ctx: int) -> None:
        self.llm = llm
        self.n_ctx = n_ctx
        self._grammars: dict[tuple[str, ...], Any] = {}

    def run(self, request: dict[str, Any], emit: Emit, cancel: threading.Event) -> None:
        started = time.perf_counter()
        counts = [0, 0]  # prompt tokens, completion tokens over both phases
        messages = [message_from_json(m) for m in request.get("messages", [])]
        tools = [
            ToolSpec(t["name"], t.get("description", ""), t["parameters"])
            for t in request.get("tools") or []
        ]
        call: ToolCallRequest | None = None
        reason = "stop"
        error: dict[str, str] | None = None
        try:
            # Left to choose, this small model called tools for "Hello": it calls one only when
            # the user names it ("use the calculator"), and after a tool result it answers in
            # text (one tool step per user turn, never a loop).
            last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
            named = named_tools(last_user, tools)
            if named and messages and messages[-1].role == "user":
                call = self._call(messages, named, int(request["tool_max_tokens"]), cancel, counts)
            if call is not None:
                emit(
                    {
                        "t": "call",
                        "name": call.name,
                        "arguments": call.arguments,
                        "call_id": call.id,
                    }
                )
            elif not cancel.is_set():
                reason = self._answer(messages, request, emit, cancel, counts)
        except LLMError as exc:
            error = {"code": exc.code, "message": exc.message}
        except Exception as exc:  # reported to the supervisor, which fails this one answer
            error = {"code": "backend", "message": f"The built-in model failed: {exc}"}
        stats = GenerationStats(
            prompt_tokens=counts[0],
            completion_tokens=counts[1],
            seconds=round(time.perf_counter() - started, 4),
            cancelled=cancel.is_set(),
            tool_call=call is not None,
        )
        emit({"t": "end", "reason": reason, "error": error, **asdict(stats)})

    def _prompt(self, turns: list[tuple[str, str]], budget: int) -> list[int]:
        """Tokens of the prompt, dropping the oldest turns (then truncating) to fit `budget`."""

        def encode(items: list[tuple[str, str]]) -> list[int]:
            return list(self.llm.tokenize(chatml(items).encode(), add_bos=False, special=True))

        system, rest = turns[0], turns[1:]
        tokens = encode(turns)
        while len(tokens) > budget and len(rest) > 1:
            rest = rest[1:]
            tokens = encode([system, *rest])
        if len(tokens) > budget and rest:
            # One huge message: keep its end, where the question usually is.
            role, text = rest[-1]
            keep = max(budget - len(encode([system, (role, "")])), 16)
            text_tokens = self.llm.tokenize(text.encode(), add_bos=False, special=False)
            tail = self.llm.detokenize(text_tokens[-keep:]).decode(errors="ignore")
            tokens = encode([system, (role, tail)])[-budget:]
        return tokens

    def _stream(
        self, prompt: list[int], max_tokens: int, **kwargs: Any
    ) -> Iterator[tuple[str, str | None]]:
        """(text, finish_reason) per generated token."""
        budget = max(1, min(max_tokens, self.n_ctx - len(prompt)))
        stream = self.llm.create_completion(
            prompt, max_tokens=budget, stop=_STOP, stream=True, **kwargs
        )
        with closing(stream):
            for part in stream:
                choice = part["choices"][0]
                yield choice.get("text") or "", choice.get("finish_reason")

    def _answer(
        self,
        messages: list[ChatMessage],
        request: dict[str, Any],
        emit: Emit,
        cancel: threading.Event,
        counts: list[int],
    ) -> str:
        max_tokens = int(request["max_tokens"])
        prompt = self._prompt(render(messages, DEFAULT_SYSTEM), self.n_ctx - max_tokens)
        counts[0] += len(prompt)
        reason = "stop"
        temperature = float(request["temperature"])
        for text, finish in self._stream(
            prompt, max_tokens, temperature=temperature, repeat_penalty=1.1
        ):
            if cancel.is_set():
                break
            counts[1] += 1
            if text:
                emit({"t": "text", "x": text})
            if finish:
                reason = finish
        return reason

    def _grammar(self, tools: list[ToolSpec]) -> Any:
        from llama_cpp import LlamaGrammar

        key = tuple(tool.name for tool in tools)
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_string(decision_grammar(tools), verbose=False)
        return self._grammars[key]

    def _call(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        max_tokens: int,
        cancel: threading.Event,
        counts: list[int],
    ) -> ToolCallRequest | None:
        """The call of one of `tools`, arguments written by the model under the grammar."""
        system = f"{DEFAULT_SYSTEM}\n\n{tool_instructions(tools)}"
        prompt = self._prompt(render(messages, system), self.n_ctx - max_tokens)
        counts[0] += len(prompt)
        text = ""
        grammar = self._grammar(tools)
        for piece, _finish in self._stream(prompt, max_tokens, temperature=0.0, grammar=grammar):
            if cancel.is_set():
                return None
            counts[1] += 1
            text += piece
        try:
            decision = json.loads(text)
        except ValueError:
            return None  # cut short by the token budget: answer in text instead
        names = {tool.name for tool in tools}
        if decision.get("tool") in names and isinstance(decision.get("arguments"), dict):
            return ToolCallRequest(
                name=decision["tool"],
                arguments=decision["arguments"],
                id=f"call_{uuid.uuid4().hex[:12]}",
            )
        return None


class Channel:
    """Writes protocol lines; a lock keeps the reader thread's lines whole."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()


class Inbox:
    """Requests from the supervisor; a cancel may arrive before or while its request runs."""

    def __init__(self) -> None:
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._running: tuple[Any, threading.Event] | None = None
        self._cancelled: set[Any] = set()

    def start(self, request_id: Any) -> threading.Event:
        event = threading.Event()
        with self._lock:
            if request_id in self._cancelled:
                self._cancelled.discard(request_id)
                event.set()
            self._running = (request_id, event)
        return event

    def finish(self) -> None:
        with self._lock:
            self._running = None

    def cancel(self, request_id: Any) -> None:
        with self._lock:
            if self._running is not None and self._running[0] == request_id:
                self._running[1].set()
            else:
                self._cancelled.add(request_id)

    def read(self, source: IO[str]) -> None:
        """Reader thread: queues chat requests, applies cancels; stdin closed stops everything."""
        for line in source:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("op") == "cancel":
                self.cancel(message.get("id"))
            elif message.get("op") == "chat":
                self.requests.put(message)
        with self._lock:
            if self._running is not None:
                self._running[1].set()
        self.requests.put(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    # The protocol keeps the real stdout; anything written to fd 1 from now on goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    channel = Channel(out)
    if not os.path.isfile(args.model):
        channel.send(
            {"t": "fatal", "code": "unavailable", "message": "The built-in model file is missing."}
        )
        return 2
    try:
        from llama_cpp import Llama

        llm = Llama(
            model_path=args.model,
            n_ctx=args.n_ctx,
            n_threads=args.threads or None,
            verbose=False,
        )
    except Exception as exc:
        channel.send(
            {
                "t": "fatal",
                "code": "unavailable",
                "message": f"The built-in model cannot load: {exc}",
            }
        )
        return 2
    generator = Generator(llm, args.n_ctx)
    inbox = Inbox()
    threading.Thread(target=inbox.read, args=(sys.stdin,), daemon=True).start()
    channel.send({"t": "ready"})
    while (request := inbox.requests.get()) is not None:
        request_id = request.get("id")
        cancel = inbox.start(request_id)

        def emit(message: dict[str, Any], request_id: Any = request_id) -> None:
            channel.send({**message, "id": request_id})

        generator.run(request, emit, cancel)
        inbox.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
