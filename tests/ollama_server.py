"""An Ollama-protocol HTTP server with scripted models, for driving the real `ollama` client.

Use it in-process::

    with OllamaTestServer() as server:      # or: url = server.start(); ...; server.stop()
        client = ollama.AsyncClient(host=server.url)

or as a process (end-to-end tests point LLM__OLLAMA_BASE_URL at it)::

    python -m tests.ollama_server --port 11435 [--tokens-per-second 200] [--slow-tokens 2000]

Endpoints: POST /api/chat (streams NDJSON unless "stream" is false), GET /api/tags,
POST /api/embed, GET /api/version, POST /api/show, and POST /_test/script {"reply": "..."}
to queue a reply for "test-scripted" from another process.

Models (the requested name picks the behaviour; any other name answers 404 "not found"):
- test-plain: streams a fixed reply (PLAIN_REPLY) in several chunks.
- test-echo: streams the last user message back verbatim (handy for XSS tests).
- test-scripted: streams the next queued reply (`script_reply(text)` or /_test/script).
- test-tool: the first turn is one tool call (`config.tool_steps[0]`, or the first offered
  tool with derived arguments when that tool is not offered); once a tool message is in the
  conversation, streams "The result is <tool output>.".
- test-two-tools: two sequential tool-call turns (`config.tool_steps`), then an answer
  naming both results.
- test-think: streams `message.thinking` chunks, then the answer.
- test-midstream-error: streams a few chunks, then an {"error": ...} line.
- test-500: HTTP 500 with {"error": ...}.
- test-slow: streams `config.slow_tokens` tokens at `config.tokens_per_second`.
- test-stamped: as test-slow, each token `s<index>@<unix time sent, µs>` so a client measures delay.
- test-rag: answers from passages in the conversation (a system message or a tool result, as
  "[n] (name, page p)" blocks) by quoting the first sentence of passage [1] and citing "[1]";
  with no passages, calls `search_documents` when offered, else says it found nothing.
- test-embed: embeddings only (every model above embeds too): deterministic unit vectors from
  a hash of the text, `config.embed_dim` long.
`ServerConfig(models=...)` serves only some of them (a host that has not pulled the rest).
Every request is recorded in `server.requests` as (path, body); GET bodies are {}.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import re
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

logger = logging.getLogger("tests.ollama_server")

PLAIN_REPLY = "Hello! I am a scripted test model, streaming this reply in several chunks."
MIDSTREAM_ERROR = "model runner has unexpectedly stopped (scripted)"
SERVER_ERROR = "internal server error (scripted)"
MODELS = (
    "test-plain",
    "test-echo",
    "test-scripted",
    "test-tool",
    "test-two-tools",
    "test-think",
    "test-midstream-error",
    "test-hangup",
    "test-500",
    "test-slow",
    "test-stamped",
    "test-embed",
    "test-rag",
)
# "[n] (document, page p...)\n<passage>" blocks, as the app's search_documents formats them.
_PASSAGE = re.compile(r"^\[(\d+)\] \((.+?)\)\n(.+?)(?=\n\n\[\d+\] \(|\n\nCite |\Z)", re.M | re.S)


@dataclass
class ServerConfig:
    """Knobs of the scripted behaviours."""

    tokens_per_second: float = 200.0
    slow_tokens: int = 50
    embed_dim: int = 8
    # The models this server has pulled (a subset of MODELS); others answer 404 "not found".
    models: tuple[str, ...] = MODELS
    tool_steps: list[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: [
            ("calculator", {"expression": "6*7"}),
            ("calculator", {"expression": "42+1"}),
        ]
    )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def split_chunks(text: str) -> list[str]:
    """Split into word-sized pieces that concatenate back to `text` exactly."""
    return re.findall(r"\s*\S+\s*|\s+", text) or [""]


def embed_vector(text: str, dim: int) -> list[float]:
    """A deterministic unit vector derived from the text's hash."""
    digest = b""
    counter = 0
    while len(digest) < dim * 4:
        digest += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    raw = [int.from_bytes(digest[i * 4 : i * 4 + 4], "big") / 2**31 - 1.0 for i in range(dim)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def _derive_arguments(tool: dict[str, Any], text: str) -> dict[str, Any]:
    """Fill the offered tool's required parameters with plausible values."""
    params = tool.get("function", {}).get("parameters", {}) or {}
    props: dict[str, Any] = params.get("properties", {}) or {}
    values = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    return {
        name: values.get(props.get(name, {}).get("type", "string"), text)
        for name in params.get("required", list(props))
    }


def _rag_answer(messages: list[dict[str, Any]]) -> str | None:
    """Quote passage [1] of the latest passages in the conversation, or None if there are none."""
    for message in reversed(messages):
        if message.get("role") not in ("system", "tool"):
            continue
        found = _PASSAGE.findall(str(message.get("content", "")))
        if found:
            number, _, text = found[0]
            sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
            return f"From your documents: {sentence} [{number}]"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like the real server
    # Nagle's algorithm would hold each small NDJSON line ~40 ms on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (e.g. stopped reading a stream)

    # -- plumbing ----------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        self.server.owner.requests.append((self.path, body))
        return body

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _line(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _not_found(self, model: str) -> None:
        self._json(404, {"error": f'model "{model}" not found, try pulling it first'})

    # -- routes ------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.server.owner.requests.append((self.path, {}))
        if self.path == "/api/version":
            self._json(200, {"version": "0.12.0-test"})
        elif self.path == "/api/tags":
            models = self.server.owner.config.models
            self._json(200, {"models": [self._model_entry(name) for name in models]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self._json(400, {"error": "invalid JSON body"})
            return
        routes = {
            "/api/chat": self._chat,
            "/api/embed": self._embed,
            "/api/show": self._show,
            "/_test/script": self._script,
        }
        route = routes.get(self.path)
        if route is None:
            self._json(404, {"error": "not found"})
            return
        route(body)

    @staticmethod
    def _model_entry(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": _now(),
            "size": 1_000_000,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {"format": "gguf", "family": "test", "parameter_size": "1M"},
        }

    def _show(self, body: dict[str, Any]) -> None:
        model = str(body.get("model") or body.get("name") or "")
        if model not in self.server.owner.config.models:
            self._not_found(model)
            return
        entry = self._model_entry(model)
        self._json(
            200,
            {
                "modelfile": "",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": entry["details"],
                "model_info": {},
                "capabilities": ["completion", "tools"],
                "modified_at": entry["modified_at"],
            },
        )

    def _script(self, body: dict[str, Any]) -> None:
        self.server.owner.script_reply(str(body.get("reply", "")))
        self._json(200, {"queued": len(self.server.owner.scripted)})

    def _embed(self, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        if model not in self.server.owner.config.models:
            self._not_found(model)
            return
        inputs = body.get("input", [])
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs]
        dim = self.server.owner.config.embed_dim
        self._json(
            200,
            {
                "model": model,
                "embeddings": [embed_vector(text, dim) for text in texts],
                "total_duration": 1000,
                "load_duration": 10,
                "prompt_eval_count": sum(len(t.split()) for t in texts),
            },
        )

    # -- chat --------------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        stream = body.get("stream", True) is not False  # a missing "stream" means stream
        messages: list[dict[str, Any]] = body.get("messages") or []
        if model not in self.server.owner.config.models or model == "test-embed":
            self._not_found(model)
            return
        if model == "test-500" or (model == "test-midstream-error" and not stream):
            self._json(500, {"error": SERVER_ERROR})
            return
        steps = self._script_for(model, messages, body.get("tools") or [])
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        if stream:
            self._stream(model, steps, prompt_tokens)
        else:
            self._reply_once(model, steps, prompt_tokens)

    def _script_for(
        self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The message parts to send, in order; an "error" part ends the stream."""
        owner = self.server.owner
        user_texts = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        last_user = user_texts[-1] if user_texts else ""
        results = [str(m.get("content", "")) for m in messages if m.get("role") == "tool"]
        if model == "test-echo":
            return [{"content": piece} for piece in split_chunks(last_user)]
        if model == "test-scripted":
            reply = owner.scripted.popleft() if owner.scripted else "(no scripted reply)"
            return [{"content": piece} for piece in split_chunks(reply)]
        if model == "test-think":
            thinking = "The user wants an answer. I will think briefly first."
            return [{"thinking": piece} for piece in split_chunks(thinking)] + [
                {"content": piece} for piece in split_chunks("Thought it through: 42.")
            ]
        if model == "test-midstream-error":
            return [{"content": p} for p in split_chunks("This answer will be cut")] + [
                {"error": MIDSTREAM_ERROR}
            ]
        if model == "test-hangup":
            # The server process dies mid-answer: the connection ends with no closing line.
            return [{"content": p} for p in split_chunks("This answer was cut off")] + [
                {"hangup": True}
            ]
        if model == "test-slow":
            return [{"content": f"tok{i} "} for i in range(owner.config.slow_tokens)]
        if model == "test-stamped":
            return [{"stamp": f"s{i}"} for i in range(owner.config.slow_tokens)]
        if model == "test-rag":
            answer = _rag_answer(messages)
            offered = {t.get("function", {}).get("name") for t in tools}
            if answer is None and not results and "search_documents" in offered:
                call = {"name": "search_documents", "arguments": {"query": last_user}}
                return [{"tool_calls": [{"function": call}]}]
            answer = answer or "I found nothing about that in your documents."
            return [{"content": piece} for piece in split_chunks(answer)]
        wanted = 1 if model == "test-tool" else 2 if model == "test-two-tools" else 0
        if len(results) < wanted:
            name, arguments = owner.config.tool_steps[len(results)]
            offered = {t.get("function", {}).get("name"): t for t in tools}
            if offered and name not in offered:
                first = tools[0]
                name = first["function"]["name"]
                arguments = _derive_arguments(first, last_user)
            return [{"tool_calls": [{"function": {"name": name, "arguments": arguments}}]}]
        if wanted == 1:
            return [{"content": p} for p in split_chunks(f"The result is {results[-1]}.")]
        if wanted == 2:
            text = f"First result: {results[0]}. Second result: {results[1]}."
            return [{"content": p} for p in split_chunks(text)]
        return [{"content": piece} for piece in split_chunks(PLAIN_REPLY)]

    def _final(self, model: str, prompt_tokens: int, eval_count: int) -> dict[str, Any]:
        return {
            "model": model,
            "created_at": _now(),
            "done": True,
            "done_reason": "stop",
            "total_duration": 2_000_000 + eval_count * 1000,
            "load_duration": 1_000_000,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": 500_000,
            "eval_count": eval_count,
            "eval_duration": eval_count * 1000,
        }

    def _stream(self, model: str, steps: list[dict[str, Any]], prompt_tokens: int) -> None:
        owner = self.server.owner
        paced = model in ("test-slow", "test-stamped")
        interval = 1.0 / owner.config.tokens_per_second if paced else 0.0
        self._start_stream()
        started = time.monotonic()
        sent = 0
        for index, part in enumerate(steps):
            if paced:
                # Pace against a fixed schedule so per-line overheads do not accumulate.
                delay = started + index * interval - time.monotonic()
                if delay > 0 and owner.stopping.wait(delay):
                    return
            if "error" in part:
                self._line({"error": part["error"]})
                self._end_stream()
                return
            if "hangup" in part:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if "stamp" in part:
                # Stamped as it is written, so the reader's delay includes none of the pacing.
                part = {"content": f"{part['stamp']}@{time.time_ns() // 1000} "}
            message = {"role": "assistant", "content": "", **part}
            self._line({"model": model, "created_at": _now(), "message": message, "done": False})
            sent += 1
        final = self._final(model, prompt_tokens, sent)
        self._line({**final, "message": {"role": "assistant", "content": ""}})
        self._end_stream()

    def _reply_once(self, model: str, steps: list[dict[str, Any]], prompt_tokens: int) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        for part in steps:
            message["content"] += part.get("content", "")
            if "thinking" in part:
                message["thinking"] = message.get("thinking", "") + part["thinking"]
            if "tool_calls" in part:
                message["tool_calls"] = part["tool_calls"]
        self._json(200, {**self._final(model, prompt_tokens, len(steps)), "message": message})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many concurrent chats connect at once in tests and benchmarks

    def __init__(self, address: tuple[str, int], owner: OllamaTestServer) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Close kept-alive connections too, so a stopped server really stops answering."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class OllamaTestServer:
    """Start/stop wrapper; `start()` can be called again after `stop()` on the same port."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, config: ServerConfig | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.config = config or ServerConfig()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.scripted: deque[str] = deque()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script_reply(self, text: str) -> None:
        """Queue the exact reply of the next "test-scripted" chat."""
        self.scripted.append(text)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path == "/api/chat"]

    def start(self) -> str:
        """Listen (on a free port the first time) and return the base URL."""
        self.stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns promptly
            name=f"ollama-test-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def serve_until_signal(self) -> None:
        """Run in the foreground until SIGINT or SIGTERM."""
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        logger.info("ollama test server listening on %s", self.url)
        # Timed waits: Python runs signal handlers on the main thread only, and an untimed wait
        # can leave it asleep when the kernel hands the signal to another thread.
        while not done.wait(0.1):
            pass
        self.stop()

    def __enter__(self) -> OllamaTestServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Ollama-protocol test server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--tokens-per-second", type=float, default=200.0)
    parser.add_argument("--slow-tokens", type=int, default=50)
    parser.add_argument("--embed-dim", type=int, default=8)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = ServerConfig(
        tokens_per_second=args.tokens_per_second,
        slow_tokens=args.slow_tokens,
        embed_dim=args.embed_dim,
    )
    OllamaTestServer(args.host, args.port, config).serve_until_signal()


if __name__ == "__main__":
    main()
