"""A tab's token is not a credential: the user a tab's state holds must be the request's.

Reflex keeps every tab's state under the token the page chose, loads it for each event before
any handler runs, and answers a page load (hydrate) with all of it. So whoever presents a token
would read what that tab showed. This middleware runs first on every event: when the tab holds a
user and the request's session cookie is not that user's session (no cookie, another cookie, or,
on a page load, a session that has ended since), every page state of the tab is reset before
anything else happens. The event then runs as whoever the cookie says, on an empty tab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reflex.istate.manager.token import BaseStateToken
from reflex.middleware import Middleware
from reflex.state import BaseState, StateUpdate
from reflex_base.event import Event

from youworker.logging import get_logger
from youworker.services.hashing import token_digest
from youworker.state.session import SessionState

if TYPE_CHECKING:
    from reflex.app import App

log = get_logger(__name__)

# Events that (re)load a page: Reflex answers the first with the whole state tree.
PAGE_LOADS = frozenset({"hydrate", "hydrate_and_load", "on_load_internal"})


class TabSessionGuard(Middleware):
    """Reset a tab whose stored session is not the one the request carries."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        session = await state.get_state(SessionState)
        if not session._session_digest:
            return None  # nobody signed in on this tab: nothing of anyone's to protect
        cookie = session._cookie_token()
        if cookie is not None and token_digest(cookie) == session._session_digest:
            if event.name.rpartition(".")[2] not in PAGE_LOADS:
                return None
            if await session._session_is_current(cookie):
                return None
            reason = "session_ended"
        else:
            reason = "no_cookie" if cookie is None else "other_session"
        log.info("tab_state_reset", reason=reason, handler=event.name)
        await session._reset_tab()
        return None


class TabOwner:
    """Who a tab belongs to (the user id its state holds), by token: for the `/_upload` guard,
    which runs outside Reflex's event processing. Bound to the app once it exists."""

    def __init__(self) -> None:
        self.app: App | None = None

    async def __call__(self, token: str) -> str:
        if self.app is None:
            return ""
        root = await self.app.state_manager.get_state(BaseStateToken(ident=token, cls=SessionState))
        session = await root.get_state(SessionState)
        return str(session._user_id)
