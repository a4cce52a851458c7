"""One JSON error shape for every HTTP route: `{"error": {"code", "message", "fields"?}}`.

Service errors map to HTTP statuses here, once, for every route; FastAPI's own errors
(validation, unknown route, wrong method, an `HTTPException`) are rewritten into the same shape.
Anything unexpected becomes a bare 500: the details go to the log, never to the client.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from youworker.logging import get_logger
from youworker.services.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    ServiceError,
    Unavailable,
    ValidationFailed,
)

log = get_logger(__name__)

SERVICE_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (ValidationFailed, 422),
    (AuthenticationFailed, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (Unavailable, 503),
)
HTTP_CODES = {
    400: "bad_request",
    401: "authentication_failed",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorResponse(BaseModel):
    """Every error of /api/v1 has this shape."""

    error: ErrorBody


class ApiError(Exception):
    """An error that only the HTTP layer knows (e.g. a request body over a limit)."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(code=code, message=message, fields=fields or None)
    return JSONResponse(
        {"error": body.model_dump(exclude_none=True)}, status_code=status, headers=headers
    )


def status_of(exc: ServiceError | type[ServiceError]) -> int:
    kind_of_exc = exc if isinstance(exc, type) else type(exc)
    for kind, status in SERVICE_STATUS:
        if issubclass(kind_of_exc, kind):
            return status
    return 400


def service_error_response(exc: ServiceError) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    fields = exc.fields if isinstance(exc, ValidationFailed) else None
    return error_response(status, exc.code, exc.message, fields, headers)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return service_error_response(exc)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def validation_fields(exc: RequestValidationError) -> dict[str, str]:
    """`body.title` -> `title`, `query.limit` -> `limit`; the rejected input is never echoed."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        if len(location) > 1 and location[0] in ("body", "query", "path", "header", "cookie"):
            location = location[1:]
        fields.setdefault(".".join(location) or "request", str(error.get("msg", "invalid")))
    return fields


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = validation_fields(exc)
    message = "; ".join(f"{name}: {text}" for name, text in fields.items())
    return error_response(422, "validation_error", message, fields)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=headers)


class CatchAllErrors:
    """Turns an unhandled exception into a bare JSON 500 and logs it with the request's fields.

    An ASGI wrapper rather than an `Exception` handler: Starlette re-raises after such a handler
    runs, which would print the stack trace a second time through the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception(
                "http.unhandled_error",
                method=scope.get("method"),
                path=scope.get("path"),
                error=type(exc).__name__,
                response_started=started,
            )
            if started:
                raise  # half a response is out; the server closes the connection
            response = error_response(500, "internal_error", "Internal error")
            await response(scope, receive, send)


def install(api: FastAPI) -> None:
    """Register the handlers and the catch-all on the REST app."""
    api.add_exception_handler(ServiceError, _service_error)
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_middleware(CatchAllErrors)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (401, "Not authenticated (missing, invalid, expired or revoked credentials)"),
        (404, "Not found, or not yours"),
        (422, "Invalid input"),
        (429, "Rate limited; see Retry-After"),
    )
}
# Routes that read a body: one that cannot be parsed at all (not UTF-8, broken multipart) is a
# 400, one over SECURITY__MAX_REQUEST_MB a 413 (api/body_limit.py).
BODY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Unreadable body (not UTF-8, broken multipart)"},
    413: {"model": ErrorResponse, "description": "Request body over the size limit"},
}
