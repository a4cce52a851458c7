"""Short-lived JWT access tokens for the REST API.

A JWT cannot be revoked one by one, so every use loads the user again: a deactivated user's
tokens stop at once. Each token also carries a keyed fingerprint of the password hash and of the
last deactivation, so changing or resetting the password ends every token issued before, and
reactivating an account does not bring back the tokens issued before it was deactivated.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.models.base import utcnow
from youworker.services.authz import require_active
from youworker.settings import get_settings

ALGORITHM = "HS256"
ISSUER = "youworker"
AUDIENCE = "youworker-api"
MAX_TOKEN_CHARS = 4096


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime
    expires_in: int  # seconds


def _secret() -> str:
    return get_settings().secret("jwt_secret")


def _credentials_fingerprint(user: User) -> str:
    material = user.password_hash
    if user.tokens_revoked_at is not None:
        material += f"|{int(user.tokens_revoked_at.timestamp())}"
    return hmac.new(_secret().encode(), material.encode(), hashlib.sha256).hexdigest()[:32]


def issue(user: User, *, now: datetime | None = None) -> AccessToken:
    """A signed token for an active user (the caller has checked the credentials)."""
    require_active(user)
    issued = now or utcnow()
    lifetime = timedelta(minutes=get_settings().api.access_token_minutes)
    expires = issued + lifetime
    claims = {
        "sub": str(user.id),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
        "pwd": _credentials_fingerprint(user),
    }
    token = jwt.encode(claims, _secret(), algorithm=ALGORITHM)
    return AccessToken(token, expires, int(lifetime.total_seconds()))


def looks_like_jwt(candidate: str) -> bool:
    return candidate.count(".") == 2 and len(candidate) <= MAX_TOKEN_CHARS


async def resolve(session: AsyncSession, token: str) -> User | None:
    """The active user a valid token names, or None (bad signature, expired, stale password or
    issued before a deactivation)."""
    if not looks_like_jwt(token):
        return None
    try:
        claims = jwt.decode(
            token,
            _secret(),
            algorithms=[ALGORITHM],  # never the token's own "alg": no alg-confusion
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "pwd"]},
        )
        user_id = uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError):
        return None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    if not hmac.compare_digest(str(claims["pwd"]), _credentials_fingerprint(user)):
        return None
    return user
