"""The Redis probe against the real server on this machine (skipped when absent)."""

from __future__ import annotations

import os
import socket

import pytest

from youworker.services import health
from youworker.settings import load_settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="Redis not reachable at 127.0.0.1:6379")
async def test_redis_probe_reports_ok_with_latency() -> None:
    probe = await health.probe_redis(load_settings(redis={"url": REDIS_URL}))
    assert probe.status == "ok" and probe.latency_ms is not None


async def test_unreachable_redis_is_reported_down() -> None:
    probe = await health.probe_redis(load_settings(redis={"url": "redis://127.0.0.1:9/0"}))
    assert probe.status == "down"
    assert "Error" in probe.detail


async def test_unset_redis_is_not_configured() -> None:
    probe = await health.probe_redis(load_settings())
    assert probe.status == "not_configured"
