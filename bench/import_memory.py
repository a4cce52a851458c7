"""Resident memory attributed to each package the app imports, as the backend's launcher does.

    python -m bench.import_memory [--modules reflex.reflex,youworker.youworker]

Prints one JSON object: the RSS before and after importing `--modules` in order, the RSS each
top-level package added by its own module bodies (a package that imports another is not charged
for it, so the shares add up to the total), the import time per package from the same hook, the
module that first imported each package, and which heavy optional packages are in `sys.modules`.

The hook wraps `importlib._bootstrap._find_and_load`, the function the interpreter calls for
every import that is not already in `sys.modules`, and reads /proc/self/statm around it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Packages whose presence in an idle backend the memory benchmark reports.
HEAVY = (
    "llama_cpp",
    "onnxruntime",
    "qdrant_edge",
    "qdrant_client",
    "tokenizers",
    "numpy",
    "pypdf",
    "docx",
    "openpyxl",
    "pptx",
    "lxml",
    "ollama",
    "mcp",
)
_PAGE = os.sysconf("SC_PAGE_SIZE")
_STATM = Path("/proc/self/statm")


def rss_bytes() -> int:
    return int(_STATM.read_text().split()[1]) * _PAGE


class ImportMeter:
    """Self RSS and time per top-level package, measured around every first import."""

    def __init__(self) -> None:
        self.rss: defaultdict[str, int] = defaultdict(int)
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.importer: dict[str, str] = {}  # package -> the module whose import pulled it in
        self._stack: list[list[float]] = []  # [children's RSS, children's seconds] per level
        self._names: list[str] = []
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        bootstrap: Any = sys.modules["_frozen_importlib"]
        original = self._original = bootstrap._find_and_load

        def measured(name: str, import_: Callable[..., Any]) -> Any:
            top = name.partition(".")[0]
            if self._names and top not in self.importer and top not in sys.modules:
                self.importer[top] = self._names[-1]
            rss0, t0 = rss_bytes(), time.perf_counter()
            self._stack.append([0.0, 0.0])
            self._names.append(name)
            try:
                return original(name, import_)
            finally:
                child_rss, child_s = self._stack.pop()
                self._names.pop()
                rss, seconds = rss_bytes() - rss0, time.perf_counter() - t0
                self.rss[top] += int(rss - child_rss)
                self.seconds[top] += seconds - child_s
                if self._stack:
                    self._stack[-1][0] += rss
                    self._stack[-1][1] += seconds

        bootstrap._find_and_load = measured

    def uninstall(self) -> None:
        if self._original is not None:
            sys.modules["_frozen_importlib"]._find_and_load = self._original  # type: ignore[attr-defined]


def profile(modules: list[str]) -> dict[str, Any]:
    meter = ImportMeter()
    start = rss_bytes()
    meter.install()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        meter.uninstall()
    return {
        "imported": modules,
        "rss_start": start,
        "rss_end": rss_bytes(),
        "modules": len(sys.modules),
        "package_rss": dict(sorted(meter.rss.items(), key=lambda kv: -kv[1])),
        "package_seconds": dict(meter.seconds),
        "importer": meter.importer,
        "heavy_loaded": [name for name in HEAVY if name in sys.modules],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modules",
        default="reflex.reflex,youworker.youworker",
        help="comma-separated modules to import, in order (default: the launcher's CLI, the app)",
    )
    args = parser.parse_args(argv)
    modules = [name for name in args.modules.split(",") if name]
    sys.stdout.write(json.dumps(profile(modules)) + "\n")


if __name__ == "__main__":
    main()
