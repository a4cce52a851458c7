"""`make bench`: run each benchmark in its own process, then write docs/PERFORMANCE.md.

    .venv/bin/python -m bench
        [--only stream,concurrency,crowd,open,parse,retrieval,quality,index,chat_import,ingest,
         admin,memory,soak]
        [--quick] [--output PATH] [--replace]

A full run rewrites the report; with `--only` the chosen benchmarks' sections replace theirs in
the existing report and the other sections stay (`--replace` writes this run's alone).

Every benchmark runs as `python -m bench.<module> --out <json>` with a time limit. Its servers
and browsers are its own children; whatever still carries this run's marker in its environment
when the run ends is stopped by process id, so nothing outlives `make bench`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import BenchResult, configure_logging, process_table, system_busy_seconds
from bench.launcher import REPO_ROOT, RESULTS_DIR
from bench.machine import describe, load_average
from bench.report import RunInfo, render

MARKER = "YOUWORKER_BENCH_RUN"
TERM_GRACE_SECONDS = 60.0

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str
    title: str
    timeout_s: float


BENCHMARKS = (
    Benchmark("stream", "bench.stream_browser", "1. Streaming through the browser", 600.0),
    Benchmark("concurrency", "bench.concurrency", "2. Concurrent streaming chats", 300.0),
    Benchmark("crowd", "bench.crowd", "2c. 100 users streaming on one worker", 900.0),
    Benchmark("open", "bench.open_conversation", "3. Opening a long conversation", 300.0),
    Benchmark("parse", "bench.parse_chunk", "4. Parsing and chunking documents", 180.0),
    Benchmark("retrieval", "bench.retrieval", "5. Retrieval with the access filter", 600.0),
    # The first run embeds the whole manual (~10 min on 2 cores); later runs read the cache.
    Benchmark(
        "quality", "bench.retrieval_quality", "5b. Finding the right page of a real manual", 1800.0
    ),
    Benchmark("index", "bench.index_manual", "5c. Indexing a whole manual", 1200.0),
    Benchmark(
        "chat_import",
        "bench.import_responsiveness",
        "5d. Chat while a whole manual is indexed",
        900.0,
    ),
    Benchmark("ingest", "bench.ingest", "6. Ingestion throughput", 600.0),
    # Seeding its PostgreSQL database takes a few minutes the first time; later runs reuse it.
    Benchmark("admin", "bench.admin_pages", "7. Analytics dashboard and audit log", 1800.0),
    Benchmark("memory", "bench.memory", "8. Idle backend memory", 600.0),
    Benchmark("soak", "bench.soak", "9. Soak: 10 minutes of simulated users", 1500.0),
)


def _run_one(bench: Benchmark, quick: bool, env: dict[str, str]) -> list[BenchResult]:
    out = RESULTS_DIR / f"{bench.name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", bench.module, "--out", str(out)]
    if quick:
        command.append("--quick")
    log.info("%s: started (limit %.0f s)", bench.title, bench.timeout_s)
    sampler = CpuSampler(env[MARKER])
    sampler.start()
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=30)
    process = subprocess.Popen(  # noqa: S603 - our own modules
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            tail.append(line.rstrip())

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    error: str | None = None
    try:
        process.wait(timeout=bench.timeout_s)
    except subprocess.TimeoutExpired:
        error = f"timed out after {bench.timeout_s:.0f} s"
        log.error("%s: %s; stopping it", bench.title, error)
        _end_group(process)
    reader.join(timeout=5)
    elapsed = time.monotonic() - started
    busy_s, own_s = sampler.stop()
    busy, others = busy_s / elapsed, max(0.0, busy_s - own_s) / elapsed
    cores = os.cpu_count() or 1
    load = (
        f"While this benchmark ran ({elapsed:.0f} s), all processes on the machine used "
        f"{busy:.0%} of one core on average ({cores} cores = {cores * 100}%); about "
        f"{others:.0%} went to processes outside the benchmark."
    )
    if error is None and process.returncode != 0:
        error = f"exited with code {process.returncode}: " + " / ".join(list(tail)[-5:])
    if error is None:
        try:
            results = [BenchResult.from_json(item) for item in json.loads(out.read_text())]
        except (OSError, ValueError, TypeError) as exc:
            error = f"no readable results ({exc})"
        else:
            log.info("%s: done in %.0f s", bench.title, elapsed)
            for result in results:
                result.details.append(load)
            return results
    return [BenchResult(bench.name, bench.title, seconds=elapsed, error=error, details=[load])]


class CpuSampler:
    """CPU used by the whole machine and by this run's processes (marked by environment)."""

    def __init__(self, run_id: str, interval_s: float = 0.5) -> None:
        self._needle = f"{MARKER}={run_id}".encode()
        self._interval_s = interval_s
        self._ours: dict[int, bool] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._busy_start = 0.0

    def _is_ours(self, pid: int, table: dict[int, tuple[int, int, float]]) -> bool:
        """Marked, or a descendant of a marked process (Chromium's zygote children drop the
        environment)."""
        known = self._ours.get(pid)
        if known is None:
            try:
                known = self._needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                known = False
            parent = table[pid][0] if pid in table else 0
            if not known and parent > 1 and parent != pid:
                known = self._is_ours(parent, table)
            self._ours[pid] = known
        return known

    def _sample(self, initial: bool = False) -> None:
        table = process_table()
        for pid, (_, _, cpu) in table.items():
            if initial:
                self._first[pid] = cpu  # CPU used before the benchmark started is not counted
            elif self._is_ours(pid, table):
                self._first.setdefault(pid, 0.0)
                self._last[pid] = cpu

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def start(self) -> None:
        self._busy_start = system_busy_seconds()
        self._sample(initial=True)
        self._thread.start()

    def stop(self) -> tuple[float, float]:
        """(CPU seconds of the whole machine, of this run's processes) since start()."""
        self._stop.set()
        self._thread.join()
        self._sample()
        own = sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())
        return system_busy_seconds() - self._busy_start, own


def _end_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM first: the benchmark's cleanup stops its app, test server and browser."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=TERM_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _marked_processes(run_id: str) -> list[int]:
    """Processes whose environment carries this run's marker (our descendants), not us."""
    needle = f"{MARKER}={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _stop_leftovers(run_id: str) -> None:
    leftovers = _marked_processes(run_id)
    if not leftovers:
        return
    log.warning("stopping %d process(es) left by the benchmarks: %s", len(leftovers), leftovers)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (leftovers := _marked_processes(run_id)):
            time.sleep(0.2)
        if not leftovers:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the YouWorker benchmarks (issue 3).")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset of: " + ", ".join(b.name for b in BENCHMARKS),
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke test)")
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "docs" / "PERFORMANCE.md", help="report path"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="with --only: write this run's results alone instead of merging them in",
    )
    args = parser.parse_args(argv)
    configure_logging()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    chosen = [b for b in BENCHMARKS if not wanted or b.name in wanted]

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex
    env = {**os.environ, MARKER: run_id}
    started_at = datetime.now(UTC)
    started = time.monotonic()
    load_before = load_average()
    machine = describe()
    results: list[BenchResult] = []
    try:
        for bench in chosen:
            results.extend(_run_one(bench, args.quick, env))
    finally:
        _stop_leftovers(run_id)
    command = " ".join([".venv/bin/python -m bench", *(argv if argv is not None else sys.argv[1:])])
    if "MAKELEVEL" in os.environ:  # started by `make bench`
        command = f"make bench` → `{command}"
    info = RunInfo(
        command=command,
        started=started_at.strftime("%Y-%m-%d %H:%M UTC"),
        seconds=time.monotonic() - started,
        machine=machine,
        load_before=load_before,
        load_after=load_average(),
        quick=args.quick,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    merge = bool(wanted) and not args.replace and args.output.exists()
    previous = args.output.read_text() if merge else None
    args.output.write_text(render(results, info, previous))
    (RESULTS_DIR / "results.json").write_text(
        json.dumps({"run": asdict(info), "results": [asdict(r) for r in results]}, indent=2)
    )
    _summary(results, args.output, info.seconds)
    return 1 if any(r.error for r in results) else 0


def _summary(results: list[BenchResult], output: Path, seconds: float) -> None:
    """One line per targeted figure on stdout, then where the report went."""
    rows = [
        (f.verdict, r.title, f.label, f.shown(), f.target)
        for r in results
        for f in r.figures
        if f.passed is not None
    ]
    rows += [("ERROR", r.title, r.error or "", "", "") for r in results if r.error]
    for verdict, title, label, value, target in rows:
        sys.stdout.write(f"{verdict:5}  {title} | {label}: {value} (target {target})\n")
    sys.stdout.write(f"wrote {output} in {seconds:.0f} s\n")


if __name__ == "__main__":
    sys.exit(main())
