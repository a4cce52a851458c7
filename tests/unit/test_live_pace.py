"""The pace of live-answer updates: 40 ms for a few followers, slower (bounded) for a crowd."""

from __future__ import annotations

import pytest

from youworker.services.live_pace import LivePace


def pace_with(followers: int) -> LivePace:
    pace = LivePace(base_s=0.04, crowd=25, max_s=0.1)
    for _ in range(followers):
        pace.join()
    return pace


def test_a_few_followers_get_an_update_every_40_ms() -> None:
    assert pace_with(25).interval() == pytest.approx(0.04)


def test_past_the_crowd_size_the_interval_grows_in_proportion_up_to_the_cap() -> None:
    assert pace_with(50).interval() == pytest.approx(0.08)
    assert pace_with(1050).interval() == pytest.approx(0.1)


def test_leaving_followers_bring_the_pace_back() -> None:
    pace = pace_with(100)
    for _ in range(100):
        pace.leave()
    assert pace.live == 0 and pace.interval() == pytest.approx(0.04)
    pace.leave()  # an extra leave never makes the count negative
    assert pace.live == 0
