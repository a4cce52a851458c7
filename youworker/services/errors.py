"""Errors that services raise; every caller (UI, REST, CLI) turns them into a clear message."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: `code` is stable, `message` is for people."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationFailed(ServiceError):
    """One or more inputs were rejected; `fields` maps each field to its message."""

    code = "validation_error"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in fields.items()))
        self.fields = fields


class AuthenticationFailed(ServiceError):
    code = "authentication_failed"


class NotFound(ServiceError):
    code = "not_found"


class Forbidden(ServiceError):
    code = "forbidden"


class Conflict(ServiceError):
    code = "conflict"


class Unavailable(ServiceError):
    """A dependency (vector store, embedder, model) does not answer; trying later may work."""

    code = "unavailable"


class RateLimited(ServiceError):
    """Too many attempts; `retry_after_seconds` says when the next one can succeed."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)
