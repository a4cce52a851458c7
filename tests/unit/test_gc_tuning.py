"""After start-up the backend's long-lived objects are out of the collector's way."""

from __future__ import annotations

import gc

from youworker.services.gc_tuning import freeze_startup_objects


def test_startup_objects_are_frozen_and_collections_are_rarer() -> None:
    threshold = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default (another test may have started a runtime)
    gc.unfreeze()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 1000  # this test process's modules, at least
        assert gc.get_threshold()[0] > 700
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
