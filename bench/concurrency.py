"""Benchmark 2: 50 answers streaming at once in one backend process, through the service layer.

No browsers: the benchmark calls what the chat page's event handlers call. Each chat gets a user,
a conversation and a follower (one `wait_for_change` loop shaped like `ChatState.watch`, with its
40 ms flush pause), started before the answers so every follower is a tab already open on its
chat. Then all 50 `ChatRuns.start` calls go out at once against the test server in its own
process. Afterwards every saved answer and every follower's last text is compared with the exact
text the test server emitted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import (
    BenchResult,
    bench_main,
    median,
    ms,
    percentile,
    quiet_app_logs,
)
from bench.dbsetup import (
    Database,
    configure_app_env,
    postgres_database,
    postgres_unavailable_reason,
    sqlite_database,
)
from bench.launcher import RESULTS_DIR, LLMServer
from bench.profiling import PySpy, cprofile_summary, py_spy_executable, summarize_collapsed

if TYPE_CHECKING:
    from youworker.models import User
    from youworker.services.chat.runs import ChatRuns
    from youworker.services.llm.base import ChatChunk, ChatMessage, LLMBackend, ModelInfo, ToolSpec

MODEL = "test-slow"
CHATS = 50
TOKENS = 500
RATE = 200.0
FLUSH_SECONDS = 0.04  # ChatState.watch's pause between browser updates
RUN_TIMEOUT_S = 120.0
PROFILE_FOCUS = (
    "youworker.",
    "ollama.",
    "httpx",
    "httpcore",
    "sqlalchemy.",
    "aiosqlite.",
    "asyncpg",
    "pydantic",
    "cryptography",
)

log = logging.getLogger("bench.concurrency")


def expected_text(tokens: int) -> str:
    """Exactly what the test server's "test-slow" model streams."""
    return "".join(f"tok{i} " for i in range(tokens))


class TimedBackend:
    """The app's real backend, stamping when each content chunk reaches the app."""

    name = "ollama"

    def __init__(self, inner: LLMBackend, arrivals: dict[str, list[float]]) -> None:
        self.inner = inner
        self.arrivals = arrivals

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncIterator[ChatChunk]:
        stamps = self.arrivals.setdefault(messages[-1].content, [])
        async with aclosing(self.inner.stream_chat(model, messages, tools)) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                if chunk.content:
                    stamps.append(time.perf_counter())
                yield chunk

    async def list_models(self) -> list[ModelInfo]:
        return await self.inner.list_models()

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return await self.inner.embed(model, texts)


@dataclass
class Follower:
    """What one simulated tab saw: (time, tokens shown) at each update, and the last text."""

    seen: list[tuple[float, int]] = field(default_factory=list)
    final_text: str | None = None
    final_status: str = ""


async def follow(runs: ChatRuns, key: uuid.UUID, out: Follower) -> None:
    """ChatState.watch without Reflex: wait for a change, take the snapshot, pause 40 ms."""
    seen = runs.version(key)
    while True:
        version = await runs.wait_for_change(key, seen, 15.0)
        if version is None:
            continue
        seen = version
        snapshot = runs.snapshot(key)
        if snapshot is None:
            continue
        out.seen.append((time.perf_counter(), snapshot.text.count("tok")))
        if snapshot.finished:
            out.final_text, out.final_status = snapshot.text, snapshot.status
            return
        await asyncio.sleep(FLUSH_SECONDS)


async def bare_clients(url: str, chats: int) -> tuple[float, list[float]]:
    """Control: the same concurrent streams read by a bare `ollama` client, no app in between."""
    import ollama

    client = ollama.AsyncClient(host=url)

    async def one(index: int) -> list[float]:
        stamps: list[float] = []
        messages = [{"role": "user", "content": f"bench chat {index}"}]
        async for part in await client.chat(model=MODEL, messages=messages, stream=True):
            if part.message.content:
                stamps.append(time.perf_counter())
        return stamps

    try:
        began = time.perf_counter()
        streams = await asyncio.gather(*(one(i) for i in range(chats)))
        total = time.perf_counter() - began
    finally:
        await client.close()
    return total, [(len(s) - 1) / (s[-1] - s[0]) for s in streams]


@dataclass
class Outcome:
    database: Database
    chats: int
    tokens: int
    total_s: float
    start_calls_s: list[float]
    saved_exact: int
    followers_final: int
    app_ttft_s: list[float]
    chat_rates: list[float]
    lags_s: list[float]
    cpu_fraction: float
    problems: list[str]
    send_path: SendPath


@dataclass
class SendPath:
    """The service calls of one `ChatState.send` in an existing chat, alone (no concurrency)."""

    start_s: list[float] = field(default_factory=list)
    reload_s: list[float] = field(default_factory=list)
    start_statements: int = 0
    reload_statements: int = 0


async def _wait_finished(runs: ChatRuns, key: uuid.UUID, timeout_s: float = 30.0) -> str:
    """Wait until the conversation's answer has ended; returns its final status."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        snapshot = runs.snapshot(key)
        if snapshot is not None and snapshot.finished and not runs.is_running(key):
            return snapshot.status
        seen = await runs.wait_for_change(key, seen, 0.1) or seen
    raise RuntimeError("an answer did not finish in time")


async def _stop_check(attempts: int) -> tuple[int, list[float], bool]:
    """Stop answers right after a token: how many stops were lost (the answer ran to its end);
    and whether a stop in the same event-loop turn as the start leaves the run registered."""
    from youworker.db import session_scope
    from youworker.models import User
    from youworker.services import chat
    from youworker.services.runtime import get_chat_runs

    async with session_scope() as db:
        user = User(
            email=f"stop-{uuid.uuid4().hex[:8]}@example.com",
            display_name="Stop",
            password_hash="-",  # noqa: S106 - never signs in
        )
        db.add(user)
        await db.commit()
        keys = [
            (await chat.create_conversation(db, user, model=MODEL)).id for _ in range(attempts + 1)
        ]
    early = keys.pop()
    runs = get_chat_runs()
    lost, durations = 0, []
    for key in keys:
        await runs.start(user, key, "bench stop")
        seen = -1
        while not ((snapshot := runs.snapshot(key)) and snapshot.text):
            seen = await runs.wait_for_change(key, seen, 0.1) or seen
        began = time.perf_counter()
        await runs.stop(user, key)
        durations.append(time.perf_counter() - began)
        lost += await _wait_finished(runs, key) != "stopped"
    await runs.start(user, early, "bench early stop")
    await runs.stop(user, early)
    await asyncio.sleep(0.2)
    return lost, durations, runs.is_running(early)


async def _send_path(runs: ChatRuns, user: User, conversations: list[uuid.UUID]) -> SendPath:
    """Time `ChatRuns.start` and the reloads `_start` does after it; count their SQL statements."""
    from sqlalchemy import event

    from youworker import db as db_module
    from youworker.db import session_scope
    from youworker.services import chat

    statements = [0]

    def count(*_args: object) -> None:
        statements[0] += 1

    engine = db_module.get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    path = SendPath()
    try:
        for key in conversations:
            statements[0] = 0
            began = time.perf_counter()
            await runs.start(user, key, "bench send path")
            started = time.perf_counter()
            path.start_statements = statements[0]
            statements[0] = 0
            async with session_scope() as db:
                conversation = await chat.get_owned(db, user, key)
            async with session_scope() as db:
                await chat.list_messages(db, user, conversation.id, limit=50)
            async with session_scope() as db:
                await chat.list_conversations(db, user, limit=30)
            path.reload_s.append(time.perf_counter() - started)
            path.start_s.append(started - began)
            path.reload_statements = statements[0]
            await _wait_finished(runs, key)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return path


async def _warm_pool(connections: int = 10) -> None:
    """Open the connections a running app would already hold (the pool's steady size)."""
    from sqlalchemy import text

    from youworker.db import session_scope

    async def ping() -> None:
        async with session_scope() as db:
            await db.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)  # hold it, so the others need their own connection

    await asyncio.gather(*(ping() for _ in range(connections)))


async def _users_and_conversations(chats: int) -> list[tuple[User, uuid.UUID]]:
    from youworker.db import session_scope
    from youworker.models import User
    from youworker.services import chat

    pairs: list[tuple[User, uuid.UUID]] = []
    async with session_scope() as db:
        run_id = uuid.uuid4().hex[:8]
        # Created directly: 50 argon2 hashes would only slow the set-up, nobody signs in here.
        users = [
            User(
                email=f"bench-{run_id}-{i}@example.com",
                display_name=f"Bench {i}",
                password_hash="-",  # noqa: S106 - never signs in
            )
            for i in range(chats)
        ]
        db.add_all(users)
        await db.commit()
        for user in users:
            conversation = await chat.create_conversation(db, user, model=MODEL)
            pairs.append((user, conversation.id))
    return pairs


async def _measure(database: Database, chats: int, tokens: int) -> Outcome:
    from youworker import db as db_module
    from youworker.db import session_scope
    from youworker.services import chat
    from youworker.services.chat.runs import ChatRuns
    from youworker.services.llm.provider import get_provider_manager
    from youworker.services.runtime import get_tool_registry

    db_module.use_engine(db_module.create_engine_for(database.url))
    manager = get_provider_manager()
    try:
        await _warm_pool()
        pairs = await _users_and_conversations(chats)
        arrivals: dict[str, list[float]] = {}
        backend = TimedBackend(await manager.current_backend(), arrivals)
        if manager.status().active != "ollama":
            raise RuntimeError(f"the app did not pick the test server: {manager.status()}")

        async def resolve() -> tuple[LLMBackend, str]:
            return backend, MODEL

        runs = ChatRuns(resolve, get_tool_registry())
        # One user's 10 sends, one after the other, in chats that already have an answer
        # (short "test-plain" answers: only the send path is timed here).
        solo_user = pairs[0][0]
        async with session_scope() as db:
            solo = [
                (await chat.create_conversation(db, solo_user, model="test-plain")).id
                for _ in range(11)
            ]
        for key in solo:
            await runs.start(solo_user, key, "bench earlier message")
            await _wait_finished(runs, key)
        send_path = await _send_path(runs, solo_user, solo)
        send_path.start_s, send_path.reload_s = send_path.start_s[1:], send_path.reload_s[1:]
        followers = [Follower() for _ in pairs]
        watchers = [
            asyncio.create_task(follow(runs, key, out))
            for (_, key), out in zip(pairs, followers, strict=True)
        ]
        start_calls: list[float] = []
        start_times: dict[str, float] = {}

        async def start(index: int, user: User, key: uuid.UUID) -> None:
            prompt = f"bench chat {index}"
            began = start_times[prompt] = time.perf_counter()
            await runs.start(user, key, prompt)
            start_calls.append(time.perf_counter() - began)

        cpu_before, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(start(i, user, key) for i, (user, key) in enumerate(pairs)))
        await asyncio.wait_for(asyncio.gather(*watchers), RUN_TIMEOUT_S)
        total = time.perf_counter() - began
        cpu = (time.process_time() - cpu_before) / total

        expected = expected_text(tokens)
        problems: list[str] = []
        saved_exact = 0
        async with session_scope() as db:
            for index, (user, key) in enumerate(pairs):
                page = await chat.list_messages(db, user, key, limit=5)
                answer = page.messages[-1]
                if (
                    answer.role == "assistant"
                    and answer.status == "complete"
                    and (answer.content == expected)
                ):
                    saved_exact += 1
                else:
                    problems.append(
                        f"chat {index}: saved {answer.role}/{answer.status}, "
                        f"{len(answer.content)} of {len(expected)} characters"
                    )
        followers_final = sum(f.final_text == expected for f in followers)

        lags: list[float] = []
        ttfts: list[float] = []
        rates: list[float] = []
        for index, follower in enumerate(followers):
            stamps = arrivals.get(f"bench chat {index}", [])
            if len(stamps) < 2:
                problems.append(f"chat {index}: {len(stamps)} tokens reached the app")
                continue
            ttfts.append(stamps[0] - start_times[f"bench chat {index}"])
            rates.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
            shown = 0
            for when, count in follower.seen:
                # Each token's lag: from reaching the app to the first update that showed it.
                lags.extend(when - stamps[k] for k in range(shown, min(count, len(stamps))))
                shown = max(shown, count)
        return Outcome(
            database=database,
            chats=chats,
            tokens=tokens,
            total_s=total,
            start_calls_s=start_calls,
            saved_exact=saved_exact,
            followers_final=followers_final,
            app_ttft_s=ttfts,
            chat_rates=rates,
            lags_s=lags,
            cpu_fraction=cpu,
            problems=problems,
            send_path=send_path,
        )
    finally:
        await manager.stop()
        await db_module.dispose_engine()


def _report(result: BenchResult, outcome: Outcome) -> None:
    name = outcome.database.backend
    n = outcome.chats
    result.add(
        f"{name}: answers saved complete with exactly the emitted text",
        outcome.saved_exact,
        "",
        f"{n}",
        outcome.saved_exact == n,
    )
    result.add(
        f"{name}: followers that saw the final text",
        outcome.followers_final,
        "",
        f"{n}",
        outcome.followers_final == n,
    )
    ideal = outcome.tokens / RATE
    result.add(
        f"{name}: total time, all starts → last follower done (ideal ≈ {ideal:g} s)",
        outcome.total_s,
        "s",
    )
    aggregate = n * outcome.tokens / outcome.total_s
    result.add(
        f"{name}: aggregate tokens/s delivered (emission {n * RATE:,.0f}/s while all stream)",
        aggregate,
        "tokens/s",
    )
    result.add(
        f"{name}: slowest chat's rate at the app vs emission",
        min(outcome.chat_rates) / RATE * 100,
        "%",
    )
    result.add(f"{name}: follower lag per token, p95", ms(percentile(outcome.lags_s, 95)), "ms")
    result.add(f"{name}: follower lag per token, max", ms(max(outcome.lags_s)), "ms")
    result.details.append(
        f"{name}: `ChatRuns.start` ({n} at once) median "
        f"{ms(median(outcome.start_calls_s)):.0f} ms, max {ms(max(outcome.start_calls_s)):.0f} ms; "
        f"first token at the app after start median {ms(median(outcome.app_ttft_s)):.0f} ms, "
        f"max {ms(max(outcome.app_ttft_s)):.0f} ms; "
        f"follower lag median {ms(median(outcome.lags_s)):.1f} ms over {len(outcome.lags_s):,} "
        f"tokens; per-chat rate at the app median {median(outcome.chat_rates):.1f} tokens/s; "
        f"process CPU {outcome.cpu_fraction * 100:.0f} % of one core "
        f"(this process also runs the {n} followers)."
    )
    path = outcome.send_path
    result.details.append(
        f"{name}, one send alone (the service calls of `ChatState.send` in a chat with an "
        f"earlier answer, median of {len(path.start_s)}): `ChatRuns.start` "
        f"{ms(median(path.start_s)):.1f} ms ({path.start_statements} SQL statements), then "
        f"get_owned + latest messages + sidebar {ms(median(path.reload_s)):.1f} ms "
        f"({path.reload_statements} statements)."
    )
    for problem in outcome.problems[:10]:
        result.notes.append(f"{name}: {problem}")


STOP_ATTEMPTS = 20
STOP_TOKENS = 100


def _report_stop(result: BenchResult, database: Database, llm: LLMServer) -> None:
    """Stop right after a token, STOP_ATTEMPTS times (short answers, so a lost stop is cheap)."""
    from youworker import db as db_module

    async def check() -> tuple[int, list[float], bool]:
        db_module.use_engine(db_module.create_engine_for(database.url))
        try:
            return await _stop_check(STOP_ATTEMPTS)
        finally:
            await db_module.dispose_engine()

    llm.set_slow_tokens(STOP_TOKENS)
    try:
        lost, durations, early_stuck = asyncio.run(check())
    finally:
        llm.set_slow_tokens(TOKENS)
    result.add(
        f"Stop right after a token: stops lost (the answer ran to its end), of {STOP_ATTEMPTS}",
        lost,
        "",
    )
    result.details.append(
        f"Stop check ({STOP_TOKENS}-token answers, `ChatRuns.stop` called as soon as a token "
        f"was published): {lost} of {STOP_ATTEMPTS} stops were lost; `stop` returned after "
        f"median {ms(median(durations)):.0f} ms, max {ms(max(durations)):.0f} ms. A stop in "
        "the same event-loop turn as its start "
        + ("left the run registered (the conversation stays busy)." if early_stuck else "worked.")
    )
    if lost:
        result.notes.append(
            f"Stop is unreliable: {lost} of {STOP_ATTEMPTS} stops made right after a token "
            "were lost, and `ChatRuns.stop` then waited for the whole answer (in the app, the "
            "Stop event holds the tab's state lock meanwhile, so its live answer freezes). The "
            "likely cause: `agent._next_chunk` wraps `anext(stream)` in `asyncio.wait_for`, "
            "which on Python 3.11 returns the chunk and drops the cancellation when both "
            "happen at once (fixed in 3.12); `async with asyncio.timeout(...)` does not have "
            "this race."
        )
    if early_stuck:
        result.notes.append(
            "A stop made before the run's task first runs (start and stop in the same "
            "event-loop turn) leaves the run registered and the answer `streaming`: the task is "
            "cancelled before `_execute` enters its `try`, so `_finish` never runs and every "
            "later start in that conversation gets Conflict until the process restarts."
        )


def _passed(outcome: Outcome) -> bool:
    return outcome.saved_exact == outcome.chats and outcome.followers_final == outcome.chats


def _profile(database: Database, chats: int, outcome: Outcome) -> str:
    """Where the process's time goes during one more identical run (py-spy, else cProfile)."""
    why = (
        "a target was missed"
        if not _passed(outcome)
        else f"for reference: the process used {outcome.cpu_fraction:.0%} of one core"
    )
    output = RESULTS_DIR / "concurrency-profile.txt"
    if py_spy_executable() is not None:
        with PySpy(os.getpid(), output, subprocesses=False) as spy:
            began = time.monotonic()
            asyncio.run(_measure(database, chats, TOKENS))
            spy.window_s = time.monotonic() - began
        lines = summarize_collapsed(output, focus=PROFILE_FOCUS, window_s=spy.window_s)
        tool = f"py-spy; raw stacks in `bench/results/{output.name}`"
    else:
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(_measure(database, chats, TOKENS))
        profile.disable()
        lines = cprofile_summary(profile)
        tool = "cProfile, top by cumulative time"
    return f"{database.backend} profile of one more run ({why}; {tool}):\n" + "\n".join(lines)


def run(args: argparse.Namespace) -> list[BenchResult]:
    chats = 10 if args.quick else CHATS
    result = BenchResult("concurrency", f"2. {chats} concurrent streaming chats, one backend")
    result.method.extend(
        [
            f"In one Python process: {chats} users, each with a conversation, in a fresh migrated "
            "database; the test server (own process) streams "
            f"{TOKENS} tokens at {RATE:g} tokens/s per answer.",
            f"One follower per chat, shaped like `ChatState.watch`: `wait_for_change`, read the "
            f"snapshot, pause {FLUSH_SECONDS * 1000:.0f} ms; started before the answers.",
            "The database pool is warmed first with 10 concurrent queries (a running app holds "
            "its connections). "
            f"All {chats} `ChatRuns.start(user, conversation, text)` calls are made at once "
            "(`asyncio.gather`); the backend is the app's own `OllamaBackend` (chosen by its "
            "provider manager) wrapped to stamp when each token reaches the app.",
            "Follower lag of a token = first follower update that shows it minus its arrival at "
            f"the app (includes the {FLUSH_SECONDS * 1000:.0f} ms flush pause, as in a tab).",
            "Checks: every saved answer is `complete` and decrypts to exactly the emitted text; "
            "every follower's last snapshot is that text.",
            f"Control: the same {chats} streams read at once by a bare `ollama.AsyncClient` in "
            "this process (no app), to tell the test server's limits from the app's.",
        ]
    )
    reason = postgres_unavailable_reason()
    if reason is not None:
        result.notes.append(f"PostgreSQL variant skipped: {reason}.")
    with (
        tempfile.TemporaryDirectory(prefix="yw-bench-conc-") as tmp,
        LLMServer(RATE, TOKENS) as llm,
    ):
        configure_app_env(Path(tmp), llm.url, MODEL)
        quiet_app_logs()
        log.info("control: %d bare client streams", chats)
        bare_total, bare_rates = asyncio.run(bare_clients(llm.url, chats))
        result.add(
            f"Control, bare client: total time for the same {chats} streams", bare_total, "s"
        )
        result.add(
            "Control, bare client: slowest stream's rate vs emission",
            min(bare_rates) / RATE * 100,
            "%",
        )
        variants: list[contextlib.AbstractContextManager[Database]] = [
            sqlite_database(Path(tmp), "concurrency.db")
        ]
        if reason is None:
            variants.append(postgres_database("youworker_bench"))
        for index, variant in enumerate(variants):
            with variant as database:
                log.info("%s: %d chats x %d tokens", database.backend, chats, TOKENS)
                outcome = asyncio.run(_measure(database, chats, TOKENS))
                _report(result, outcome)
                if index == 0:
                    _report_stop(result, database, llm)
                if index == 0 or not _passed(outcome):
                    log.info("%s: profiling one more run", database.backend)
                    result.notes.append(_profile(database, chats, outcome))
    return [result]


def main() -> None:
    bench_main(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
