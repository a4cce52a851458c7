"""Sign-in and registration forms."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.services import accounts, sessions
from youworker.services.errors import (
    AuthenticationFailed,
    Forbidden,
    RateLimited,
    ValidationFailed,
)
from youworker.services.redirects import safe_next
from youworker.services.registration import RegistrationMode, get_mode
from youworker.state.session import SessionState


class LoginState(SessionState):
    email_error: str = ""
    password_error: str = ""
    form_error: str = ""
    busy: bool = False

    @rx.event
    async def check_already_signed_in(self) -> EventSpec | None:
        self.email_error = self.password_error = self.form_error = ""
        if await self._authenticate() is not None:
            return self._after_sign_in_redirect()
        if self.router.url.query_parameters.get("expired"):
            self.form_error = "Your sign-in did not complete in time. Please sign in again."
        return None

    @rx.event
    async def submit(self, form: dict[str, str]) -> EventSpec | None:
        self.email_error = self.password_error = self.form_error = ""
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        try:
            async with session_scope() as db:
                user = await accounts.authenticate(
                    db, email=email, password=password, context=self._context()
                )
                code = await sessions.begin(db, user, self._context())
        except ValidationFailed as exc:
            self.email_error = exc.fields.get("email", "")
            self.password_error = exc.fields.get("password", "")
            return None
        except (AuthenticationFailed, RateLimited) as exc:
            self.form_error = exc.message
            return None
        return self._hand_off(code, safe_next(self.router.url.query_parameters.get("next")))


class RegisterState(SessionState):
    email_error: str = ""
    display_name_error: str = ""
    password_error: str = ""
    confirm_error: str = ""
    form_error: str = ""
    invite_only: bool = False

    @rx.event
    async def load(self) -> EventSpec | None:
        self.email_error = self.display_name_error = self.password_error = ""
        self.confirm_error = self.form_error = ""
        if await self._authenticate() is not None:
            return rx.redirect("/chat", replace=True)
        async with session_scope() as db:
            self.invite_only = (
                await accounts.count_users(db) > 0
                and await get_mode(db) == RegistrationMode.INVITE_ONLY
            )
        return None

    @rx.event
    async def submit(self, form: dict[str, str]) -> EventSpec | None:
        self.email_error = self.display_name_error = self.password_error = ""
        self.confirm_error = self.form_error = ""
        password = str(form.get("password", ""))
        if password != str(form.get("confirm_password", "")):
            self.confirm_error = "Passwords do not match."
            return None
        try:
            async with session_scope() as db:
                user = await accounts.register(
                    db,
                    email=str(form.get("email", "")),
                    password=password,
                    display_name=str(form.get("display_name", "")),
                    context=self._context(),
                )
                code = await sessions.begin(db, user, self._context())
        except ValidationFailed as exc:
            self.email_error = exc.fields.get("email", "")
            self.display_name_error = exc.fields.get("display_name", "")
            self.password_error = exc.fields.get("password", "")
            return None
        except (Forbidden, RateLimited) as exc:
            self.form_error = exc.message
            return None
        return self._hand_off(code, "/chat")
