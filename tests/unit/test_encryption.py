"""MultiFernet with the newest key first."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken

from youworker.services.encryption import MessageCipher


def test_round_trip_and_no_plaintext() -> None:
    cipher = MessageCipher([Fernet.generate_key().decode()])
    token = cipher.encrypt("secret plans")
    assert "secret" not in token
    assert cipher.decrypt(token) == "secret plans"


def test_rotation_moves_tokens_to_the_newest_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = MessageCipher([old]).encrypt("hello")
    both = MessageCipher([new, old])
    assert both.decrypt(token) == "hello"
    assert not both.is_current(token)
    rotated = both.rotate(token)
    assert both.is_current(rotated)
    assert MessageCipher([new]).decrypt(rotated) == "hello"
    with pytest.raises(InvalidToken):
        MessageCipher([new]).decrypt(token)
