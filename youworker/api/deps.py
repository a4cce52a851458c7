"""Request helpers shared by the HTTP routes (who is calling: api/principal.py)."""

from __future__ import annotations

from fastapi import Request

# The one origin rule lives in api/origin.py; the routes import it from here.
from youworker.api.origin import require_same_origin as require_same_origin
from youworker.services.audit import RequestContext


def request_context(request: Request) -> RequestContext:
    return RequestContext(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
