"""Profiles for the report when a target is missed: py-spy for the app process, cProfile in-process.

py-spy (`pip install py-spy`, which `make bench` does) samples another process without changing it;
it is optional: without it the report says so and keeps the browser-side timeline.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Self

# "function (path/to/module.py:123)" as py-spy writes frames in its raw (collapsed) format.
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^():]+)(?::\d+)?\)$")
_SITE = re.compile(r".*/(site-packages|lib/python3\.\d+)/")
REPO_ROOT = Path(__file__).resolve().parents[1]


def py_spy_executable() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    if os.access(local, os.X_OK):
        return str(local)
    return shutil.which("py-spy")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = _SITE.sub("", match["file"].removeprefix(f"{REPO_ROOT}/"))
    return f"{path.removesuffix('.py').replace('/', '.')}:{match['func']}"


class PySpy:
    """`py-spy record` of a process and its children while the `with` block runs."""

    def __init__(self, pid: int, output: Path, rate: int = 200, subprocesses: bool = True) -> None:
        self.pid = pid
        self.subprocesses = subprocesses
        self.output = output
        self.rate = rate
        self.window_s = 0.0  # the caller may narrow the window the summary divides by
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        executable = py_spy_executable()
        if executable is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self._process = subprocess.Popen(  # noqa: S603 - py-spy on our own child process
            [
                executable,
                "record",
                "--pid",
                str(self.pid),
                *(["--subprocesses"] if self.subprocesses else []),
                "--gil",  # what holds the interpreter lock: the limit of one Python process
                "--nonblocking",
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def summarize_collapsed(
    path: Path,
    top: int = 12,
    focus: tuple[str, ...] = (),
    window_s: float = 0.0,
    rate: int = 200,
) -> list[str]:
    """Top functions by inclusive share of the samples, as report lines.

    Frames present in more than half of the samples (the server's start-up trunk) are left
    out; `focus` keeps only frames whose module starts with one of its prefixes.
    """
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(f) for f in stack.split(";")]
            # The first frame is "process N:..." / "thread ..." with --subprocesses; skip those.
            frames = [f for f in frames if ":" in f and not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += count
            for name in set(frames):
                inclusive[name] += count
            leaf[frames[-1]] += count
    if total == 0:
        return ["py-spy recorded no samples."]
    lines = [f"{total} samples of threads holding the GIL"]
    if window_s > 0:
        busy = total / (rate * window_s)
        lines[0] += f" (≈ {busy:.0%} of one core over the {window_s:.0f} s profiled)"
    lines[0] += "; share by function, inclusive:"
    chosen = [
        (name, n)
        for name, n in inclusive.most_common()
        if n <= total / 2 and (not focus or any(name.startswith(prefix) for prefix in focus))
    ][:top]
    lines.extend(f"  {n / total:6.1%} incl.  {name}" for name, n in chosen)
    lines.append("Hottest leaf functions (self time):")
    lines.extend(f"  {n / total:6.1%} self   {name}" for name, n in leaf.most_common(8))
    return lines


def cprofile_summary(profile: cProfile.Profile, top: int = 15) -> list[str]:
    """The `top` functions by cumulative time, as report lines."""
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer)
    stats.strip_dirs().sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    text = buffer.getvalue().strip().splitlines()
    start = next((i for i, line in enumerate(text) if line.lstrip().startswith("ncalls")), 0)
    return text[start:]
