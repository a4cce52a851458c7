"""Invitations waiting for someone who already has an account: listed on their Groups page.

An invitation is addressed to an email; the signed-in owner of that address may see and accept
it without the link from the mail. Nobody else learns that it exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Group, GroupInvitation, GroupMembership, User
from youworker.models.base import utcnow
from youworker.services import audit, invitations
from youworker.services.authz import require_active
from youworker.services.errors import NotFound
from youworker.services.hashing import token_digest
from youworker.services.validation import normalize_email


@dataclass(frozen=True)
class WaitingInvitation:
    id: uuid.UUID
    group_id: uuid.UUID
    group_name: str
    inviter_name: str
    expires_at: datetime


def _waiting_for(user: User, now: datetime) -> list[ColumnElement[bool]]:
    return [
        col(GroupInvitation.invitee_email) == normalize_email(user.email),
        col(GroupInvitation.group_id).is_not(None),
        col(GroupInvitation.used_at).is_(None),
        col(GroupInvitation.revoked_at).is_(None),
        col(GroupInvitation.expires_at) > now,
    ]


async def list_waiting(
    session: AsyncSession, actor: User | None, now: datetime | None = None
) -> list[WaitingInvitation]:
    """Valid group invitations sent to the actor's address, for groups they are not in yet."""
    user = require_active(actor)
    member_of = select(GroupMembership.group_id).where(col(GroupMembership.user_id) == user.id)
    rows = await session.execute(
        select(GroupInvitation, Group, User)
        .join(Group, col(Group.id) == col(GroupInvitation.group_id))
        .outerjoin(User, col(User.id) == col(GroupInvitation.inviter_id))
        .where(*_waiting_for(user, now or utcnow()), col(Group.id).not_in(member_of))
        .order_by(col(GroupInvitation.created_at).desc())
    )
    return [
        WaitingInvitation(
            id=invitation.id,
            group_id=group.id,
            group_name=group.name,
            inviter_name=inviter.display_name if inviter is not None else "",
            expires_at=invitation.expires_at,
        )
        for invitation, group, inviter in rows.all()
    ]


async def _owned_waiting(
    session: AsyncSession, user: User, invitation_id: uuid.UUID, now: datetime
) -> GroupInvitation:
    """The actor's own waiting invitation; anything else reads as not found."""
    invitation = await session.scalar(
        select(GroupInvitation).where(
            col(GroupInvitation.id) == invitation_id, *_waiting_for(user, now)
        )
    )
    if invitation is None:
        raise NotFound("This invitation is no longer open.")
    return invitation


async def accept_waiting(
    session: AsyncSession,
    actor: User | None,
    invitation_id: uuid.UUID,
    context: audit.RequestContext | None = None,
    now: datetime | None = None,
) -> Group | None:
    """Join the group of one of the actor's waiting invitations (single use, like the link)."""
    user = require_active(actor)
    now = now or utcnow()
    invitation = await _owned_waiting(session, user, invitation_id, now)
    return await invitations.claim(session, user, invitation, context, now)


async def decline_waiting(
    session: AsyncSession,
    actor: User | None,
    invitation_id: uuid.UUID,
    context: audit.RequestContext | None = None,
    now: datetime | None = None,
) -> None:
    """Turn down one of the actor's waiting invitations; the inviter can send a new one."""
    user = require_active(actor)
    now = now or utcnow()
    invitation = await _owned_waiting(session, user, invitation_id, now)
    invitation.revoked_at = now
    audit.record(
        session,
        "invitation.decline",
        actor=user,
        resource_type="invitation",
        resource_id=invitation.id,
        context=context,
        group_id=invitation.group_id,
    )
    await session.commit()


async def group_already_joined(
    session: AsyncSession, actor: User | None, token: str
) -> Group | None:
    """The invitation's group when the signed-in actor is already in it, else None.

    A used link opened again by a member says "you are already in" instead of "already used";
    to anyone else the token stays as opaque as before.
    """
    if actor is None or not actor.is_active or not token or len(token) > invitations.TOKEN_MAX:
        return None
    group = await session.scalar(
        select(Group)
        .join(GroupInvitation, col(GroupInvitation.group_id) == col(Group.id))
        .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
        .where(
            col(GroupInvitation.token_hash) == token_digest(token),
            col(GroupMembership.user_id) == actor.id,
        )
    )
    return group
