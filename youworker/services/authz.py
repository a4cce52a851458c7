"""Authorization checks reused by every service.

Site-admin powers also depend on where the request comes from: with SECURITY__IP_ALLOWLIST set
(whatever its scope), they are refused to any address outside the list. The address is the
request's own, bound by whoever serves it (`set_client_address`: the HTTP middleware for HTTP,
the state helper for each websocket event); with a list configured, an unknown address is outside.
"""

from __future__ import annotations

from contextvars import ContextVar

from youworker.models import User
from youworker.services.errors import AuthenticationFailed, Forbidden
from youworker.services.network import in_networks, parse_ip
from youworker.settings import get_settings

_client_address: ContextVar[str | None] = ContextVar("youworker_client_address", default=None)

OUTSIDE_ALLOWLIST = "Administration is not allowed from your network address."


def set_client_address(address: str | None) -> None:
    """The network address of the request being served (in this task and the tasks it starts)."""
    _client_address.set(address or None)


def admin_network_allowed() -> bool:
    networks = get_settings().security.ip_networks
    if not networks:
        return True
    address = parse_ip(_client_address.get())
    return address is not None and in_networks(address, networks)


def require_active(actor: User | None) -> User:
    if actor is None or not actor.is_active:
        raise AuthenticationFailed("Sign in to continue.")
    return actor


def acts_as_site_admin(actor: User) -> bool:
    """A site admin's powers apply: the role, from an allowed network address."""
    return actor.is_admin and admin_network_allowed()


def require_site_admin(actor: User | None) -> User:
    user = require_active(actor)
    if not user.is_admin:
        raise Forbidden("Only administrators can do this.")
    if not admin_network_allowed():
        raise Forbidden(OUTSIDE_ALLOWLIST)
    return user
