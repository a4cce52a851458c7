"""SECURITY__IP_ALLOWLIST: listed addresses only, for the whole app or its admin side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.api.client_address import in_networks, parse_ip
from youworker.api.refusal import refuse
from youworker.logging import get_logger
from youworker.settings import IPNetwork

log = get_logger(__name__)

# Admin pages are client-side routes, but a fresh load of /admin... fetches its prerendered HTML
# from this same server. Admin data and actions go over the websocket: the services' admin
# checks apply the allow-list themselves (services/authz.py).
ADMIN_PREFIXES = ("/admin", "/api/")
ADMIN_PATHS = frozenset({"/health/detailed"})


def is_admin_path(path: str) -> bool:
    return path.startswith(ADMIN_PREFIXES) or path in ADMIN_PATHS


class IPAllowlist:
    """Refuse (403, or a websocket closed before accept) clients outside the allow-list."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        networks: Sequence[IPNetwork],
        scope: Literal["all", "admin"] = "all",
    ) -> None:
        self.app = app
        self.networks = tuple(networks)
        self.admin_only = scope == "admin"

    def _applies(self, scope: Scope) -> bool:
        if not self.networks or scope["type"] not in ("http", "websocket"):
            return False
        return not self.admin_only or is_admin_path(scope["path"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._applies(scope):
            client = scope.get("client")
            address = parse_ip(client[0]) if client else None
            if address is None or not in_networks(address, self.networks):
                log.warning(
                    "ip_refused",
                    path=scope["path"],
                    ip=client[0] if client else None,
                    kind=scope["type"],
                )
                await refuse(
                    scope,
                    receive,
                    send,
                    status=403,
                    code="forbidden",
                    message="access from your network address is not allowed",
                )
                return
        await self.app(scope, receive, send)
