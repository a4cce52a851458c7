"""How the analytics pages read the date inputs and show the numbers."""

from __future__ import annotations

from datetime import date

import pytest

from youworker.services.analytics import Dashboard, DayUsage, Usage
from youworker.services.errors import ValidationFailed
from youworker.state.admin_analytics import duration, parse_range, series_rows, summary_cards


def test_range_inputs_are_iso_dates() -> None:
    assert parse_range(" 2026-03-01", "2026-03-05 ") == (date(2026, 3, 1), date(2026, 3, 5))
    with pytest.raises(ValidationFailed) as bad_start:
        parse_range("", "2026-03-05")
    assert set(bad_start.value.fields) == {"start"}
    with pytest.raises(ValidationFailed) as bad_end:
        parse_range("2026-03-01", "03/05/2026")
    assert set(bad_end.value.fields) == {"end"}


@pytest.mark.parametrize(
    ("ms", "shown"), [(None, "—"), (0.0, "0 ms"), (999.4, "999 ms"), (1750.0, "1.75 s")]
)
def test_durations(ms: float | None, shown: str) -> None:
    assert duration(ms) == shown


def test_days_without_answers_are_gaps_not_zeros() -> None:
    busy = Usage(messages=3, prompt_tokens=10, completion_tokens=5, median_latency_ms=1200.0)
    board = Dashboard(
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        days=[DayUsage(date(2026, 3, 1), busy), DayUsage(date(2026, 3, 2), Usage())],
        totals=busy,
        tools=[],
    )
    rows = series_rows(board)
    assert [r["day"] for r in rows] == ["2026-03-01", "2026-03-02"]
    assert rows[0]["median_latency_ms"] == 1200.0 and rows[1]["median_latency_ms"] is None
    assert rows[1]["messages"] == 0
    cards = {c["key"]: c["value"] for c in summary_cards(board.totals)}
    assert cards["tokens"] == "15" and cards["latency"] == "1.20 s" and cards["ttft"] == "—"
