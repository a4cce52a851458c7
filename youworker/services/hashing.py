"""Password hashing (argon2 through libpass) and random tokens stored as SHA-256 digests.

Named for what it does: message encryption at rest lives in encryption.py.
"""

from __future__ import annotations

import ctypes
import hashlib
import secrets

from passlib.context import CryptContext

ARGON2_MEMORY_KIB = 19456
# glibc's mallopt(M_MMAP_THRESHOLD): allocations from this size on get their own mapping.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def map_large_allocations() -> bool:
    """Pin glibc's mmap threshold, so argon2's buffer (19 MiB a hash) goes back to the system.

    glibc raises the threshold to the size of the last large block freed, so after the first
    hash every later one is carved from the heap, and the freed 19 MiB stays resident for the
    life of the process. A fixed threshold keeps large blocks mapped and unmapped on free.
    Returns False where the C library has no mallopt (not glibc): nothing changes there.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


# Before the first hash below: the app's launcher imports this module and forks the workers,
# which inherit the setting.
map_large_allocations()

# Changing these parameters makes `verify_and_update` hand back a fresh hash on the next sign-in.
password_context = CryptContext(
    schemes=["argon2"],
    argon2__memory_cost=ARGON2_MEMORY_KIB,
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
