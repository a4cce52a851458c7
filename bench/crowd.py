"""100 users streaming at once on one backend worker, through the app's websocket protocol.

    .venv/bin/python -m bench.crowd [--users 100] [--rate 25] [--tokens 250] [--quick]

Every user is a simulated browser tab (bench/reflex_client.py) in this process: it signs up
through the registration form, opens /chat and sends one message at the same moment as all the
others. The test server streams each answer as stamped tokens; the delay of a token is the time
its tab held it minus the time the test server wrote it. Run on the embedded default (SQLite)
and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import (
    BenchResult,
    bench_main,
    group_cpu_seconds,
    median,
    ms,
    percentile,
    system_busy_seconds,
)
from bench.dbsetup import (
    Database,
    configure_app_env,
    postgres_database,
    postgres_unavailable_reason,
)
from bench.launcher import RESULTS_DIR, AppServer, LLMServer
from bench.profiling import PySpy, py_spy_executable, summarize_collapsed
from bench.sim_user import STAMPED_MODEL, AnswerWatch, SimUser, sign_up_all

log = logging.getLogger("bench.crowd")

DELAY_TARGET_MS = 150.0
# People do not press Enter in the same millisecond: the sends are spread evenly over this
# window, far shorter than an answer, so all the answers still stream at the same time.
SEND_SPREAD_S = 2.0
SIGN_UP_CONCURRENCY = 8
ANSWER_TIMEOUT_S = 300.0
# Ollama's own limits make 100 answers at once on one host unusual; the rate is one a local 7-8B
# model reaches on a workstation GPU, and the test server keeps every stream at it.
APP_ENV = {
    "RATE_LIMIT__REGISTER_PER_IP": "100000/hour",
    "DATABASE__POOL_SIZE": "20",
    "DATABASE__MAX_OVERFLOW": "20",
}


def run(args: argparse.Namespace) -> list[BenchResult]:
    users = 10 if args.quick else args.users
    result = BenchResult(
        "crowd", f"2c. {users} users streaming at once on one backend worker (simulated tabs)"
    )
    result.method.extend(_method(users, args.rate, args.tokens))
    data_root = Path(tempfile.mkdtemp(prefix="bench-crowd-"))
    configure_app_env(data_root / "client")
    started = time.monotonic()
    try:
        with LLMServer(args.rate, args.tokens) as llm:
            for database in _databases(args.databases):
                _one_backend(result, database, llm, users, args, data_root)
    except Exception as exc:  # reported in the doc, never hidden
        log.exception("crowd benchmark failed")
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return [result]


def _databases(chosen: str) -> Iterator[Database]:
    if "sqlite" in chosen:
        yield Database("SQLite", "")  # the launcher's default: a file in the app's data dir
    if "postgres" not in chosen:
        return
    reason = postgres_unavailable_reason()
    if reason is not None:
        log.warning("PostgreSQL skipped: %s", reason)
        return
    with postgres_database("bench_crowd") as database:
        yield database


def _one_backend(
    result: BenchResult,
    database: Database,
    llm: LLMServer,
    users: int,
    args: argparse.Namespace,
    data_root: Path,
) -> None:
    data_dir = data_root / database.backend.lower()
    data_dir.mkdir(parents=True)
    env = dict(APP_ENV)
    if database.url:
        env["DATABASE__URL"] = database.url
    with AppServer(data_dir, llm.url, STAMPED_MODEL, extra_env=env) as app:
        outcome = asyncio.run(_crowd(app, llm, users, args.tokens))
    _report(result, database.backend, outcome, users, args.tokens)


class Outcome:
    def __init__(self) -> None:
        self.watches: list[AnswerWatch] = []
        self.exact = 0
        self.errors: list[str] = []
        self.sign_up_s = 0.0
        self.open_s = 0.0
        self.stream_s = 0.0
        self.send_to_first: list[float] = []
        self.cpu: dict[str, float] = {}
        self.updates_per_tab: list[int] = []
        self.profile: list[str] = []


async def _crowd(app: AppServer, llm: LLMServer, users: int, tokens: int) -> Outcome:
    outcome = Outcome()
    people = [SimUser(app.url, f"crowd{i}") for i in range(users)]
    clock = time.monotonic()
    await sign_up_all(people, SIGN_UP_CONCURRENCY)
    outcome.sign_up_s = time.monotonic() - clock
    clock = time.monotonic()
    await asyncio.gather(*(p.open_chat() for p in people))
    outcome.open_s = time.monotonic() - clock
    log.info("%d tabs open; all send now", users)

    cpu_start = (time.monotonic(), group_cpu_seconds(app.pid()), _own_cpu(), system_busy_seconds())
    llm_start = group_cpu_seconds(llm.pid())
    clock = time.monotonic()

    async def ask(index: int, person: SimUser) -> AnswerWatch:
        await asyncio.sleep(SEND_SPREAD_S * index / users)
        return await person.ask(f"question {index}", tokens, ANSWER_TIMEOUT_S)

    answers = await asyncio.gather(
        *(ask(i, p) for i, p in enumerate(people)), return_exceptions=True
    )
    outcome.stream_s = time.monotonic() - clock
    wall = time.monotonic() - cpu_start[0]
    app_cpu = group_cpu_seconds(app.pid()) - cpu_start[1]
    own_cpu = _own_cpu() - cpu_start[2]
    llm_cpu = group_cpu_seconds(llm.pid()) - llm_start
    busy = system_busy_seconds() - cpu_start[3]
    outcome.cpu = {
        "app": app_cpu / wall,
        "tabs": own_cpu / wall,
        "llm": llm_cpu / wall,
        "other": max(0.0, busy - app_cpu - own_cpu - llm_cpu) / wall,
    }
    expected = " ".join(f"s{i}@" for i in range(tokens))
    for person, answer in zip(people, answers, strict=True):
        if isinstance(answer, BaseException):
            outcome.errors.append(f"{person.email}: {type(answer).__name__}: {answer}")
            continue
        outcome.watches.append(answer)
        saved = " ".join(t.partition("@")[0] + "@" for t in person.saved_text().split())
        if saved == expected and answer.complete:
            outcome.exact += 1
        elif answer.disorder:
            outcome.errors.append(f"{person.email}: {answer.disorder}")
        if answer.first_token_at is not None:
            outcome.send_to_first.append(answer.first_token_at - answer.sent_at)
        if person.tab is not None:
            outcome.updates_per_tab.append(person.tab.updates)
    delays = [ms(d) for w in outcome.watches for d in w.delays]
    if not delays or percentile(delays, 95) > DELAY_TARGET_MS:
        outcome.profile = await _profile_round(app, people, tokens)
    await asyncio.gather(*(p.close() for p in people), return_exceptions=True)
    return outcome


async def _profile_round(app: AppServer, people: list[SimUser], tokens: int) -> list[str]:
    """The same burst again (a second message each) under py-spy, for the report."""
    if py_spy_executable() is None:
        return ["py-spy is not installed, so no profile (`make bench` installs it)."]
    raw = RESULTS_DIR / "crowd-profile.txt"
    clock = time.monotonic()
    with PySpy(app.pid(), raw):
        await asyncio.gather(
            *(p.ask("again", tokens, ANSWER_TIMEOUT_S) for p in people), return_exceptions=True
        )
    window = time.monotonic() - clock
    return summarize_collapsed(raw, top=25, window_s=window)


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _report(result: BenchResult, backend: str, outcome: Outcome, users: int, tokens: int) -> None:
    delays = [ms(d) for w in outcome.watches for d in w.delays]
    delivered = sum(w.seen for w in outcome.watches)
    result.add(
        f"{backend}: answers delivered complete, in order and saved exactly ({users} users)",
        outcome.exact,
        "",
        str(users),
        outcome.exact == users,
    )
    p95 = percentile(delays, 95)
    result.add(
        f"{backend}: update delay per token (test server wrote it -> tab held it), p95",
        p95,
        "ms",
        f"<= {DELAY_TARGET_MS:.0f} ms",
        bool(delays) and p95 <= DELAY_TARGET_MS,
    )
    result.add(f"{backend}: tokens seen by the tabs", delivered, "", str(users * tokens))
    result.add(f"{backend}: update delay, median", median(delays), "ms")
    result.add(f"{backend}: update delay, max", max(delays, default=float("nan")), "ms")
    result.add(
        f"{backend}: send -> first token in the tab, p95",
        ms(percentile(outcome.send_to_first, 95)),
        "ms",
    )
    by_second = _p95_by_second(outcome.watches)
    if by_second:
        result.details.append(
            f"{backend}: update delay p95 by second since the first token (ms): "
            + ", ".join(f"{ms_:.0f}" for ms_ in by_second)
            + f" (the sends arrive over the first {SEND_SPREAD_S:g} s; the answers end "
            f"{SEND_SPREAD_S:g} s apart too)."
        )
    cpu = outcome.cpu
    result.details.append(
        f"{backend}: sign-up of {users} users (form + hand-off, {SIGN_UP_CONCURRENCY} at a time) "
        f"{outcome.sign_up_s:.1f} s; {users} chat tabs opened at once in {outcome.open_s:.1f} s; "
        f"all answers sent -> all saved answers back {outcome.stream_s:.1f} s; updates per tab "
        f"median {median(outcome.updates_per_tab):.0f}. CPU in % of one core while streaming "
        f"(the machine has {os.cpu_count()}): app {cpu.get('app', 0):.0%}, the simulated tabs "
        f"(this process) {cpu.get('tabs', 0):.0%}, test server {cpu.get('llm', 0):.0%}, other "
        f"processes {cpu.get('other', 0):.0%}."
    )
    if outcome.profile:
        result.notes.append(
            f"{backend} profile of the app during a second burst (py-spy `--gil`; raw stacks in "
            "`bench/results/crowd-profile.txt`):\n" + "\n".join(outcome.profile)
        )
    if outcome.errors:
        result.details.append(f"{backend}: errors: " + "; ".join(outcome.errors[:5]))


def _p95_by_second(watches: list[AnswerWatch]) -> list[float]:
    """Where in the run the slow tokens were: p95 delay of the tokens written in each second."""
    stamped = [(s, d) for w in watches for s, d in zip(w.stamps, w.delays, strict=True)]
    if not stamped:
        return []
    start = min(s for s, _ in stamped)
    seconds: dict[int, list[float]] = {}
    for stamp, delay in stamped:
        seconds.setdefault(int(stamp - start), []).append(ms(delay))
    return [percentile(seconds[k], 95) for k in sorted(seconds)]


def _method(users: int, rate: float, tokens: int) -> list[str]:
    return [
        "The prod app (`reflex run --env prod`, one backend worker) with the test server streaming "
        f"{tokens} tokens per answer at {rate:g} tokens/s (a local 7-8B model's pace on a "
        f"workstation GPU): {users} answers at once is {users * rate:,.0f} tokens/s into one "
        "worker.",
        f"{users} simulated tabs in one Python process (bench/reflex_client.py): python-socketio "
        "speaking the protocol a Chromium page speaks (recorded from one), with the HttpOnly "
        "session cookie from the real registration form and hand-off. Each opens /chat; then "
        f"each sends one message, the sends spread evenly over {SEND_SPREAD_S:g} s, so that all "
        "the answers stream at once.",
        "Each token is `s<index>@<µs>`, stamped by the test server as it writes the line. Delay "
        "of a token = when its tab first held it (live answer text, or the saved message) minus "
        "that stamp: the app's model client, the answer's run, the tab's follower with its "
        "batching (one update per 40 ms, spaced out up to 100 ms when more than 25 answers "
        "stream on the worker: youworker/services/live_pace.py), Reflex's state delta, the "
        "websocket and this process's parsing.",
        "Delivered = every tab saw s0..sN in order and its thread's saved answer is exactly "
        "those tokens, status complete. Both targets are judged on the embedded SQLite default "
        "and on PostgreSQL.",
    ]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rate", type=float, default=25.0, help="tokens/s per answer")
    parser.add_argument("--tokens", type=int, default=250, help="tokens per answer")
    parser.add_argument("--databases", default="sqlite,postgres")


def main() -> None:
    bench_main(run, __doc__.splitlines()[0], _options)


if __name__ == "__main__":
    main()
