"""How often a tab following a live answer gets an update, given how many stream on this worker.

One update per 40 ms is smooth and cheap for a few answers. Each update costs the worker a
state lock, a delta and a websocket frame, so with many answers streaming at once the same pace
would saturate the worker and every tab would fall behind. Past a crowd size, each follower's
interval grows in proportion (capped), which keeps the worker's update rate bounded while every
token still arrives well within a human's notice.
"""

from __future__ import annotations

# One browser update per 40 ms, however fast the model is (Open WebUI #8254).
FLUSH_SECONDS = 0.04
# Up to this many live followers per worker, each gets the full pace.
CROWD = 25
# The slowest pace, reached at CROWD * MAX_FLUSH_SECONDS / FLUSH_SECONDS followers.
MAX_FLUSH_SECONDS = 0.1


class LivePace:
    """Counts the followers pushing a live answer in this process and spaces their updates."""

    def __init__(
        self,
        base_s: float = FLUSH_SECONDS,
        crowd: int = CROWD,
        max_s: float = MAX_FLUSH_SECONDS,
    ) -> None:
        self._base_s = base_s
        self._crowd = crowd
        self._max_s = max_s
        self.live = 0

    def join(self) -> None:
        self.live += 1

    def leave(self) -> None:
        self.live = max(0, self.live - 1)

    def interval(self) -> float:
        """Seconds between two updates of one follower."""
        return min(self._max_s, self._base_s * max(1.0, self.live / self._crowd))


live_pace = LivePace()
