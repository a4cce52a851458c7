"""Result records shared by every benchmark, their JSON form and small statistics helpers."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any


@dataclass
class Figure:
    """One measured number; `passed` is None for figures recorded without a target."""

    label: str
    value: float | None
    unit: str
    target: str = ""
    passed: bool | None = None

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "%":
            return f"{self.value:.1f} %"
        if self.unit == "" and float(self.value).is_integer():
            return f"{int(self.value):,}"
        magnitude = abs(self.value)
        digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
        return f"{self.value:,.{digits}f} {self.unit}".rstrip()

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else "PASS" if self.passed else "MISS"


@dataclass
class BenchResult:
    """What one benchmark reports: figures for the summary, details and notes for its section."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    method: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def add(
        self,
        label: str,
        value: float | None,
        unit: str,
        target: str = "",
        passed: bool | None = None,
    ) -> Figure:
        figure = Figure(label, value, unit, target, passed)
        self.figures.append(figure)
        return figure

    @property
    def missed(self) -> bool:
        return self.error is not None or any(f.passed is False for f in self.figures)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        figures = [Figure(**f) for f in data.pop("figures", [])]
        return cls(figures=figures, **data)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def ms(seconds: float) -> float:
    return seconds * 1000.0


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "alembic", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def quiet_app_logs() -> None:
    """The app's structlog events (one per chat start/end) are not benchmark output."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def process_table() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, pgrp, user+system CPU seconds) for every live process (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # After "(command)": state ppid pgrp session ... utime(index 11) stime(index 12).
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), cpu)
    return table


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds used so far by the live processes of one process group."""
    return sum(cpu for _, group, cpu in process_table().values() if group == pgid)


def tree_cpu_seconds(root: int, exclude: set[int]) -> float:
    """CPU seconds used so far by `root` and its live descendants, minus `exclude` subtrees."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in exclude or pid not in table:
            continue
        total += table[pid][2]
        todo.extend(children.get(pid, []))
    return total


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # user..steal, without idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def bench_main(
    run: Callable[[argparse.Namespace], list[BenchResult]],
    doc: str,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """Command line of one benchmark module: `--out results.json` (stdout when omitted).

    `options` may add the module's own arguments (the runner never passes them)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    if options is not None:
        options(parser)
    args = parser.parse_args()
    configure_logging()
    # SIGTERM (the runner's time limit) unwinds like Ctrl-C, so servers and browsers get stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    results = run(args)
    for result in results:
        if not result.seconds:
            result.seconds = time.monotonic() - started
    payload = json.dumps([asdict(r) for r in results], indent=2)
    if args.out:
        args.out.write_text(payload)
    else:
        sys.stdout.write(payload + "\n")
