"""Password hashing and token digests."""

from __future__ import annotations

from passlib.context import CryptContext

from youworker.services import hashing


def test_hash_is_argon2_and_verifies() -> None:
    hashed = hashing.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert hashing.verify_password("correct horse battery", hashed) == (True, None)
    assert hashing.verify_password("wrong horse battery", hashed)[0] is False


def test_outdated_parameters_yield_a_new_hash() -> None:
    weaker = CryptContext(schemes=["argon2"], argon2__memory_cost=8192, argon2__time_cost=1)
    old_hash = weaker.hash("correct horse battery")
    ok, new_hash = hashing.verify_password("correct horse battery", old_hash)
    assert ok and new_hash is not None and new_hash != old_hash
    assert hashing.verify_password("correct horse battery", new_hash) == (True, None)


def test_missing_hash_never_matches() -> None:
    assert hashing.verify_password("anything at all", None) == (False, None)


def test_tokens_are_random_and_digest_is_stable() -> None:
    first, second = hashing.new_token(), hashing.new_token()
    assert first != second and len(first) >= 43
    assert hashing.token_digest(first) == hashing.token_digest(first)
    assert len(hashing.token_digest(first)) == 64
