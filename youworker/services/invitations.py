"""Invitations by email: to a group (by its admins) or to the installation (by site admins).

The token is 32 random bytes shown once, in the mail; only its SHA-256 is stored. It is single
use, expires, can be revoked, and re-inviting the same address replaces a pending invitation.
Every answer about a token is about the token alone: none says whether an email has an account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import rows_affected
from youworker.logging import get_logger
from youworker.models import Group, GroupInvitation, User
from youworker.models.base import utcnow
from youworker.services import accounts, audit, groups, mail
from youworker.services.authz import acts_as_site_admin, require_active, require_site_admin
from youworker.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from youworker.services.hashing import new_token, token_digest
from youworker.services.validation import email_problem, normalize_email
from youworker.settings import get_settings

log = get_logger(__name__)

TOKEN_MAX = 200
INVITATION_NOT_FOUND = "Invitation not found."


class InvitationState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class InvitationLookup:
    state: InvitationState
    email: str = ""
    group_name: str = ""  # empty for an invitation to the installation
    inviter_name: str = ""


@dataclass(frozen=True)
class PendingInvitation:
    id: uuid.UUID
    email: str
    inviter_name: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SentInvitation:
    invitation: GroupInvitation
    delivered_by: str  # "sent" | "outbox" | "failed"


def invitation_url(token: str) -> str:
    return f"{get_settings().api.base_url}/invite/{token}"


def _mail_for(email: str, token: str, inviter: User, group: Group | None) -> mail.Mail:
    ttl_days = get_settings().groups.invitation_ttl_days
    where = f"the group {mail.quoted_name(group.name)} on YouWorker" if group else "YouWorker"
    link = invitation_url(token)
    body = (
        f"{mail.quoted_name(inviter.display_name)} invited you to join {where}.\n\n"
        f"Open this link to accept (it works once, for {ttl_days} days):\n"
        f"{link}\n\n"
        "If you did not expect this invitation, ignore this mail."
    )
    return mail.Mail(
        recipient=email,
        subject=f"Invitation to {where}",
        body=body,
        kind="invitation",
        link=link,
    )


async def invite(
    session: AsyncSession,
    actor: User | None,
    email: str,
    group_id: uuid.UUID | None = None,
    context: audit.RequestContext | None = None,
    now: datetime | None = None,
) -> SentInvitation:
    """Invite `email` to a group (group admins) or to the installation (site admins)."""
    user = require_active(actor)
    group = await groups.get_managed(session, user, group_id) if group_id else None
    if group is None:
        require_site_admin(user)
    problem = email_problem(email)
    if problem:
        raise ValidationFailed({"email": problem})
    address = normalize_email(email)
    if group is not None:
        invited_member = await session.scalar(select(User.id).where(col(User.email) == address))
        if invited_member and await groups.membership(session, group.id, invited_member):
            raise Conflict(f"{address} is already a member of this group.")
    now = now or utcnow()
    await session.execute(
        update(GroupInvitation)
        .where(
            col(GroupInvitation.invitee_email) == address,
            _same_group(group_id),
            col(GroupInvitation.used_at).is_(None),
            col(GroupInvitation.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    token = new_token(32)
    invitation = GroupInvitation(
        group_id=group.id if group else None,
        inviter_id=user.id,
        invitee_email=address,
        token_hash=token_digest(token),
        created_at=now,
        expires_at=now + get_settings().groups.invitation_ttl,
    )
    session.add(invitation)
    # The link must work before the mail leaves (a failed commit would leave a mail with a dead
    # link), and SMTP should not hold a write transaction open.
    await session.commit()
    record = await mail.deliver(session, _mail_for(address, token, user, group))
    audit.record(
        session,
        "invitation.create",
        actor=user,
        resource_type="invitation",
        resource_id=invitation.id,
        context=context,
        group_id=invitation.group_id,
        email=address,
        delivery=record.status,
    )
    await session.commit()
    log.info("invitation.created", user=str(user.id), group=str(group_id), delivery=record.status)
    return SentInvitation(invitation=invitation, delivered_by=record.status)


def _same_group(group_id: uuid.UUID | None) -> ColumnElement[bool]:
    column = col(GroupInvitation.group_id)
    return column.is_(None) if group_id is None else column == group_id


async def list_pending(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID | None,
    now: datetime | None = None,
) -> list[PendingInvitation]:
    """Unused, unrevoked, unexpired invitations of a group (or to the installation)."""
    user = require_active(actor)
    if group_id is None:
        require_site_admin(user)
    else:
        await groups.get_managed(session, user, group_id)
    rows = await session.execute(
        select(GroupInvitation, User.display_name)
        .outerjoin(User, col(User.id) == col(GroupInvitation.inviter_id))
        .where(
            _same_group(group_id),
            col(GroupInvitation.used_at).is_(None),
            col(GroupInvitation.revoked_at).is_(None),
            col(GroupInvitation.expires_at) > (now or utcnow()),
        )
        .order_by(col(GroupInvitation.created_at).desc())
    )
    return [
        PendingInvitation(
            id=invitation.id,
            email=invitation.invitee_email,
            inviter_name=inviter or "",
            created_at=invitation.created_at,
            expires_at=invitation.expires_at,
        )
        for invitation, inviter in rows.all()
    ]


async def revoke(
    session: AsyncSession,
    actor: User | None,
    invitation_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    user = require_active(actor)
    invitation = await session.get(GroupInvitation, invitation_id)
    # Someone who cannot see the invitation's group (or, for the site's, is no admin) gets the
    # answer a made-up id gets: the refusal must not confirm that the invitation exists.
    if invitation is None or (invitation.group_id is None and not acts_as_site_admin(user)):
        raise NotFound(INVITATION_NOT_FOUND)
    if invitation.group_id is not None:
        try:
            await groups.get_managed(session, user, invitation.group_id)
        except NotFound:
            raise NotFound(INVITATION_NOT_FOUND) from None
    if invitation.used_at is not None:
        raise Conflict("This invitation was already accepted.")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        audit.record(
            session,
            "invitation.revoke",
            actor=user,
            resource_type="invitation",
            resource_id=invitation.id,
            context=context,
            group_id=invitation.group_id,
            email=invitation.invitee_email,
        )
        await session.commit()


async def _by_token(session: AsyncSession, token: str) -> GroupInvitation | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    return await session.scalar(
        select(GroupInvitation).where(col(GroupInvitation.token_hash) == token_digest(token))
    )


def _state(invitation: GroupInvitation | None, now: datetime) -> InvitationState:
    if invitation is None:
        return InvitationState.UNKNOWN
    if invitation.used_at is not None:
        return InvitationState.USED
    if invitation.revoked_at is not None:
        return InvitationState.REVOKED
    if invitation.expires_at <= now:
        return InvitationState.EXPIRED
    return InvitationState.VALID


async def lookup(
    session: AsyncSession, token: str, now: datetime | None = None
) -> InvitationLookup:
    """What the accept page shows for `token`; details only for a valid one."""
    invitation = await _by_token(session, token)
    state = _state(invitation, now or utcnow())
    if state != InvitationState.VALID or invitation is None:
        return InvitationLookup(state=state)
    group = await session.get(Group, invitation.group_id) if invitation.group_id else None
    inviter = await session.get(User, invitation.inviter_id) if invitation.inviter_id else None
    return InvitationLookup(
        state=state,
        email=invitation.invitee_email,
        group_name=group.name if group else "",
        inviter_name=inviter.display_name if inviter else "",
    )


_REFUSALS = {
    InvitationState.EXPIRED: "This invitation has expired. Ask for a new one.",
    InvitationState.USED: "This invitation was already used.",
    InvitationState.REVOKED: "This invitation was withdrawn.",
    InvitationState.UNKNOWN: "This invitation link is not valid.",
}


async def _valid(session: AsyncSession, token: str, now: datetime) -> GroupInvitation:
    invitation = await _by_token(session, token)
    state = _state(invitation, now)
    if state != InvitationState.VALID or invitation is None:
        raise NotFound(_REFUSALS[state])
    return invitation


async def accept(
    session: AsyncSession,
    actor: User | None,
    token: str,
    context: audit.RequestContext | None = None,
    now: datetime | None = None,
) -> Group | None:
    """Join the invitation's group as the signed-in user; returns the group (None: site invite)."""
    user = require_active(actor)
    now = now or utcnow()
    invitation = await _valid(session, token, now)
    if normalize_email(user.email) != invitation.invitee_email:
        raise Forbidden(
            "This invitation was sent to another email address. "
            "Sign in with that address to accept it."
        )
    return await claim(session, user, invitation, context, now)


async def claim(
    session: AsyncSession,
    user: User,
    invitation: GroupInvitation,
    context: audit.RequestContext | None,
    now: datetime,
) -> Group | None:
    """Use a valid invitation addressed to `user` (checked by the caller) and join its group."""
    # Single use even when two tabs accept at once: only one UPDATE finds it unused.
    claimed = await session.execute(
        update(GroupInvitation)
        .where(
            col(GroupInvitation.id) == invitation.id,
            col(GroupInvitation.used_at).is_(None),
            col(GroupInvitation.revoked_at).is_(None),
        )
        .values(used_at=now, used_by=user.id)
    )
    if rows_affected(claimed) != 1:
        await session.rollback()
        raise NotFound(_REFUSALS[InvitationState.USED])
    group = await session.get(Group, invitation.group_id) if invitation.group_id else None
    if group is not None:
        await groups.add_member(session, group.id, user.id)
    audit.record(
        session,
        "invitation.accept",
        actor=user,
        resource_type="invitation",
        resource_id=invitation.id,
        context=context,
        group_id=invitation.group_id,
    )
    await session.commit()
    return group


async def register_and_accept(
    session: AsyncSession,
    token: str,
    *,
    password: str,
    display_name: str,
    context: audit.RequestContext | None = None,
    now: datetime | None = None,
) -> tuple[User, Group | None]:
    """Create the invitee's account (even when registration is by invitation only) and join."""
    now = now or utcnow()
    invitation = await _valid(session, token, now)
    user = await accounts.register(
        session,
        email=invitation.invitee_email,
        password=password,
        display_name=display_name,
        context=context,
        invited=True,
    )
    group = await accept(session, user, token, context=context, now=now)
    return user, group
