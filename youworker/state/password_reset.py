"""The /reset/[token] page: check the link, then set a new password through it."""

from __future__ import annotations

import reflex as rx

from youworker.db import session_scope
from youworker.services import password_reset
from youworker.services.errors import ValidationFailed
from youworker.state.session import SessionState

DONE = "done"


class PasswordResetState(SessionState):
    # "" while checking; then a password_reset.ResetStatus value, or DONE once changed.
    status: str = ""
    email: str = ""
    password_error: str = ""
    confirm_error: str = ""

    def _route_token(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1] if len(parts) == 2 and parts[0] == "reset" else ""

    @rx.event
    async def load(self) -> None:
        self.status = self.email = self.password_error = self.confirm_error = ""
        async with session_scope() as db:
            link = await password_reset.inspect(db, self._route_token())
        self.status = link.status.value
        self.email = link.email

    @rx.event
    async def submit(self, form: dict[str, str]) -> None:
        self.password_error = self.confirm_error = ""
        password = str(form.get("password", ""))
        if password != str(form.get("confirm_password", "")):
            self.confirm_error = "Passwords do not match."
            return
        try:
            async with session_scope() as db:
                await password_reset.complete_reset(
                    db, self._route_token(), password, context=self._context()
                )
        except ValidationFailed as exc:
            self.password_error = exc.fields.get("password", exc.message)
            return
        except password_reset.ResetUnavailable as exc:
            self.status = exc.status.value
            self.email = ""
            return
        self.status = DONE
        self.email = ""
