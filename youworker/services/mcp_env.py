"""An MCP server's environment at rest: a Fernet token of its JSON (`McpServer.env_enc`).

Values are often tokens for the server: they are decrypted only to start the server, and pages
and audit records get the variable names alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cryptography.fernet import InvalidToken

from youworker.logging import get_logger
from youworker.models import McpServer
from youworker.services.encryption import get_cipher

log = get_logger(__name__)

MASK = "••••••"


def sealed_env(env: Mapping[str, str]) -> str | None:
    """The environment as stored: a Fernet token of its JSON, None when empty."""
    return get_cipher().encrypt(json.dumps(dict(env), sort_keys=True)) if env else None


def server_env(server: McpServer) -> dict[str, str]:
    """The server's environment, decrypted; empty (and logged) when its key is gone."""
    if not server.env_enc:
        return {}
    try:
        stored = json.loads(get_cipher().decrypt(server.env_enc))
    except (InvalidToken, ValueError):
        log.warning("mcp.env_unreadable", server=server.name)
        return {}
    return {str(key): str(value) for key, value in dict(stored).items()}


def masked_env(server: McpServer) -> str:
    """What pages show of the environment: the names, never the values."""
    return ", ".join(f"{name}={MASK}" for name in sorted(server_env(server)))
