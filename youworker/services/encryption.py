"""Encryption of chat data at rest: MultiFernet over the configured keys, newest first."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from youworker.settings import get_settings


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
