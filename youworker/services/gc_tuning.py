"""Garbage-collector settings for a long-running backend worker.

Everything loaded at start-up (modules, Reflex's pages and state classes, the settings, the
clients) lives as long as the process, yet every full collection walks all of it again: with a
hundred answers streaming that took 50-140 ms each, every few seconds, and no token moved
meanwhile. Frozen after start-up, those objects are left out, so a collection only looks at the
ones made since.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect once, then move every surviving object out of the collector's reach."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 10)
