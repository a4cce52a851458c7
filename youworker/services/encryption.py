"""Encryption of chat data at rest: MultiFernet over the configured keys, newest first."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from youworker.logging import get_logger
from youworker.settings import get_settings

log = get_logger(__name__)

# Shown in place of text whose key is no longer configured (dropped before `rotate-key` ran).
UNREADABLE = (
    "[This text cannot be decrypted: the key it was encrypted with is no longer configured.]"
)


class MessageCipher:
    """Encrypts with the newest key and decrypts with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._newest = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])

    def encrypt(self, text: str) -> str:
        return self._all.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._all.decrypt(token.encode()).decode()

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def readable(self, token: str) -> str:
        """The text, or `UNREADABLE` when no configured key opens the token (never raises)."""
        try:
            return self.decrypt(token)
        except InvalidToken:
            log.warning("encryption.unreadable_token")
            return UNREADABLE

    def readable_optional(self, token: str | None) -> str | None:
        return None if token is None else self.readable(token)

    def is_current(self, token: str) -> bool:
        """True when the newest key already encrypted this token."""
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        return self._all.rotate(token.encode()).decode()


@lru_cache(maxsize=1)
def get_cipher() -> MessageCipher:
    return MessageCipher(get_settings().security.fernet_keys())


def derived_keys(keys: list[str], purpose: bytes) -> list[str]:
    """Fernet keys for another use, derived (HKDF-SHA256) from the configured ones, in order.

    A ciphertext made for one purpose never opens as another (say, a stored page state as a
    chat message), and rotating the configured keys rotates these with them.
    """
    derived = []
    for key in keys:
        raw = base64.urlsafe_b64decode(key.encode())
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"youworker/" + purpose)
        derived.append(base64.urlsafe_b64encode(hkdf.derive(raw)).decode())
    return derived


@lru_cache(maxsize=1)
def kept_message_cipher() -> MultiFernet:
    """For messages the broker keeps in Redis (an answer's latest text, for late followers)."""
    keys = derived_keys(get_settings().security.fernet_keys(), b"broker-kept")
    return MultiFernet([Fernet(key) for key in keys])
