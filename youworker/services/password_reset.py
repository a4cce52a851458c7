"""Password-reset links: a site administrator sends one, its holder sets a new password once.

Only the SHA-256 of a link's token is stored. A newer link, or a completed reset, voids the
user's other unused links by expiring them, so an old link reads as expired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import rows_affected
from youworker.models import PasswordReset, User
from youworker.models.base import utcnow
from youworker.services import api_keys, audit, mail, sessions
from youworker.services.authz import require_site_admin
from youworker.services.errors import Conflict, NotFound
from youworker.services.hashing import hash_password, new_token, token_digest
from youworker.services.validation import password_problem, raise_if_any
from youworker.settings import get_settings

MAIL_KIND = "password_reset"
# new_token(32) is 43 characters; anything much longer is not one of ours.
TOKEN_MAX = 128


class ResetStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # too old, or replaced by a newer link
    USED = "used"
    UNKNOWN = "unknown"
    DEACTIVATED = "deactivated"  # the account was deactivated after the link was sent


@dataclass(frozen=True)
class ResetLink:
    """What an inspected link is good for; `email` only for a valid link."""

    status: ResetStatus
    email: str = ""


@dataclass(frozen=True)
class ResetSent:
    email: str
    delivery: str  # a MailStatus: sent, outbox or failed
    expires_at: datetime


UNAVAILABLE_MESSAGES: dict[ResetStatus, str] = {
    ResetStatus.EXPIRED: "This reset link has expired. Ask an administrator for a new one.",
    ResetStatus.USED: "This reset link was already used. Ask an administrator for a new one.",
    ResetStatus.UNKNOWN: "This reset link is not valid. Check that you copied all of it.",
    ResetStatus.DEACTIVATED: "This account is deactivated. Ask an administrator.",
}


class ResetUnavailable(Conflict):
    """The link cannot be used; `status` says why."""

    def __init__(self, status: ResetStatus) -> None:
        super().__init__(UNAVAILABLE_MESSAGES.get(status, "This reset link cannot be used."))
        self.status = status


def _body(user: User, link: str, hours: int) -> str:
    return (
        f"Hello {mail.quoted_name(user.display_name)},\n\n"
        "An administrator of YouWorker sent you a link to choose a new password:\n\n"
        f"{link}\n\n"
        f"The link works once and expires in {hours} hours. If you did not expect it, "
        "ignore this mail: your password stays as it is.\n"
    )


async def _void_unused(
    session: AsyncSession, user_id: uuid.UUID, now: datetime, keep: uuid.UUID | None = None
) -> int:
    """Expire the user's other unused links (caller commits)."""
    statement = (
        update(PasswordReset)
        .where(
            col(PasswordReset.user_id) == user_id,
            col(PasswordReset.used_at).is_(None),
            col(PasswordReset.expires_at) > now,
        )
        .values(expires_at=now)
    )
    if keep is not None:
        statement = statement.where(col(PasswordReset.id) != keep)
    return rows_affected(await session.execute(statement))


async def send_reset_link(
    session: AsyncSession,
    actor: User,
    user_id: uuid.UUID,
    context: audit.RequestContext | None = None,
    *,
    now: datetime | None = None,
) -> ResetSent:
    """Mail a single-use link to an active user (SMTP or the outbox); voids older links."""
    require_site_admin(actor)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    if not user.is_active:
        raise Conflict("This account is deactivated. Reactivate it before sending a reset link.")
    now = now or utcnow()
    settings = get_settings()
    token = new_token(32)
    expires_at = now + settings.groups.password_reset_ttl
    voided = await _void_unused(session, user.id, now)
    session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=token_digest(token),
            created_by=actor.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    # The link must work before the mail leaves, and SMTP should not hold a write transaction.
    await session.commit()
    link = f"{settings.api.base_url}/reset/{token}"
    record = await mail.deliver(
        session,
        mail.Mail(
            recipient=user.email,
            subject="Reset your YouWorker password",
            body=_body(user, link, settings.groups.password_reset_ttl_hours),
            kind=MAIL_KIND,
            link=link,
        ),
    )
    audit.record(
        session,
        "user.password_reset_sent",
        actor=actor,
        resource_type="user",
        resource_id=user.id,
        context=context,
        email=user.email,
        delivery=record.status,
        links_voided=voided,
    )
    await session.commit()
    return ResetSent(email=user.email, delivery=record.status, expires_at=expires_at)


async def _find(session: AsyncSession, token: str) -> tuple[PasswordReset, User] | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    found = (
        await session.execute(
            select(PasswordReset, User)
            .join(User, col(User.id) == col(PasswordReset.user_id))
            .where(col(PasswordReset.token_hash) == token_digest(token))
            # Sessions keep objects after commit: read the row as it is now, not as first seen.
            .execution_options(populate_existing=True)
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


def _status(reset: PasswordReset, user: User, now: datetime) -> ResetStatus:
    if reset.used_at is not None:
        return ResetStatus.USED
    if reset.expires_at <= now:
        return ResetStatus.EXPIRED
    if not user.is_active:
        return ResetStatus.DEACTIVATED
    return ResetStatus.VALID


async def inspect(session: AsyncSession, token: str, *, now: datetime | None = None) -> ResetLink:
    """Whether `token` can still be used, and for which account."""
    found = await _find(session, token)
    if found is None:
        return ResetLink(ResetStatus.UNKNOWN)
    reset, user = found
    status = _status(reset, user, now or utcnow())
    return ResetLink(status, user.email if status == ResetStatus.VALID else "")


async def complete_reset(
    session: AsyncSession,
    token: str,
    new_password: str,
    *,
    now: datetime | None = None,
    context: audit.RequestContext | None = None,
) -> User:
    """Set a new password through a link (once), ending all the user's sessions and API keys.

    Raises ValidationFailed({"password": ...}) for a bad password and ResetUnavailable when
    the link cannot be used.
    """
    raise_if_any({"password": password_problem(new_password, "New password")})
    now = now or utcnow()
    found = await _find(session, token)
    status = _status(*found, now) if found is not None else ResetStatus.UNKNOWN
    if found is None or status != ResetStatus.VALID:
        raise ResetUnavailable(status)
    reset_id, user_id = found[0].id, found[1].id
    # End the read before hashing (nothing is pending; commit, unlike rollback, leaves the
    # caller's loaded objects usable), so no transaction stays open while argon2 runs.
    await session.commit()
    password_hash = hash_password(new_password)
    # Conditional: of two concurrent uses, only the one whose update lands wins.
    claimed = await session.execute(
        update(PasswordReset)
        .where(
            col(PasswordReset.id) == reset_id,
            col(PasswordReset.used_at).is_(None),
            col(PasswordReset.expires_at) > now,
            col(PasswordReset.user_id).in_(select(User.id).where(col(User.is_active).is_(True))),
        )
        .values(used_at=now)
    )
    if rows_affected(claimed) != 1:
        await session.commit()  # nothing changed; end the transaction before reading again
        raise ResetUnavailable((await inspect(session, token, now=now)).status)
    user = await session.get(User, user_id, populate_existing=True)
    assert user is not None  # the update above matched an active user
    user.password_hash = password_hash
    ended = await sessions.end_user_sessions(session, user.id)
    revoked = await api_keys.revoke_all_for(session, user.id)
    await _void_unused(session, user.id, now, keep=reset_id)
    audit.record(
        session,
        "user.password_reset",
        actor=user,
        resource_type="user",
        resource_id=user.id,
        context=context,
        sessions_ended=ended,
        api_keys_revoked=revoked,
    )
    await session.commit()
    return user
