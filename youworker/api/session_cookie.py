"""The cookie side of signing in and out: hand-off code to HttpOnly cookie, CSRF token, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from youworker.api import csrf
from youworker.api.deps import request_context, require_same_origin
from youworker.db import session_scope
from youworker.models import User
from youworker.services import sessions
from youworker.settings import get_settings

router = APIRouter()


def _set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        max_age=int(settings.security.session_ttl.total_seconds()),
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


@router.post("/auth/session", dependencies=[Depends(require_same_origin)])
async def exchange_handoff(code: Annotated[str, Body(embed=True, max_length=128)]) -> Response:
    """Swap a sign-in hand-off code for the HttpOnly session cookie."""
    async with session_scope() as db:
        token = await sessions.complete(db, code, get_settings().security.session_ttl)
    if token is None:
        raise HTTPException(status_code=400, detail="sign-in link expired; sign in again")
    response = JSONResponse({"status": "signed_in"})
    _set_session_cookie(response, token)
    csrf.set_csrf_cookie(response, csrf.new_token())
    return response


@router.get("/auth/csrf")
async def csrf_token(request: Request) -> Response:
    """The double-submit token that cookie-authenticated unsafe /api/ calls send as X-CSRF-Token."""
    token = request.cookies.get(csrf.COOKIE_NAME) or csrf.new_token()
    response = JSONResponse({"csrf_token": token}, headers={"Cache-Control": "no-store"})
    csrf.set_csrf_cookie(response, token)
    return response


@router.post("/auth/logout", dependencies=[Depends(require_same_origin)])
async def logout(request: Request) -> Response:
    async with session_scope() as db:
        await sessions.end(db, request.cookies.get(sessions.COOKIE_NAME), request_context(request))
    response = JSONResponse({"status": "signed_out"})
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    csrf.clear_csrf_cookie(response)
    return response


__all__ = ["User", "router"]
