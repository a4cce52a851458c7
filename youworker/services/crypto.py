"""Password hashing (argon2 through libpass) and random tokens stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from passlib.context import CryptContext

# Changing these parameters makes `verify_and_update` hand back a fresh hash on the next sign-in.
password_context = CryptContext(
    schemes=["argon2"],
    argon2__memory_cost=19456,
    argon2__time_cost=2,
    argon2__parallelism=1,
)

# Verified when the email is unknown so both failures take the same time.
_DUMMY_HASH = password_context.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return password_context.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one uses outdated parameters)."""
    if password_hash is None:
        password_context.verify(password, _DUMMY_HASH)
        return False, None
    return password_context.verify_and_update(password, password_hash)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """SHA-256 hex: tokens are high-entropy, so a fast hash is the right choice."""
    return hashlib.sha256(token.encode()).hexdigest()
