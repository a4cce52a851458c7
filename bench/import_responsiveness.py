"""Benchmark 5d: does chat stay responsive while the app indexes a whole manual?

Issue 18: the streaming benchmark's added first-token time (<= 50 ms over the model server's own)
must hold while a bulk import runs. The real app (`reflex run --env prod`, embedded vector store,
built-in embedder) serves one chat tab spoken to over Reflex's websocket; the model is the test
server's `test-stamped`. First-token times are taken idle, then while the app's ingest worker
embeds the PostgreSQL manual that `python -m youworker import` queued into it.

    .venv/bin/python -m bench.import_responsiveness [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import BenchResult, bench_main, median, ms, percentile
from bench.index_manual import MANUAL
from bench.launcher import REPO_ROOT, RESULTS_DIR, AppServer, LLMServer
from bench.sim_user import STAMPED_MODEL, SimUser
from bench.stream_browser import TTFT_ADDED_TARGET_MS, direct_ttft

RATE = 200.0
TOKENS = 20  # a short answer: what is measured is the wait for its first token
ANSWER_TIMEOUT_S = 120.0
PAUSE_S = 1.0  # between questions, as a person reads
# The model is a test server on this machine, so no embedder may be found there: the app must
# index with its built-in one, as a fresh install does.
APP_ENV = {
    "RATE_LIMIT__MESSAGES_PER_USER": "100000/minute",
    "LLM__EMBED_MODEL": "no-such-embed-model",
    "API__LOG_LEVEL": "INFO",
}

log = logging.getLogger("bench.import_responsiveness")


def _status_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT status, count(*) FROM documents GROUP BY status")
        return {str(status): int(count) for status, count in rows}


def _embedding_now(database: Path) -> bool:
    """Whether the worker still has manual pages to index (queued or in progress)."""
    counts = _status_counts(database)
    return sum(counts.get(s, 0) for s in ("queued", "parsing", "embedding")) > 0


async def _first_tokens(person: SimUser, runs: int, label: str) -> list[float]:
    firsts = []
    for index in range(runs):
        watch = await person.ask(f"{label} {index}", TOKENS, ANSWER_TIMEOUT_S)
        if watch.first_token_at is None or not watch.complete:
            raise RuntimeError(f"{label} {index}: the answer did not arrive whole")
        firsts.append(watch.first_token_at - watch.sent_at)
        await asyncio.sleep(PAUSE_S)  # a person's pause, not a synchronisation
    return firsts


def _start_import(app: AppServer, email: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "youworker", "import", str(MANUAL), "--user", email],
        cwd=REPO_ROOT,
        env=app.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _measure(app: AppServer, runs: int) -> tuple[list[float], list[float], dict[str, int]]:
    database = app.data_dir / "bench.db"
    person = SimUser(app.url, "reader")
    await person.sign_up()
    await person.open_chat(STAMPED_MODEL)
    try:
        await person.ask("warm-up", TOKENS, ANSWER_TIMEOUT_S)
        idle = await _first_tokens(person, runs, "idle")
        importer = _start_import(app, person.email)
        try:
            # The CLI queues page by page; the worker starts on the first ones at once.
            while not _embedding_now(database):
                if importer.poll() is not None:
                    raise RuntimeError(f"the import exited with {importer.returncode}")
                await asyncio.sleep(0.2)  # polling the database, bounded by the import
            busy: list[float] = []
            while len(busy) < runs:
                busy.extend(await _first_tokens(person, 1, "during import"))
                if not _embedding_now(database):
                    raise RuntimeError("the import finished before the measurements did")
            counts = _status_counts(database)
        finally:
            importer.terminate()
            importer.wait(timeout=30)
    finally:
        await person.close()
    return idle, busy, counts


def run(args: argparse.Namespace) -> list[BenchResult]:
    result = BenchResult("import_responsiveness", "5d. Chat while a whole manual is indexed")
    runs = 5 if args.quick else 20
    if not MANUAL.is_dir():
        result.error = f"{MANUAL} is missing: run `make manual` first"
        return [result]
    try:
        with LLMServer(RATE, TOKENS) as llm:
            direct = median(asyncio.run(direct_ttft(llm.url, runs)))
            with tempfile.TemporaryDirectory(prefix="yw-bench-import-") as tmp:
                app = AppServer(
                    Path(tmp),
                    llm.url,
                    STAMPED_MODEL,
                    keep_log=RESULTS_DIR / "import_responsiveness.log",
                    extra_env=APP_ENV,
                )
                with app:
                    idle, busy, counts = asyncio.run(_measure(app, runs))
    except Exception as exc:  # reported, never hidden: the report shows the error
        log.exception("import responsiveness benchmark failed")
        result.error = f"{type(exc).__name__}: {exc}"
        return [result]
    _report(result, direct, idle, busy, counts)
    return [result]


def _report(
    result: BenchResult,
    direct: float,
    idle: list[float],
    busy: list[float],
    counts: dict[str, int],
) -> None:
    added_idle = ms(median(idle) - direct)
    added_busy = ms(median(busy) - direct)
    target = f"<= {TTFT_ADDED_TARGET_MS:.0f} ms"
    result.add("Added first-token time, idle (median)", added_idle, "ms", target)
    result.add(
        "Added first-token time while indexing (median)",
        added_busy,
        "ms",
        target,
        added_busy <= TTFT_ADDED_TARGET_MS,
    )
    result.add("First token while indexing, p95", ms(percentile(busy, 95)), "ms")
    result.method = [
        "The real app (`reflex run --env prod`, SQLite, embedded vector store, built-in "
        "embedder) on this machine; one chat tab over Reflex's websocket (bench/sim_user.py); "
        f"the test server's `test-stamped` model answers {TOKENS} tokens at {RATE:g} tokens/s.",
        f"{len(idle)} questions idle, then {len(busy)} while the app's ingest worker embeds the "
        "PostgreSQL manual queued by `python -m youworker import` (checked before and after "
        "each question: pages were still waiting). A 1 s pause between questions.",
        "Added = the app's send -> first token in the tab, minus the test server's own first "
        f"token to a bare `ollama` client ({ms(direct):.1f} ms median).",
    ]
    result.details = [
        f"idle send -> first token: median {ms(median(idle)):.0f} ms, "
        f"p95 {ms(percentile(idle, 95)):.0f} ms",
        f"while indexing: median {ms(median(busy)):.0f} ms, p95 {ms(percentile(busy, 95)):.0f} ms",
        "document status when the last question was answered: "
        + ", ".join(f"{count} {status}" for status, count in sorted(counts.items())),
    ]


if __name__ == "__main__":
    bench_main(run, __doc__ or "")
