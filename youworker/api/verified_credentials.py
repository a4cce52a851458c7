"""Credentials this process verified lately, so the REST rate limit may count them on their own.

Until a credential has been verified, a request counts against its client address: a made-up
token is no fresh budget. The principal dependency (api/principal.py) remembers a credential once
the database accepted it; the rate-limit middleware, which has no database, asks here. Only
SHA-256 digests are kept, for a few minutes, and at most `max_entries` of them.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

TTL_SECONDS = 300.0
MAX_ENTRIES = 10_000


def _digest(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


class VerifiedCredentials:
    def __init__(
        self,
        ttl_seconds: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def remember(self, credential: str) -> None:
        if not credential:
            return
        key = _digest(credential)
        self._seen[key] = self.clock() + self.ttl_seconds
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def knows(self, credential: str) -> bool:
        key = _digest(credential)
        expires = self._seen.get(key)
        if expires is None:
            return False
        if expires <= self.clock():
            del self._seen[key]
            return False
        return True

    def forget_all(self) -> None:
        self._seen.clear()


verified_credentials = VerifiedCredentials()
