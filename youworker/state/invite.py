"""/invite/[token]: accept an invitation as the signed-in user, or register and join."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import Group
from youworker.services import invitation_inbox, invitations, sessions
from youworker.services.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from youworker.state.session import SessionState


def _landing(group: Group | None) -> str:
    return f"/groups/{group.id}" if group else "/chat"


class InviteState(SessionState):
    status: str = ""  # an InvitationState value, or "member"; "" while loading
    joined_group_id: str = ""
    invited_email: str = ""
    group_name: str = ""
    inviter_name: str = ""
    error: str = ""
    display_name_error: str = ""
    password_error: str = ""
    confirm_error: str = ""

    def _token(self) -> str:
        return self._route_arg("invite")[: invitations.TOKEN_MAX + 1]

    @rx.var
    def email_matches(self) -> bool:
        return self.signed_in and self.user_email == self.invited_email

    @rx.var
    def sign_in_href(self) -> str:
        return f"/login?next=/invite/{self._token()}"

    @rx.event
    async def load(self) -> None:
        self.error = self.display_name_error = self.password_error = self.confirm_error = ""
        self.status = self.joined_group_id = ""
        user = await self._authenticate()
        async with session_scope() as db:
            found = await invitations.lookup(db, self._token())
            joined = await invitation_inbox.group_already_joined(db, user, self._token())
        if joined is not None:
            self.status, self.group_name, self.joined_group_id = (
                "member",
                joined.name,
                str(joined.id),
            )
            return
        self.status = found.state.value
        self.invited_email = found.email
        self.group_name = found.group_name
        self.inviter_name = found.inviter_name

    @rx.event
    async def accept(self) -> EventSpec | None:
        self.error = ""
        user = await self._authenticate()
        if user is None:
            return rx.redirect(self.sign_in_href)
        try:
            async with session_scope() as db:
                group = await invitations.accept(db, user, self._token(), self._context())
        except (Forbidden, NotFound) as exc:
            self.error = exc.message
            return None
        return rx.redirect(_landing(group))

    @rx.event
    async def register(self, form: dict[str, str]) -> EventSpec | None:
        self.error = self.display_name_error = self.password_error = self.confirm_error = ""
        password = str(form.get("password", ""))
        if password != str(form.get("confirm_password", "")):
            self.confirm_error = "Passwords do not match."
            return None
        try:
            async with session_scope() as db:
                user, group = await invitations.register_and_accept(
                    db,
                    self._token(),
                    password=password,
                    display_name=str(form.get("display_name", "")),
                    context=self._context(),
                )
                code = await sessions.begin(db, user, self._context())
        except ValidationFailed as exc:
            self.display_name_error = exc.fields.get("display_name", "")
            self.password_error = exc.fields.get("password", "")
            # The account exists already: the invitee signs in instead.
            self.error = exc.fields.get("email", "")
            return None
        except ServiceError as exc:
            self.error = exc.message
            return None
        return self._hand_off(code, _landing(group))
