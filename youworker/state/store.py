"""Where Reflex keeps every tab's state, chosen on purpose (rxconfig.py picks the mode).

- One process (no `REDIS__URL`): in memory. Nothing is written anywhere; a restart forgets the
  tabs (pages load their data again). Reflex's default, pickles under `.states/`, is never used.
- Several workers (`REDIS__URL`): Reflex's Redis manager, with every stored state sealed:
  Fernet-encrypted and authenticated with a key derived from
  `SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET`. A tab's state holds what its pages show (decrypted
  messages, the cookie of its last websocket, lists of sessions), so Redis holds none of it in
  the clear; and since Reflex unpickles what it reads, a payload that does not open with our key
  (written by anyone else) is dropped as if missing, never unpickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from redis.asyncio import Redis
from reflex.istate.manager import StateManager
from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.manager.token import BaseStateToken
from reflex.state import BaseState

from youworker.logging import get_logger
from youworker.services.encryption import derived_keys
from youworker.settings import Settings, get_settings

log = get_logger(__name__)

SEALED = b"yw-sealed-1:"
PURPOSE = b"reflex-state"


class StateSeal:
    """Encrypts stored states with the newest derived key, opens them with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(key) for key in derived_keys(list(keys), PURPOSE)])

    def seal(self, payload: bytes) -> bytes:
        return SEALED + self._fernet.encrypt(payload)

    def open(self, stored: bytes | None) -> bytes | None:
        """The payload, or None when `stored` is missing or was not sealed with our keys."""
        if stored is None:
            return None
        if not stored.startswith(SEALED):
            log.warning("state_store_unsealed_payload_dropped", size=len(stored))
            return None
        try:
            return self._fernet.decrypt(stored[len(SEALED) :])
        except InvalidToken:
            log.warning("state_store_payload_unreadable", size=len(stored))
            return None


class _OpeningReads:
    """Reflex's Redis client, except that the states it reads (MGET) come back opened.

    StateManagerRedis reads state payloads only with MGET; everything else (locks, pub/sub,
    the sealed writes) passes through untouched.
    """

    def __init__(self, client: Redis, seal: StateSeal) -> None:
        self._client = client
        self._seal = seal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def mget(self, keys: Any, *args: Any) -> list[bytes | None]:
        values = await self._client.mget(keys, *args)
        return [self._seal.open(value) for value in values]


@dataclasses.dataclass
class SealedStateManagerRedis(StateManagerRedis):
    """Reflex's Redis state manager, storing only sealed payloads."""

    seal: StateSeal | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.seal is None:
            raise ValueError("SealedStateManagerRedis needs a seal")
        self.redis = cast(Redis, _OpeningReads(self.redis, self.seal))

    def _collect_state_writes(
        self, token: BaseStateToken, base_state: BaseState
    ) -> list[tuple[str, bytes]]:
        seal = cast(StateSeal, self.seal)
        return [
            (key, seal.seal(payload))
            for key, payload in super()._collect_state_writes(token, base_state)
        ]


def sealed(manager: StateManager, settings: Settings | None = None) -> StateManager:
    """The app's state manager: Reflex's Redis one rebuilt to seal what it stores; the in-memory
    one as it is."""
    if not isinstance(manager, StateManagerRedis) or isinstance(manager, SealedStateManagerRedis):
        return manager
    keys = (settings or get_settings()).security.fernet_keys()
    # mypy reads Reflex's overloaded get/set/modify_state as abstract "-redefinition" members,
    # but only on a cold cache (an ignore is then "unused" on a warm one); the class implements
    # them through StateManagerRedis.
    manager_class: Any = SealedStateManagerRedis
    sealed_manager: StateManager = manager_class(
        redis=manager.redis,
        token_expiration=manager.token_expiration,
        lock_expiration=manager.lock_expiration,
        lock_warning_threshold=manager.lock_warning_threshold,
        oplock_hold_time_ms=manager.oplock_hold_time_ms,
        seal=StateSeal(keys),
    )
    return sealed_manager
