"""The client's IP address: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.services import authz
from youworker.services.network import IPAddress, in_networks, parse_ip
from youworker.settings import IPNetwork

__all__ = ["IPAddress", "TrustedProxyHeaders", "forwarded_client", "in_networks", "parse_ip"]


def forwarded_client(peer: IPAddress, forwarded_for: str, trusted: Sequence[IPNetwork]) -> str:
    """Walk X-Forwarded-For from the right, past trusted proxies, to the first hop not vouched for.

    A malformed hop is returned as it is: it names no address, so allow-lists refuse it.
    """
    client = str(peer)
    current: IPAddress | None = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if current is None or not in_networks(current, trusted):
            break
        client, current = hop, parse_ip(hop)
    return client


class TrustedProxyHeaders:
    """Behind trusted proxies, put the real client into `scope["client"]` for everything inside,
    and into the request's context for the services' admin checks.

    X-Forwarded-For is ignored unless the TCP peer is listed in SECURITY__TRUSTED_PROXIES: anyone
    can send the header, only a proxy we trust can vouch for it.
    """

    def __init__(self, app: ASGIApp, *, trusted: Sequence[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            client = scope.get("client")
            peer = parse_ip(client[0]) if client else None
            header = Headers(scope=scope).get("x-forwarded-for", "")
            if peer is not None and header and in_networks(peer, self.trusted):
                scope = dict(scope, client=(forwarded_client(peer, header, self.trusted), 0))
        if scope["type"] == "http":
            # The admin checks in the services read it (SECURITY__IP_ALLOWLIST).
            client = scope.get("client")
            authz.set_client_address(client[0] if client else None)
        await self.app(scope, receive, send)
