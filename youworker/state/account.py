"""The account page: profile, password, sessions and API keys."""

from __future__ import annotations

import uuid

import reflex as rx
from reflex.event import EventSpec
from reflex.experimental.client_state import ClientStateVar

from youworker.db import session_scope
from youworker.models import User
from youworker.services import accounts, api_keys, sessions
from youworker.services.errors import NotFound, ValidationFailed
from youworker.state.guards import signed_in
from youworker.state.session import SessionState
from youworker.state.times import iso_or_empty

# A new API key lives only in the page (React state), never in the tab's server-side state: the
# state store keeps what a tab shows, and this is shown once.
NEW_KEY = ClientStateVar.create("new_api_key", default="")


class AccountState(SessionState):
    display_name_input: str = ""
    profile_error: str = ""
    current_password_error: str = ""
    new_password_error: str = ""
    sessions: list[dict[str, str]] = []
    keys: list[dict[str, str]] = []
    key_name_error: str = ""

    async def _refresh(self, user: User) -> None:
        async with session_scope() as db:
            session_rows = await sessions.list_for(db, user)
            key_rows = await api_keys.list_for(db, user)
        self.sessions = [
            {
                "id": str(row.id),
                "ip": row.ip or "unknown",
                "user_agent": (row.user_agent or "unknown")[:120],
                "last_seen": iso_or_empty(row.last_seen_at),
                "created": iso_or_empty(row.created_at),
                "current": "yes" if str(row.id) == self._session_id else "",
            }
            for row in session_rows
        ]
        self.keys = [
            {
                "id": str(k.id),
                "name": k.name,
                "prefix": k.prefix,
                "created": iso_or_empty(k.created_at),
                "last_used": iso_or_empty(k.last_used_at),
            }
            for k in key_rows
        ]

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | None:
        self.display_name_input = user.display_name
        self.profile_error = self.current_password_error = self.new_password_error = ""
        self.key_name_error = ""
        await self._refresh(user)
        return None

    @rx.event
    @signed_in
    async def save_profile(self, user: User, form: dict[str, str]) -> EventSpec | None:
        self.profile_error = ""
        try:
            async with session_scope() as db:
                updated = await accounts.update_profile(
                    db,
                    user,
                    display_name=str(form.get("display_name", "")),
                    context=self._context(),
                )
        except ValidationFailed as exc:
            self.profile_error = exc.fields.get("display_name", exc.message)
            return None
        self.user_name = updated.display_name
        return rx.toast.success("Profile saved.")

    @rx.event
    @signed_in
    async def change_password(self, user: User, form: dict[str, str]) -> EventSpec | None:
        self.current_password_error = self.new_password_error = ""
        try:
            async with session_scope() as db:
                changed = await accounts.change_password(
                    db,
                    user,
                    current_password=str(form.get("current_password", "")),
                    new_password=str(form.get("new_password", "")),
                    keep_session_id=uuid.UUID(self._session_id),
                    context=self._context(),
                )
        except ValidationFailed as exc:
            self.current_password_error = exc.fields.get("current_password", "")
            self.new_password_error = exc.fields.get("new_password", "")
            return None
        await self._refresh(user)
        return rx.toast.success(
            f"Password changed. {changed.sessions_ended} other session(s) signed out, "
            f"{changed.api_keys_revoked} API key(s) revoked."
        )

    @rx.event
    @signed_in
    async def revoke_session(self, user: User, session_id: str) -> EventSpec | None:
        try:
            async with session_scope() as db:
                await sessions.revoke(db, user, uuid.UUID(session_id), self._context())
        except (NotFound, ValueError):
            return rx.toast.error("That session no longer exists.")
        if session_id == self._session_id:
            return await self._end_browser_session()
        await self._refresh(user)
        return rx.toast.success("Session ended.")

    @rx.event
    @signed_in
    async def create_key(self, user: User, form: dict[str, str]) -> EventSpec | None:
        self.key_name_error = ""
        try:
            async with session_scope() as db:
                _, plain = await api_keys.create(
                    db, user, str(form.get("name", "")), self._context()
                )
        except ValidationFailed as exc:
            self.key_name_error = exc.fields.get("name", exc.message)
            return None
        await self._refresh(user)
        return NEW_KEY.push(plain)

    @rx.event
    @signed_in
    async def revoke_key(self, user: User, key_id: str) -> EventSpec | None:
        try:
            async with session_scope() as db:
                await api_keys.revoke(db, user, uuid.UUID(key_id), self._context())
        except (NotFound, ValueError):
            return rx.toast.error("That key no longer exists.")
        await self._refresh(user)
        return rx.toast.success("API key revoked.")
