"""Groups and their members.

A group's admins manage it; site administrators may manage every group. Anyone outside a group
reads it as "not found", so group ids reveal nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import contains
from youworker.logging import get_logger
from youworker.models import (
    ConversationShare,
    DocumentShare,
    Group,
    GroupInvitation,
    GroupMembership,
    GroupRole,
    User,
)
from youworker.models.group import GROUP_DESCRIPTION_MAX, GROUP_NAME_MAX
from youworker.services import audit
from youworker.services.authz import acts_as_site_admin, require_active, require_site_admin
from youworker.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

log = get_logger(__name__)

NOT_FOUND = "Group not found."
PAGE_SIZE_MAX = 100


@dataclass(frozen=True)
class GroupSummary:
    id: uuid.UUID
    name: str
    description: str
    member_count: int
    my_role: str | None  # None: the actor is a site admin looking in from outside
    created_at: datetime


@dataclass(frozen=True)
class MemberView:
    user_id: uuid.UUID
    email: str
    display_name: str
    role: str
    is_active: bool
    joined_at: datetime


@dataclass(frozen=True)
class GroupPage:
    groups: list[GroupSummary]
    total: int


def _checked_fields(name: str, description: str) -> tuple[str, str]:
    name = " ".join(name.split())
    description = description.strip()
    problems = {}
    if not name:
        problems["name"] = "Give the group a name."
    elif len(name) > GROUP_NAME_MAX:
        problems["name"] = f"Use at most {GROUP_NAME_MAX} characters."
    if len(description) > GROUP_DESCRIPTION_MAX:
        problems["description"] = f"Use at most {GROUP_DESCRIPTION_MAX} characters."
    if problems:
        raise ValidationFailed(problems)
    return name, description


async def membership(
    session: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID
) -> GroupMembership | None:
    return await session.get(GroupMembership, (group_id, user_id))


async def _group(session: AsyncSession, group_id: uuid.UUID) -> Group:
    group = await session.get(Group, group_id)
    if group is None:
        raise NotFound(NOT_FOUND)
    return group


async def get_visible(session: AsyncSession, actor: User | None, group_id: uuid.UUID) -> Group:
    """The group if the actor is a member or a site admin; others read "not found"."""
    user = require_active(actor)
    group = await _group(session, group_id)
    if acts_as_site_admin(user) or await membership(session, group_id, user.id) is not None:
        return group
    raise NotFound(NOT_FOUND)


async def get_managed(session: AsyncSession, actor: User | None, group_id: uuid.UUID) -> Group:
    """The group if the actor administers it (or the site); members get Forbidden."""
    group = await get_visible(session, actor, group_id)
    assert actor is not None
    if acts_as_site_admin(actor):
        return group
    mine = await membership(session, group_id, actor.id)
    if mine is None or mine.role != GroupRole.ADMIN:
        raise Forbidden("Only the group's admins can do this.")
    return group


async def is_group_admin(session: AsyncSession, user: User, group_id: uuid.UUID) -> bool:
    mine = await membership(session, group_id, user.id)
    return mine is not None and mine.role == GroupRole.ADMIN


async def create_group(
    session: AsyncSession,
    actor: User | None,
    name: str,
    description: str = "",
    context: audit.RequestContext | None = None,
) -> Group:
    """Any active user may create a group; they become its first admin."""
    user = require_active(actor)
    name, description = _checked_fields(name, description)
    group = Group(name=name, description=description, created_by=user.id)
    session.add(group)
    await session.flush()
    session.add(GroupMembership(group_id=group.id, user_id=user.id, role=GroupRole.ADMIN))
    audit.record(
        session,
        "group.create",
        actor=user,
        resource_type="group",
        resource_id=group.id,
        context=context,
        group_id=group.id,
        name=name,
    )
    await session.commit()
    log.info("group.created", user=str(user.id), group=str(group.id))
    return group


async def update_group(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID,
    name: str,
    description: str,
    context: audit.RequestContext | None = None,
) -> Group:
    group = await get_managed(session, actor, group_id)
    name, description = _checked_fields(name, description)
    changed = {
        field: value
        for field, value in (("name", name), ("description", description))
        if getattr(group, field) != value
    }
    if not changed:
        return group
    group.name, group.description = name, description
    audit.record(
        session,
        "group.update",
        actor=actor,
        resource_type="group",
        resource_id=group.id,
        context=context,
        group_id=group.id,
        fields=sorted(changed),
        name=name,
    )
    await session.commit()
    return group


async def delete_group(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    """Delete the group with its memberships, shares and invitations.

    Vectors of documents shared with it keep the dead group id in their access list; no one can
    be a member of it any more, so it grants nothing.
    """
    group = await get_managed(session, actor, group_id)
    # SQLite enforces ON DELETE CASCADE only with a pragma, so children are deleted explicitly.
    for table in (DocumentShare, ConversationShare, GroupInvitation, GroupMembership):
        await session.execute(delete(table).where(col(table.group_id) == group_id))
    audit.record(
        session,
        "group.delete",
        actor=actor,
        resource_type="group",
        resource_id=group.id,
        context=context,
        group_id=group.id,
        name=group.name,
    )
    await session.delete(group)
    await session.commit()


async def list_my_groups(session: AsyncSession, actor: User | None) -> list[GroupSummary]:
    """The groups the actor belongs to, by name."""
    user = require_active(actor)
    counts = (
        select(GroupMembership.group_id, func.count().label("members"))
        .group_by(col(GroupMembership.group_id))
        .subquery()
    )
    rows = await session.execute(
        select(Group, GroupMembership.role, counts.c.members)
        .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
        .join(counts, counts.c.group_id == col(Group.id))
        .where(col(GroupMembership.user_id) == user.id)
        .order_by(func.lower(col(Group.name)), col(Group.id))
    )
    return [_summary(group, role, members) for group, role, members in rows.all()]


async def list_all_groups(
    session: AsyncSession, actor: User | None, *, query: str = "", offset: int = 0, limit: int = 25
) -> GroupPage:
    """Every group with its member count (site administrators)."""
    admin = require_site_admin(actor)
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    counts = (
        select(GroupMembership.group_id, func.count().label("members"))
        .group_by(col(GroupMembership.group_id))
        .subquery()
    )
    mine = (
        select(GroupMembership.group_id, GroupMembership.role)
        .where(col(GroupMembership.user_id) == admin.id)
        .subquery()
    )
    listing = (
        select(Group, mine.c.role, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.group_id == col(Group.id))
        .outerjoin(mine, mine.c.group_id == col(Group.id))
    )
    counting = select(func.count()).select_from(Group)
    if query.strip():
        condition = contains(col(Group.name), query.strip()[:GROUP_NAME_MAX])
        listing, counting = listing.where(condition), counting.where(condition)
    rows = await session.execute(
        listing.order_by(func.lower(col(Group.name)), col(Group.id))
        .offset(max(0, offset))
        .limit(limit)
    )
    total = int(await session.scalar(counting) or 0)
    return GroupPage(
        groups=[_summary(group, role, members) for group, role, members in rows.all()],
        total=total,
    )


def _summary(group: Group, role: str | None, members: int) -> GroupSummary:
    return GroupSummary(
        id=group.id,
        name=group.name,
        description=group.description,
        member_count=int(members),
        my_role=role,
        created_at=group.created_at,
    )


async def list_members(
    session: AsyncSession, actor: User | None, group_id: uuid.UUID
) -> list[MemberView]:
    await get_visible(session, actor, group_id)
    rows = await session.execute(
        select(GroupMembership, User)
        .join(User, col(User.id) == col(GroupMembership.user_id))
        .where(col(GroupMembership.group_id) == group_id)
        .order_by(col(GroupMembership.role), func.lower(col(User.display_name)), col(User.id))
    )
    return [
        MemberView(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=member.role,
            is_active=user.is_active,
            joined_at=member.joined_at,
        )
        for member, user in rows.all()
    ]


async def _admin_count(session: AsyncSession, group_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(GroupMembership)
            .where(
                col(GroupMembership.group_id) == group_id,
                col(GroupMembership.role) == GroupRole.ADMIN,
            )
        )
        or 0
    )


async def _member_of(
    session: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID
) -> GroupMembership:
    found = await membership(session, group_id, user_id)
    if found is None:
        raise NotFound("That person is not a member of this group.")
    return found


async def set_member_role(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    context: audit.RequestContext | None = None,
) -> GroupMembership:
    """Promote or demote a member; a group always keeps at least one admin."""
    group = await get_managed(session, actor, group_id)
    if role not in (GroupRole.ADMIN, GroupRole.MEMBER):
        raise ValidationFailed({"role": "Role must be admin or member."})
    member = await _member_of(session, group_id, user_id)
    if member.role == role:
        return member
    if member.role == GroupRole.ADMIN and await _admin_count(session, group_id) <= 1:
        raise Conflict("A group needs at least one admin. Promote someone else first.")
    previous, member.role = member.role, role
    audit.record(
        session,
        "group.member_role",
        actor=actor,
        resource_type="user",
        resource_id=user_id,
        context=context,
        group_id=group.id,
        old=previous,
        new=role,
    )
    await session.commit()
    return member


async def remove_member(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    """Access through the group (documents, retrieval, shared conversations) ends at once."""
    group = await get_managed(session, actor, group_id)
    member = await _member_of(session, group_id, user_id)
    if member.role == GroupRole.ADMIN and await _admin_count(session, group_id) <= 1:
        raise Conflict("The group's last admin cannot be removed. Promote someone else first.")
    await session.delete(member)
    audit.record(
        session,
        "group.member_remove",
        actor=actor,
        resource_type="user",
        resource_id=user_id,
        context=context,
        group_id=group.id,
    )
    await session.commit()


async def leave_group(
    session: AsyncSession,
    actor: User | None,
    group_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    user = require_active(actor)
    member = await membership(session, group_id, user.id)
    if member is None:
        raise NotFound(NOT_FOUND)
    if member.role == GroupRole.ADMIN and await _admin_count(session, group_id) <= 1:
        raise Conflict(
            "You are this group's only admin. Promote someone else first, or delete the group."
        )
    await session.delete(member)
    audit.record(
        session,
        "group.leave",
        actor=user,
        resource_type="group",
        resource_id=group_id,
        context=context,
        group_id=group_id,
    )
    await session.commit()


async def add_member(
    session: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID, role: str = GroupRole.MEMBER
) -> bool:
    """Add a membership in the caller's transaction (used by invitations); False if present."""
    if await membership(session, group_id, user_id) is not None:
        return False
    session.add(GroupMembership(group_id=group_id, user_id=user_id, role=role))
    return True
