"""Every service error has an HTTP status of its own in the REST API's error mapping."""

from __future__ import annotations

import json

import youworker.api.app  # noqa: F401 - imports every module that defines a service error
from youworker.api.errors import SERVICE_STATUS, service_error_response, status_of
from youworker.services.errors import (
    AuthenticationFailed,
    RateLimited,
    ServiceError,
    ValidationFailed,
)


def all_subclasses(cls: type[ServiceError]) -> set[type[ServiceError]]:
    found: set[type[ServiceError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def test_every_service_error_is_mapped() -> None:
    mapped = {kind for kind, _ in SERVICE_STATUS}
    unmapped = {
        sub.__name__
        for sub in all_subclasses(ServiceError)
        if not any(issubclass(sub, kind) for kind in mapped)
    }
    assert not unmapped, f"add these to api/errors.py SERVICE_STATUS: {sorted(unmapped)}"
    assert all(status_of(sub) >= 400 for sub in all_subclasses(ServiceError))


def test_response_shapes_and_headers() -> None:
    invalid = service_error_response(ValidationFailed({"title": "Too long."}))
    assert invalid.status_code == 422
    assert json.loads(invalid.body) == {
        "error": {
            "code": "validation_error",
            "message": "title: Too long.",
            "fields": {"title": "Too long."},
        }
    }
    limited = service_error_response(RateLimited("Slow down.", 12))
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "12")
    refused = service_error_response(AuthenticationFailed("Sign in."))
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    assert "fields" not in json.loads(refused.body)["error"]
