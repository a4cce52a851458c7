"""The client's IP address: the TCP peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(value: str | None) -> IPAddress | None:
    """An address, with IPv4-mapped IPv6 (`::ffff:10.0.0.1`) unwrapped to plain IPv4."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


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
    """Behind trusted proxies, put the real client into `scope["client"]` for everything inside.

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
        await self.app(scope, receive, send)
