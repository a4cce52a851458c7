"""Guards for event handlers that act for the signed-in user or a site admin.

Any client can send any event, so every such handler re-checks the session cookie in the database
(sign-out and deactivation act at once). The decorators do it once for all: the handler is
written with the `User` as its first argument, and the page's event takes the remaining ones.
Arguments of the wrong type (only a forged event sends them) are refused before the handler
runs. `parse_id` turns an id the page sent into a UUID, or the NotFound a forged one deserves.
"""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import reflex as rx
from reflex.event import EventSpec

from youworker.logging import get_logger
from youworker.models import User
from youworker.services.errors import NotFound
from youworker.state.event_args import misfit_argument
from youworker.state.session import SessionState

log = get_logger(__name__)
NOT_UNDERSTOOD = "That request was not understood. Reload the page and try again."

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=SessionState)

Guarded = Callable[Concatenate[S, P], Coroutine[Any, Any, R | EventSpec | None]]


def parse_id(raw: str, missing: str) -> uuid.UUID:
    """An id the page sent; one that is no id at all is as missing as one that matches nothing."""
    try:
        return uuid.UUID(raw)
    except (ValueError, TypeError, AttributeError):
        raise NotFound(missing) from None


def _refused(handler: Callable[..., Any], argument: str) -> EventSpec:
    log.warning("event refused", handler=handler.__qualname__, argument=argument)
    return rx.toast.error(NOT_UNDERSTOOD)


def _without_user(handler: Callable[..., Any], guarded: Callable[..., Any]) -> None:
    """Reflex reads a handler's parameters (to map the page's arguments) from its signature and
    type hints: the guarded one shows the handler's, without the user it supplies itself."""
    signature = inspect.signature(handler)
    parameters = list(signature.parameters.values())
    user = parameters.pop(1)
    guarded.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    guarded.__annotations__ = {
        name: hint for name, hint in handler.__annotations__.items() if name != user.name
    }


def signed_in(
    handler: Callable[Concatenate[S, User, P], Awaitable[R]],
) -> Guarded[S, P, R]:
    """Run the handler for the signed-in user; a tab without a valid session goes to sign-in."""

    @functools.wraps(handler)
    async def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> R | EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        if misfit := misfit_argument(handler, self, user, *args, **kwargs):
            return _refused(handler, misfit)
        return await handler(self, user, *args, **kwargs)

    _without_user(handler, guarded)
    return guarded


class AdminPage(SessionState, mixin=True):
    """An admin page: shows "access denied" (and nothing else) to a signed-in non-admin."""

    access_denied: bool = False

    def _forget_page(self) -> None:
        """Drop what the page shows; called when access is refused. Pages override it."""


A = TypeVar("A", bound=AdminPage)


def _admin_guard(
    handler: Callable[Concatenate[A, User, P], Awaitable[R]], refusal: str | None
) -> Guarded[A, P, R]:
    @functools.wraps(handler)
    async def guarded(self: A, *args: P.args, **kwargs: P.kwargs) -> R | EventSpec | None:
        user = await self._authenticate()
        if user is None:
            self._forget_page()
            return self._to_sign_in()
        # is_admin is the role from an allowed address (SECURITY__IP_ALLOWLIST); the services
        # check it again.
        self.access_denied = not self.is_admin
        if self.access_denied:
            self._forget_page()
            return rx.toast.error(refusal) if refusal else None
        if misfit := misfit_argument(handler, self, user, *args, **kwargs):
            return _refused(handler, misfit)
        return await handler(self, user, *args, **kwargs)

    _without_user(handler, guarded)
    return guarded


def site_admin(handler: Callable[Concatenate[A, User, P], Awaitable[R]]) -> Guarded[A, P, R]:
    """An admin action: run for a site admin; anyone else is refused with a toast."""
    return _admin_guard(handler, "Administrators only.")


def site_admin_view(
    handler: Callable[Concatenate[A, User, P], Awaitable[R]],
) -> Guarded[A, P, R]:
    """Loading, searching or paging an admin page: a non-admin sees the access-denied panel."""
    return _admin_guard(handler, None)
