"""POST /api/v1/token: a short-lived JWT from email and password (the sign-in page's check)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from youworker.api.deps import request_context
from youworker.api.errors import BODY_ERROR_RESPONSES, ErrorResponse
from youworker.api.principal import DbSession
from youworker.models.user import EMAIL_MAX
from youworker.services import access_tokens, accounts
from youworker.services.validation import PASSWORD_MAX

router = APIRouter(tags=["auth"])


class TokenRequest(BaseModel):
    email: str = Field(min_length=1, max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int = Field(description="Seconds until the token expires")


@router.post(
    "/token",
    responses={
        401: {"model": ErrorResponse, "description": "Wrong credentials or deactivated"},
        422: {"model": ErrorResponse, "description": "Invalid input"},
        429: {"model": ErrorResponse, "description": "Too many attempts; see Retry-After"},
        **BODY_ERROR_RESPONSES,
    },
)
async def issue_token(body: TokenRequest, request: Request, db: DbSession) -> TokenPublic:
    """Exchange credentials for an access token (`Authorization: Bearer <token>`)."""
    user = await accounts.authenticate(
        db, email=body.email, password=body.password, context=request_context(request)
    )
    issued = access_tokens.issue(user)
    return TokenPublic(access_token=issued.token, expires_in=issued.expires_in)
