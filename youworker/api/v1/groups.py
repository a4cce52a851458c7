"""Groups: the caller's groups, and a group's members (members and site admins only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from youworker.api.errors import ERROR_RESPONSES
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.services import groups

router = APIRouter(tags=["groups"], responses=ERROR_RESPONSES)


class GroupPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    member_count: int
    my_role: str | None = Field(description="admin | member")
    created_at: datetime


class GroupList(BaseModel):
    items: list[GroupPublic]


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    email: str
    display_name: str
    role: str = Field(description="admin | member")
    is_active: bool
    joined_at: datetime


class MemberList(BaseModel):
    items: list[MemberPublic]


@router.get("/groups")
async def list_my_groups(principal: CurrentPrincipal, db: DbSession) -> GroupList:
    """The groups the caller belongs to, by name."""
    mine = await groups.list_my_groups(db, principal.user)
    return GroupList(items=[GroupPublic.model_validate(group) for group in mine])


@router.get("/groups/{group_id}/members")
async def list_members(
    group_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> MemberList:
    members = await groups.list_members(db, principal.user, group_id)
    return MemberList(items=[MemberPublic.model_validate(member) for member in members])
