"""Soak: simulated users chat and upload for 10 minutes against the prod server.

    .venv/bin/python -m bench.soak [--minutes 10] [--users 20] [--quick]

The app runs as a newcomer's does (`reflex run --env prod`, SQLite, the embedded vector store and
embedder), with the test server as the model. Every user is a pair of simulated tabs (chat and
documents, bench/reflex_client.py) that sends a message, reads the streamed answer, pauses like
a person, and now and then uploads a document and waits until it is searchable. Afterwards the
database is checked: every message sent is saved with its complete answer, every upload ready.
The backend worker's memory is sampled throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import re
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BenchResult, bench_main, median, ms, percentile
from bench.dbsetup import configure_app_env
from bench.launcher import AppServer, LLMServer
from bench.memory import Memory, group_members
from bench.sim_user import STAMPED_MODEL, SimUser, sign_up_all

log = logging.getLogger("bench.soak")

RATE = 25.0
TOKENS = 100
THINK_SECONDS = (2.0, 8.0)
UPLOAD_SHARE = 0.15
SAMPLE_SECONDS = 5.0
MEMORY_GROWTH_TARGET = 0.05
ANSWER_TIMEOUT_S = 120.0
INGEST_TIMEOUT_S = 300.0
SIGN_UP_CONCURRENCY = 4
APP_ENV = {"RATE_LIMIT__REGISTER_PER_IP": "100000/hour"}
_LOGGED_ERROR = re.compile(r"\b(error|critical|exception)\b|Traceback", re.IGNORECASE)


@dataclass
class Tally:
    sent: int = 0
    answered_exact: int = 0
    uploads: int = 0
    ready: int = 0
    errors: list[str] = field(default_factory=list)
    delays_ms: list[float] = field(default_factory=list)
    per_user_sent: dict[str, int] = field(default_factory=dict)
    per_user_uploads: dict[str, int] = field(default_factory=dict)
    memory: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, worker RSS)


def run(args: argparse.Namespace) -> list[BenchResult]:
    minutes = 1.0 if args.quick else args.minutes
    users = 4 if args.quick else args.users
    result = BenchResult("soak", f"9. Soak: {users} users chatting and uploading, {minutes:g} min")
    result.method.extend(_method(users, minutes))
    data_root = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    configure_app_env(data_root / "client")
    started = time.monotonic()
    try:
        with LLMServer(RATE, TOKENS) as llm:
            data_dir = data_root / "app"
            data_dir.mkdir()
            with AppServer(data_dir, llm.url, STAMPED_MODEL, extra_env=APP_ENV) as app:
                tally = asyncio.run(_soak(app, users, minutes * 60, args.seed))
                log_errors = _logged_errors(app.log_path)
            lost = _check_database(data_dir / "bench.db", tally)
        _report(result, tally, lost, log_errors)
    except Exception as exc:  # reported in the doc, never hidden
        log.exception("soak failed")
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return [result]


async def _soak(app: AppServer, users: int, duration: float, seed: int) -> Tally:
    tally = Tally()
    people = [SimUser(app.url, f"soak{i}") for i in range(users)]
    await sign_up_all(people, SIGN_UP_CONCURRENCY, open_chat=True)
    log.info("%d users signed in; soaking for %.0f s", users, duration)
    deadline = time.monotonic() + duration
    sampler = asyncio.create_task(_sample_memory(app, tally, deadline))
    await asyncio.gather(
        *(_user_loop(p, _rng(seed + i), deadline, tally) for i, p in enumerate(people))
    )
    sampler.cancel()
    await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
    return tally


async def _user_loop(person: SimUser, rng: random.Random, deadline: float, tally: Tally) -> None:
    count = 0
    # Users start at different moments, as people do.
    await asyncio.sleep(rng.uniform(0, THINK_SECONDS[1]))
    while time.monotonic() < deadline:
        count += 1
        try:
            if rng.random() < UPLOAD_SHARE:
                tally.uploads += 1
                tally.per_user_uploads[person.email] = (
                    tally.per_user_uploads.get(person.email, 0) + 1
                )
                status = await person.upload(
                    f"notes-{count}.md", _document(rng, person.email, count), INGEST_TIMEOUT_S
                )
                if status == "ready":
                    tally.ready += 1
                else:
                    tally.errors.append(f"{person.email}: upload {count} ended {status}")
            else:
                tally.sent += 1
                tally.per_user_sent[person.email] = tally.per_user_sent.get(person.email, 0) + 1
                watch = await person.ask(f"question {count}", TOKENS, ANSWER_TIMEOUT_S)
                expected = [f"s{i}" for i in range(TOKENS)]
                saved = [t.partition("@")[0] for t in person.saved_text().split()]
                if watch.complete and saved == expected:
                    tally.answered_exact += 1
                else:
                    tally.errors.append(
                        f"{person.email}: answer {count} incomplete ({person.describe()})"
                    )
                tally.delays_ms.extend(ms(d) for d in watch.delays)
        except Exception as exc:  # counted: the soak reports every failure, it does not stop
            tally.errors.append(f"{person.email}: {type(exc).__name__}: {exc}")
            log.warning("user error: %s", tally.errors[-1])
        # A person reads the answer, then types the next question.
        await asyncio.sleep(rng.uniform(*THINK_SECONDS))


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - simulated users' choices, reproducible by seed


def _document(rng: random.Random, owner: str, count: int) -> bytes:
    words = ["budget", "roadmap", "release", "customer", "meeting", "invoice", "policy", "travel"]
    lines = [f"# Notes {count} of {owner}", ""]
    for paragraph in range(rng.randint(3, 12)):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(40, 120)))
        lines.extend([f"## Part {paragraph}", f"{body} ({owner} {count} {paragraph}).", ""])
    return "\n".join(lines).encode()


async def _sample_memory(app: AppServer, tally: Tally, deadline: float) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        workers = [m for m in group_members(app.pid()) if m.role == "worker"]
        rss = sum(Memory.read(m.pid).rss for m in workers)
        tally.memory.append((time.monotonic() - started, rss))
        await asyncio.sleep(SAMPLE_SECONDS)


def _check_database(path: Path, tally: Tally) -> int:
    """Messages sent but not saved with a complete answer (0 when nothing was lost)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT u.email, m.role, m.status, count(*) FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = c.owner_id "
            "GROUP BY u.email, m.role, m.status"
        ).fetchall()
        documents = dict(
            db.execute(
                "SELECT u.email, count(*) FROM documents d JOIN users u ON u.id = d.owner_id "
                "WHERE d.status = 'ready' GROUP BY u.email"
            ).fetchall()
        )
    saved: dict[tuple[str, str, str], int] = {(e, r, s): n for e, r, s, n in rows}
    lost = 0
    for email, sent in tally.per_user_sent.items():
        lost += max(0, sent - saved.get((email, "user", "complete"), 0))
        lost += max(0, sent - saved.get((email, "assistant", "complete"), 0))
    for email, uploads in tally.per_user_uploads.items():
        lost += max(0, uploads - int(documents.get(email, 0)))
    return lost


def _logged_errors(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line for line in lines if _LOGGED_ERROR.search(line)]


def _report(result: BenchResult, tally: Tally, lost: int, log_errors: list[str]) -> None:
    result.add("Errors seen by the simulated users", len(tally.errors), "", "0", not tally.errors)
    result.add("Errors in the app's log", len(log_errors), "", "0", not log_errors)
    result.add(
        "Messages or uploads lost (sent but not saved complete / not ready)",
        lost,
        "",
        "0",
        lost == 0,
    )
    minutes = _per_minute(tally.memory)
    half = len(minutes) // 2
    growth = minutes[-1] / minutes[half - 1] - 1 if half >= 2 else None
    result.add(
        f"Backend worker memory growth over the second half (minute {half} -> {len(minutes)}, "
        "median RSS)",
        None if growth is None else growth * 100,
        "%",
        f"<= +{MEMORY_GROWTH_TARGET:.0%} (flat)",
        None if growth is None else growth <= MEMORY_GROWTH_TARGET,
    )
    if len(minutes) >= 2:
        result.add(
            f"Backend worker memory growth, minute 1 -> {len(minutes)} (median RSS)",
            (minutes[-1] / minutes[0] - 1) * 100,
            "%",
        )
    result.add("Messages sent", tally.sent, "")
    result.add("Answers streamed complete and saved exactly", tally.answered_exact, "")
    result.add("Documents uploaded / ready", tally.uploads, "")
    result.add("Documents ready", tally.ready, "")
    result.add("Update delay per token, median", median(tally.delays_ms), "ms")
    result.add("Update delay per token, p95", percentile(tally.delays_ms, 95), "ms")
    if tally.memory:
        peak = max(rss for _, rss in tally.memory)
        result.details.append(
            f"Backend worker RSS: first sample {tally.memory[0][1] / 2**20:.0f} MiB, peak "
            f"{peak / 2**20:.0f} MiB, last {tally.memory[-1][1] / 2**20:.0f} MiB; per minute: "
            + ", ".join(f"{m / 2**20:.0f}" for m in _per_minute(tally.memory))
            + " MiB (median of each minute's samples)."
        )
    for line in (tally.errors + log_errors)[:8]:
        result.details.append(f"Error: {line[:300]}")


def _per_minute(samples: list[tuple[float, int]]) -> list[float]:
    minutes: dict[int, list[int]] = {}
    for at, rss in samples:
        minutes.setdefault(int(at // 60), []).append(rss)
    return [statistics.median(values) for _, values in sorted(minutes.items())]


def _method(users: int, minutes: float) -> list[str]:
    return [
        f"The prod app on the embedded default (SQLite, embedded vector store, built-in ONNX "
        f"embedder); the test server answers {TOKENS} stamped tokens at {RATE:g} tokens/s.",
        f"{users} simulated users (bench/reflex_client.py: the websocket protocol of a Chromium "
        "page, with the session cookie from the registration form), each with a chat tab and a "
        f"documents tab, for {minutes:g} minutes. Each turn: with probability "
        f"{UPLOAD_SHARE:.0%} upload a Markdown file (1-5 KB) through `/_upload` and wait until "
        "the page shows it ready, otherwise send a message and read the whole streamed answer; "
        f"then pause {THINK_SECONDS[0]:g}-{THINK_SECONDS[1]:g} s (a person reading and typing).",
        "Checks: every answer's tokens arrived in order and its saved text is exact; afterwards "
        "the database holds every sent message and its complete answer, and every upload ready; "
        "the app's log has no error. Memory: RSS of the backend worker every "
        f"{SAMPLE_SECONDS:g} s, median per minute; flat = the last minute within "
        f"{MEMORY_GROWTH_TARGET:.0%} of the middle one. The first minutes are not judged: the "
        "embedder loads on the first upload and the vector store and caches grow with the "
        "documents; a leak shows as growth that does not stop, which the second half measures.",
    ]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)


def main() -> None:
    bench_main(run, __doc__.splitlines()[0], _options)


if __name__ == "__main__":
    main()
