"""Admin pages. Every handler goes through services that refuse non-admins themselves."""

from __future__ import annotations

import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import MailStatus, User
from youworker.services import invitations, password_reset, registration, users_admin
from youworker.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from youworker.state.groups import InvitationRow, delivery_note
from youworker.state.session import SessionState
from youworker.state.times import iso_or_empty, iso_utc

PAGE_SIZE = 20


class AdminState(SessionState):
    access_denied: bool = False
    users: list[dict[str, str]] = []
    total_users: int = 0
    page: int = 0
    query: str = ""
    registration_mode: str = registration.RegistrationMode.OPEN.value
    pending_invitations: list[InvitationRow] = []
    invite_error: str = ""
    invite_note: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total_users // PAGE_SIZE))

    async def _admin(self) -> User | None:
        user = await self._authenticate()
        self.access_denied = user is not None and not self.is_admin
        return user if user is not None and self.is_admin else None

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
        self.total_users = result.total
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

    async def _guarded(self) -> tuple[User | None, EventSpec | None]:
        actor = await self._admin()
        if actor is None and not self.access_denied:
            return None, self._to_sign_in()
        return actor, None

    @rx.event
    async def load(self) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            self.users = []
            return redirect
        self.page = 0
        await self._reload(actor)
        return None

    @rx.event
    async def search(self, query: str) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect
        self.query = query[:254]
        self.page = 0
        await self._reload(actor)
        return None

    @rx.event
    async def go_to_page(self, page: int) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect
        self.page = max(0, min(int(page), self.page_count - 1))
        await self._reload(actor)
        return None

    async def _apply(self, action: str, user_id: str, value: str) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect or rx.toast.error("Administrators only.")
        try:
            target = uuid.UUID(user_id)
            async with session_scope() as db:
                if action == "role":
                    await users_admin.set_role(db, actor, target, value, self._context())
                else:
                    await users_admin.set_active(db, actor, target, value == "yes", self._context())
        except (Conflict, Forbidden, NotFound, ValidationFailed) as exc:
            return rx.toast.error(exc.message)
        except ValueError:
            return rx.toast.error("User not found.")
        await self._reload(actor)
        return rx.toast.success("Saved.")

    @rx.event
    async def set_role(self, user_id: str, role: str) -> EventSpec | None:
        return await self._apply("role", user_id, role)

    @rx.event
    async def set_active(self, user_id: str, active: str) -> EventSpec | None:
        return await self._apply("active", user_id, active)

    @rx.event
    async def send_reset_link(self, user_id: str) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect or rx.toast.error("Administrators only.")
        try:
            async with session_scope() as db:
                sent = await password_reset.send_reset_link(
                    db, actor, uuid.UUID(user_id), self._context()
                )
        except (Conflict, Forbidden, NotFound) as exc:
            return rx.toast.error(exc.message)
        except ValueError:
            return rx.toast.error("User not found.")
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
    async def set_registration_mode(self, mode: str) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect or rx.toast.error("Administrators only.")
        try:
            async with session_scope() as db:
                self.registration_mode = (
                    await registration.set_mode(db, actor, mode, self._context())
                ).value
        except (Forbidden, ValidationFailed) as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success("Registration policy saved.")

    @rx.event
    async def invite(self, form: dict[str, str]) -> EventSpec | None:
        """Invite someone to the installation (they may register even when it is invite-only)."""
        self.invite_error = self.invite_note = ""
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect or rx.toast.error("Administrators only.")
        try:
            async with session_scope() as db:
                sent = await invitations.invite(
                    db, actor, str(form.get("email", "")), None, self._context()
                )
        except ValidationFailed as exc:
            self.invite_error = exc.fields.get("email", exc.message)
            return None
        except ServiceError as exc:
            self.invite_error = exc.message
            return None
        self.invite_note = delivery_note(sent.delivered_by, sent.invitation.invitee_email)
        await self._reload(actor)
        return None

    @rx.event
    async def revoke_invitation(self, invitation_id: str) -> EventSpec | None:
        actor, redirect = await self._guarded()
        if actor is None:
            return redirect or rx.toast.error("Administrators only.")
        try:
            async with session_scope() as db:
                await invitations.revoke(db, actor, uuid.UUID(invitation_id), self._context())
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        except ValueError:
            return rx.toast.error("Invitation not found.")
        await self._reload(actor)
        return rx.toast.success("Invitation withdrawn.")
