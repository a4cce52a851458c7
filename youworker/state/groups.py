"""The groups list and one group's page: members, roles, invitations. Services check access."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

import reflex as rx
from reflex.event import EventSpec
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.db import session_scope
from youworker.models import GroupRole, MailStatus, User
from youworker.services import groups, invitation_inbox, invitations
from youworker.services.errors import NotFound, ServiceError, ValidationFailed
from youworker.state.admin_audit import group_activity_rows
from youworker.state.guards import signed_in
from youworker.state.session import SessionState
from youworker.state.times import iso_utc

GroupAction = Callable[[AsyncSession, User, uuid.UUID], Awaitable[object]]


@dataclasses.dataclass
class GroupRow:
    id: str = ""
    name: str = ""
    description: str = ""
    members: int = 0
    role: str = ""


@dataclasses.dataclass
class MemberRow:
    user_id: str = ""
    name: str = ""
    email: str = ""
    role: str = ""
    active: bool = True
    joined: str = ""
    is_self: bool = False


@dataclasses.dataclass
class WaitingRow:
    """An invitation to a group, sent to the signed-in user's address."""

    id: str = ""
    group_name: str = ""
    inviter: str = ""
    expires: str = ""


@dataclasses.dataclass
class InvitationRow:
    id: str = ""
    email: str = ""
    inviter: str = ""
    expires: str = ""


def delivery_note(status: str, email: str) -> str:
    if status == MailStatus.SENT:
        return f"Invitation sent to {email}."
    if status == MailStatus.FAILED:
        return (
            f"The mail to {email} could not be sent; it waits in the admin outbox "
            "so an administrator can pass the link on."
        )
    return (
        f"Invitation for {email} created. Mail is not configured on this server, so it waits in "
        "the admin outbox: an administrator passes the link on."
    )


class GroupsState(SessionState):
    """/groups: the groups I belong to, and creating one."""

    my_groups: list[GroupRow] = []
    waiting: list[WaitingRow] = []
    waiting_error: str = ""
    loaded: bool = False
    create_open: bool = False
    name_error: str = ""
    description_error: str = ""

    async def _refresh(self, user: User) -> None:
        async with session_scope() as db:
            summaries = await groups.list_my_groups(db, user)
            waiting = await invitation_inbox.list_waiting(db, user)
        self.waiting = [
            WaitingRow(
                id=str(w.id),
                group_name=w.group_name,
                inviter=w.inviter_name,
                expires=iso_utc(w.expires_at),
            )
            for w in waiting
        ]
        self.my_groups = [
            GroupRow(
                id=str(g.id),
                name=g.name,
                description=g.description,
                members=g.member_count,
                role=g.my_role or "",
            )
            for g in summaries
        ]
        self.loaded = True

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | None:
        await self._refresh(user)
        return None

    @rx.event
    @signed_in
    async def accept_waiting(self, user: User, invitation_id: str) -> EventSpec | None:
        self.waiting_error = ""
        try:
            async with session_scope() as db:
                group = await invitation_inbox.accept_waiting(
                    db, user, uuid.UUID(invitation_id), self._context()
                )
        except (ValueError, NotFound) as exc:
            self.waiting_error = getattr(exc, "message", "This invitation is no longer open.")
            await self._refresh(user)
            return None
        return rx.redirect(f"/groups/{group.id}") if group is not None else None

    @rx.event
    @signed_in
    async def decline_waiting(self, user: User, invitation_id: str) -> EventSpec | None:
        self.waiting_error = ""
        try:
            async with session_scope() as db:
                await invitation_inbox.decline_waiting(
                    db, user, uuid.UUID(invitation_id), self._context()
                )
        except (ValueError, NotFound) as exc:
            self.waiting_error = getattr(exc, "message", "This invitation is no longer open.")
        await self._refresh(user)
        return None

    @rx.event
    def set_create_open(self, value: bool) -> None:
        self.create_open = value
        self.name_error = self.description_error = ""

    @rx.event
    @signed_in
    async def create(self, user: User, form: dict[str, str]) -> EventSpec | None:
        self.name_error = self.description_error = ""
        try:
            async with session_scope() as db:
                group = await groups.create_group(
                    db,
                    user,
                    str(form.get("name", "")),
                    str(form.get("description", "")),
                    self._context(),
                )
        except ValidationFailed as exc:
            self.name_error = exc.fields.get("name", "")
            self.description_error = exc.fields.get("description", "")
            return None
        self.create_open = False
        return rx.redirect(f"/groups/{group.id}")


class GroupState(SessionState):
    """/groups/[gid]: details, members and invitations of one group."""

    group_id: str = ""
    name: str = ""
    description: str = ""
    my_role: str = ""
    can_manage: bool = False
    not_found: bool = False
    members: list[MemberRow] = []
    pending: list[InvitationRow] = []
    edit_open: bool = False
    name_error: str = ""
    description_error: str = ""
    invite_error: str = ""
    invite_note: str = ""
    confirm: str = ""  # "", "leave" or "delete"
    activity: list[dict[str, str]] = []

    def _gid(self) -> uuid.UUID | None:
        try:
            return uuid.UUID(self._route_arg("groups"))
        except ValueError:
            return None

    async def _refresh(self, user: User, group_id: uuid.UUID) -> None:
        async with session_scope() as db:
            group = await groups.get_visible(db, user, group_id)
            members = await groups.list_members(db, user, group_id)
            mine = await groups.membership(db, group_id, user.id)
            self.can_manage = self.is_admin or (mine is not None and mine.role == GroupRole.ADMIN)
            pending = await invitations.list_pending(db, user, group_id) if self.can_manage else []
        self.activity = await group_activity_rows(user, group_id) if self.can_manage else []
        self.group_id = str(group.id)
        self.name, self.description = group.name, group.description
        self.my_role = mine.role if mine else ""
        self.members = [
            MemberRow(
                user_id=str(m.user_id),
                name=m.display_name,
                email=m.email,
                role=m.role,
                active=m.is_active,
                joined=m.joined_at.strftime("%Y-%m-%d"),
                is_self=m.user_id == user.id,
            )
            for m in members
        ]
        self.pending = [
            InvitationRow(
                id=str(p.id),
                email=p.email,
                inviter=p.inviter_name,
                expires=iso_utc(p.expires_at),
            )
            for p in pending
        ]
        self.not_found = False

    async def _signed_in_group(self) -> tuple[User | None, uuid.UUID | None, EventSpec | None]:
        user = await self._authenticate()
        if user is None:
            return None, None, self._to_sign_in()
        group_id = self._gid()
        if group_id is None:
            self.not_found = True
        return user, group_id, None

    @rx.event
    async def load(self) -> EventSpec | None:
        self.invite_error = self.invite_note = self.confirm = ""
        self.edit_open = False
        user, group_id, redirect = await self._signed_in_group()
        if user is None or group_id is None:
            return redirect
        try:
            await self._refresh(user, group_id)
        except NotFound:
            self.not_found = True
            self.members, self.pending, self.name = [], [], ""
        return None

    async def _act(self, action: str, work: GroupAction) -> EventSpec | None:
        """Run a group action, reload, and toast the outcome or the service's refusal."""
        user, group_id, redirect = await self._signed_in_group()
        if user is None or group_id is None:
            return redirect
        try:
            async with session_scope() as db:
                await work(db, user, group_id)
            await self._refresh(user, group_id)
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success(action)

    @rx.event
    def set_edit_open(self, value: bool) -> None:
        self.edit_open = value
        self.name_error = self.description_error = ""

    @rx.event
    async def save(self, form: dict[str, str]) -> EventSpec | None:
        user, group_id, redirect = await self._signed_in_group()
        if user is None or group_id is None:
            return redirect
        try:
            async with session_scope() as db:
                await groups.update_group(
                    db,
                    user,
                    group_id,
                    str(form.get("name", "")),
                    str(form.get("description", "")),
                    self._context(),
                )
        except ValidationFailed as exc:
            self.name_error = exc.fields.get("name", "")
            self.description_error = exc.fields.get("description", "")
            return None
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        self.edit_open = False
        await self._refresh(user, group_id)
        return rx.toast.success("Saved.")

    @rx.event
    async def set_role(self, user_id: str, role: str) -> EventSpec | None:
        target, context = uuid.UUID(user_id), self._context()
        return await self._act(
            "Role changed.",
            lambda db, user, gid: groups.set_member_role(db, user, gid, target, role, context),
        )

    @rx.event
    async def remove(self, user_id: str) -> EventSpec | None:
        target, context = uuid.UUID(user_id), self._context()
        return await self._act(
            "Removed from the group.",
            lambda db, user, gid: groups.remove_member(db, user, gid, target, context),
        )

    @rx.event
    async def invite(self, form: dict[str, str]) -> EventSpec | None:
        self.invite_error = self.invite_note = ""
        user, group_id, redirect = await self._signed_in_group()
        if user is None or group_id is None:
            return redirect
        email = str(form.get("email", ""))
        try:
            async with session_scope() as db:
                sent = await invitations.invite(db, user, email, group_id, self._context())
            await self._refresh(user, group_id)
        except ValidationFailed as exc:
            self.invite_error = exc.fields.get("email", exc.message)
            return None
        except ServiceError as exc:
            self.invite_error = exc.message
            return None
        self.invite_note = delivery_note(sent.delivered_by, sent.invitation.invitee_email)
        return None

    @rx.event
    async def revoke(self, invitation_id: str) -> EventSpec | None:
        target, context = uuid.UUID(invitation_id), self._context()
        return await self._act(
            "Invitation withdrawn.",
            lambda db, user, gid: invitations.revoke(db, user, target, context),
        )

    @rx.event
    def ask(self, what: str) -> None:
        self.confirm = what if what in ("leave", "delete") else ""

    @rx.event
    async def confirmed(self) -> EventSpec | None:
        what, self.confirm = self.confirm, ""
        user, group_id, redirect = await self._signed_in_group()
        if user is None or group_id is None:
            return redirect
        try:
            async with session_scope() as db:
                if what == "leave":
                    await groups.leave_group(db, user, group_id, self._context())
                elif what == "delete":
                    await groups.delete_group(db, user, group_id, self._context())
                else:
                    return None
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        return rx.redirect("/groups")
