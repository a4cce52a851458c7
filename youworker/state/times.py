"""Times as the state sends them: ISO 8601 in UTC; pages show them in the browser's time zone
(components/local_time.py), so nobody reads a server's UTC clock."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """A stored time (naive means UTC) for the browser to show in its own time zone."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_or_empty(moment: datetime | None) -> str:
    """iso_utc(), or "" when there is no time (the page says "never")."""
    return "" if moment is None else iso_utc(moment)
