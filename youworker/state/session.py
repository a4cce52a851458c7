"""The signed-in user, resolved from the HttpOnly session cookie on every event."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

import reflex as rx
from reflex.event import EventSpec
from reflex.state import BaseState

from youworker.db import session_scope
from youworker.models import User
from youworker.services import authz, sessions
from youworker.services.audit import RequestContext
from youworker.services.hashing import token_digest
from youworker.services.redirects import DEFAULT_TARGET, safe_next
from youworker.settings import get_settings
from youworker.state import scripts


class SessionState(rx.State):
    """Who is signed in. Every handler that acts for a user calls `_authenticate` first."""

    user_email: str = ""
    user_name: str = ""
    is_admin: bool = False
    signed_in: bool = False
    _user_id: str = ""
    _session_id: str = ""
    # SHA-256 of the cookie that signed this tab in (as the database keeps it): the tab guard
    # resets the tab when a request brings another cookie, or none.
    _session_digest: str = ""
    # Where a sign-in on this tab goes once the cookie is set: kept here, never sent to the page.
    _after_sign_in: str = ""

    def _cookie_token(self) -> str | None:
        raw = self.router.headers.cookie
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(sessions.COOKIE_NAME)
        return morsel.value if morsel else None

    def _context(self) -> RequestContext:
        return RequestContext(
            ip=self.router.session.client_ip or None, user_agent=self.router.headers.user_agent
        )

    def _route_arg(self, section: str) -> str:
        """The path segment after `/section/` (a dynamic route's argument), or ""."""
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1] if len(parts) >= 2 and parts[0] == section else ""

    def _forget_user(self) -> None:
        self.user_email = ""
        self.user_name = ""
        self.is_admin = False
        self.signed_in = False
        self._user_id = ""
        self._session_id = ""
        self._session_digest = ""

    async def _reset_tab(self) -> None:
        """Every page state of this tab back to its defaults (all of them extend this one).

        Reflex answers a tab's next page load with its whole state, so what one user saw must
        not stay for whoever presents the tab's token next. A Redis store loads only the states
        an event needs: the others are fetched first, so the reset reaches them too.
        """
        session = await self.get_state(SessionState)
        pending: list[type[BaseState]] = [SessionState]
        while pending:
            cls = pending.pop()
            await self.get_state(cls)
            pending.extend(cls.get_substates())
        session.reset()
        session._forget_user()

    async def _session_is_current(self, cookie: str) -> bool:
        """The cookie's session is still valid and is the one this tab was signed in with."""
        async with session_scope() as db:
            found = await sessions.resolve(db, cookie, get_settings().security.session_ttl)
        return found is not None and str(found.session_id) == self._session_id

    async def _authenticate(self) -> User | None:
        """Re-check the session in the database: deactivation and sign-out act at once."""
        # The services' admin checks hold site-admin powers to SECURITY__IP_ALLOWLIST.
        authz.set_client_address(self.router.session.client_ip)
        cookie = self._cookie_token()
        async with session_scope() as db:
            found = await sessions.resolve(db, cookie, get_settings().security.session_ttl)
        if found is None or cookie is None:
            if self._user_id:  # the tab showed someone's data: none of it stays
                await self._reset_tab()
            self._forget_user()
            return None
        user = found.user
        self.user_email = user.email
        self.user_name = user.display_name
        self.is_admin = authz.acts_as_site_admin(user)  # the role, from an allowed address
        self.signed_in = True
        self._user_id = str(user.id)
        self._session_id = str(found.session_id)
        self._session_digest = token_digest(cookie)
        return user

    def _to_sign_in(self) -> EventSpec:
        return rx.redirect(f"/login?next={self.router.url.path}", replace=True)

    @rx.event
    async def require_user(self) -> EventSpec | None:
        """on_load guard for pages that need a signed-in user."""
        if await self._authenticate() is None:
            return self._to_sign_in()
        return None

    def _hand_off(self, code: str, target: str) -> EventSpec:
        """Sign-in succeeded: the page swaps `code` for the HttpOnly cookie, then loads the index
        page, which sends it on to `target` (a same-site path, kept on the server)."""
        self._after_sign_in = safe_next(target)
        return scripts.hand_off(code)

    def _after_sign_in_redirect(self) -> EventSpec:
        target, self._after_sign_in = safe_next(self._after_sign_in or DEFAULT_TARGET), ""
        return rx.redirect(target, replace=True)

    @rx.event
    async def redirect_home(self) -> EventSpec:
        """The index page: where the sign-in was headed (chat by default) for signed-in users,
        sign-in for everyone else."""
        if await self._authenticate() is None:
            return rx.redirect("/login", replace=True)
        return self._after_sign_in_redirect()

    async def _end_browser_session(self) -> EventSpec:
        """The cookie is HttpOnly, so the browser asks the server to end and clear it; the tab
        forgets everything it showed."""
        await self._reset_tab()
        return scripts.run(scripts.SIGN_OUT)

    @rx.event
    async def sign_out(self) -> EventSpec:
        return await self._end_browser_session()
