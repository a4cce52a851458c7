"""Registering, signing in, and changing one's own profile and password."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.logging import get_logger
from youworker.models import AppSetting, Role, User
from youworker.models.base import utcnow
from youworker.services import api_keys, audit, sessions
from youworker.services.authz import require_active
from youworker.services.errors import AuthenticationFailed, Forbidden, ValidationFailed
from youworker.services.hashing import hash_password, verify_password
from youworker.services.rate_limits import get_rate_limits
from youworker.services.registration import RegistrationMode, get_mode
from youworker.services.sign_in_throttle import SignInThrottle, refusal
from youworker.services.validation import (
    email_problem,
    name_problem,
    normalize_email,
    password_problem,
    raise_if_any,
)

log = get_logger(__name__)

GENERIC_SIGN_IN_ERROR = "Email or password is incorrect."
FIRST_ADMIN_KEY = "first_admin"


@dataclass(frozen=True)
class PasswordChanged:
    sessions_ended: int  # the other sessions; the one that changed it stays
    api_keys_revoked: int


async def _email_taken(session: AsyncSession, email: str) -> bool:
    found = await session.scalar(select(col(User.id)).where(col(User.email) == email))
    return found is not None


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def register(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str,
    context: audit.RequestContext | None = None,
    invited: bool = False,
) -> User:
    """Create an account: the first one becomes admin, later ones follow the registration policy."""
    raise_if_any(
        {
            "email": email_problem(email),
            "password": password_problem(password),
            "display_name": name_problem(display_name),
        }
    )
    normalized = normalize_email(email)
    # Counted before the "already exists" check, so the form cannot probe addresses quickly.
    await get_rate_limits().check_register(context.ip if context else None)
    is_first = await count_users(session) == 0
    if not is_first and not invited and await get_mode(session) == RegistrationMode.INVITE_ONLY:
        raise Forbidden(
            "Registration is by invitation only. Ask an administrator for an invitation."
        )
    if await _email_taken(session, normalized):
        raise ValidationFailed({"email": "An account with this email already exists."})

    user = User(
        email=normalized,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=Role.USER,
    )
    session.add(user)
    if is_first:
        # The primary key makes this insert the tie-breaker when two people register at once.
        user.role = Role.ADMIN
        session.add(AppSetting(key=FIRST_ADMIN_KEY, value=str(user.id)))
    audit.record(
        session,
        "user.register",
        actor=user,
        resource_type="user",
        resource_id=user.id,
        context=context,
        role=user.role,
    )
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        if is_first:
            # Someone else became the first admin a moment ago: register as a normal user.
            return await register(
                session,
                email=email,
                password=password,
                display_name=display_name,
                context=context,
                invited=invited,
            )
        raise ValidationFailed({"email": "An account with this email already exists."}) from exc
    return user


async def authenticate(
    session: AsyncSession, *, email: str, password: str, context: audit.RequestContext | None = None
) -> User:
    """Check credentials in constant time; unknown email and wrong password read the same."""
    if not email.strip() or not password:
        raise ValidationFailed(
            {
                k: v
                for k, v in {
                    "email": "Email is required." if not email.strip() else None,
                    "password": "Password is required." if not password else None,
                }.items()
                if v
            }
        )
    normalized = normalize_email(email)[:254]
    ip = context.ip if context else None
    throttle = SignInThrottle(get_rate_limits())
    # Keyed by the typed email whether or not it has an account: refusals reveal nothing.
    await throttle.before_attempt(normalized, ip)
    user = await session.scalar(select(User).where(col(User.email) == normalized))
    ok, new_hash = verify_password(password[:1024], user.password_hash if user else None)
    if user is None or not ok:
        lockout = await throttle.failed(normalized, ip)
        audit.record(
            session,
            "auth.sign_in_failed",
            actor=user,
            actor_email=normalized if user is None else None,
            context=context,
            reason="bad_credentials",
        )
        if lockout is not None:
            audit.record(
                session,
                "auth.lockout",
                actor=user,
                actor_email=normalized if user is None else None,
                context=context,
                scope=lockout.scope,
                seconds=lockout.seconds,
                level=lockout.level,
            )
            log.warning(
                "auth.lockout",
                scope=lockout.scope,
                seconds=lockout.seconds,
                level=lockout.level,
                ip=ip,
                known_account=user is not None,
            )
        await session.commit()
        if lockout is not None:
            raise refusal(lockout.seconds)
        raise AuthenticationFailed(GENERIC_SIGN_IN_ERROR)
    if not user.is_active:
        audit.record(
            session, "auth.sign_in_failed", actor=user, context=context, reason="deactivated"
        )
        await session.commit()
        raise AuthenticationFailed(
            "This account is deactivated. Ask an administrator to reactivate it."
        )
    if new_hash:
        user.password_hash = new_hash
    await throttle.succeeded(normalized, ip)
    user.last_sign_in_at = utcnow()
    audit.record(session, "auth.sign_in", actor=user, context=context)
    await session.commit()
    return user


async def update_profile(
    session: AsyncSession,
    actor: User,
    *,
    display_name: str,
    context: audit.RequestContext | None = None,
) -> User:
    require_active(actor)
    raise_if_any({"display_name": name_problem(display_name)})
    user = await session.get(User, actor.id)
    assert user is not None
    user.display_name = display_name.strip()
    audit.record(
        session,
        "user.profile_update",
        actor=user,
        resource_type="user",
        resource_id=user.id,
        context=context,
    )
    await session.commit()
    return user


async def change_password(
    session: AsyncSession,
    actor: User,
    *,
    current_password: str,
    new_password: str,
    keep_session_id: uuid.UUID | None = None,
    context: audit.RequestContext | None = None,
) -> PasswordChanged:
    """Change the password, end every other session and revoke every personal API key."""
    require_active(actor)
    raise_if_any(
        {
            "current_password": None if current_password else "Current password is required.",
            "new_password": password_problem(new_password, "New password"),
        }
    )
    user = await session.get(User, actor.id)
    assert user is not None
    ok, _ = verify_password(current_password[:1024], user.password_hash)
    if not ok:
        raise ValidationFailed({"current_password": "Current password is incorrect."})
    user.password_hash = hash_password(new_password)
    ended = await sessions.end_user_sessions(session, user.id, except_session_id=keep_session_id)
    revoked = await api_keys.revoke_all_for(session, user.id)
    audit.record(
        session,
        "user.password_change",
        actor=user,
        resource_type="user",
        resource_id=user.id,
        context=context,
        sessions_ended=ended,
        api_keys_revoked=revoked,
    )
    await session.commit()
    return PasswordChanged(sessions_ended=ended, api_keys_revoked=revoked)
