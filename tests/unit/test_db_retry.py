"""A unit of work that SQLite refuses with "database is locked" is run again; others are not."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from youworker.db import LOCKED_RETRIES, retry_when_locked


def locked() -> OperationalError:
    return OperationalError("UPDATE ...", {}, sqlite3.OperationalError("database is locked"))


async def test_locked_work_is_retried_until_it_succeeds() -> None:
    calls = []

    async def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise locked()
        return "saved"

    assert await retry_when_locked(work) == "saved"
    assert len(calls) == 3


async def test_other_errors_and_endless_locks_pass_through() -> None:
    async def broken() -> None:
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    with pytest.raises(OperationalError, match="no such table"):
        await retry_when_locked(broken)

    attempts = []

    async def always_locked() -> None:
        attempts.append(1)
        raise locked()

    with pytest.raises(OperationalError, match="locked"):
        await retry_when_locked(always_locked)
    assert len(attempts) == LOCKED_RETRIES
