"""Admin pages. Every handler goes through services that refuse non-admins themselves."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import MailStatus, User
from youworker.services import invitations, password_reset, registration, users_admin
from youworker.services.errors import (
    ServiceError,
    ValidationFailed,
)
from youworker.state.admin_list import PAGE_SIZE, SearchableList
from youworker.state.groups import InvitationRow, delivery_note
from youworker.state.guards import parse_id, site_admin
from youworker.state.session import SessionState
from youworker.state.times import iso_or_empty, iso_utc


class AdminState(SearchableList, SessionState):
    query_max_chars: ClassVar[int] = 254  # an email address
    users: list[dict[str, str]] = []
    registration_mode: str = registration.RegistrationMode.OPEN.value
    pending_invitations: list[InvitationRow] = []
    invite_error: str = ""
    invite_note: str = ""

    def _forget_page(self) -> None:
        self.users = []

    async def _reload(self, actor: User) -> None:
        async with session_scope() as db:
            result = await users_admin.list_users(
                db, actor, query=self.query, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE
            )
            self.registration_mode = (await registration.get_mode(db)).value
            pending = await invitations.list_pending(db, actor, None)
        self.pending_invitations = [
            InvitationRow(
                id=str(p.id),
                email=p.email,
                inviter=p.inviter_name,
                expires=iso_utc(p.expires_at),
            )
            for p in pending
        ]
        self.total = result.total
        self.users = [
            {
                "id": str(u.id),
                "email": u.email,
                "name": u.display_name,
                "role": u.role,
                "active": "yes" if u.is_active else "",
                "created": u.created_at.strftime("%Y-%m-%d"),
                "last_sign_in": iso_or_empty(u.last_sign_in_at),
                "is_self": "yes" if u.id == actor.id else "",
            }
            for u in result.users
        ]

    @rx.event
    @site_admin
    async def set_role(self, actor: User, user_id: str, role: str) -> EventSpec:
        try:
            async with session_scope() as db:
                target = parse_id(user_id, "User not found.")
                await users_admin.set_role(db, actor, target, role, self._context())
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        await self._reload(actor)
        return rx.toast.success("Saved.")

    @rx.event
    @site_admin
    async def set_active(self, actor: User, user_id: str, active: str) -> EventSpec:
        try:
            async with session_scope() as db:
                target = parse_id(user_id, "User not found.")
                await users_admin.set_active(db, actor, target, active == "yes", self._context())
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        await self._reload(actor)
        return rx.toast.success("Saved.")

    @rx.event
    @site_admin
    async def send_reset_link(self, actor: User, user_id: str) -> EventSpec:
        try:
            async with session_scope() as db:
                sent = await password_reset.send_reset_link(
                    db, actor, parse_id(user_id, "User not found."), self._context()
                )
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        if sent.delivery == MailStatus.SENT:
            return rx.toast.success(f"Reset link sent to {sent.email}.")
        if sent.delivery == MailStatus.FAILED:
            return rx.toast.warning(
                f"Sending to {sent.email} failed; the reset link is in the outbox."
            )
        return rx.toast.info(
            f"SMTP is not configured: the reset link for {sent.email} is in the outbox."
        )

    @rx.event
    @site_admin
    async def set_registration_mode(self, actor: User, mode: str) -> EventSpec:
        try:
            async with session_scope() as db:
                self.registration_mode = (
                    await registration.set_mode(db, actor, mode, self._context())
                ).value
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success("Registration policy saved.")

    @rx.event
    @site_admin
    async def invite(self, actor: User, form: dict[str, str]) -> None:
        """Invite someone to the installation (they may register even when it is invite-only)."""
        self.invite_error = self.invite_note = ""
        try:
            async with session_scope() as db:
                sent = await invitations.invite(
                    db, actor, str(form.get("email", "")), None, self._context()
                )
        except ValidationFailed as exc:
            self.invite_error = exc.fields.get("email", exc.message)
            return
        except ServiceError as exc:
            self.invite_error = exc.message
            return
        self.invite_note = delivery_note(sent.delivered_by, sent.invitation.invitee_email)
        await self._reload(actor)

    @rx.event
    @site_admin
    async def revoke_invitation(self, actor: User, invitation_id: str) -> EventSpec:
        try:
            async with session_scope() as db:
                target = parse_id(invitation_id, "Invitation not found.")
                await invitations.revoke(db, actor, target, self._context())
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        await self._reload(actor)
        return rx.toast.success("Invitation withdrawn.")
