"""Client network addresses: parsing, and membership of the configured networks."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

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
