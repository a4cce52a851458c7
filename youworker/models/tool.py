"""MCP servers the admin configured, and the installation-wide switch for each tool."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from youworker.models.base import created_field, id_field, timestamp_field

SERVER_NAME_MAX = 40
TOOL_NAME_MAX = 64  # the longest function name OpenAI-style tool APIs accept
COMMAND_MAX = 1000
URL_MAX = 2000
STATUS_ERROR_MAX = 1000


class McpTransport(StrEnum):
    STDIO = "stdio"
    HTTP = "http"


class McpServer(SQLModel, table=True):
    """An MCP server: a command run over stdio, or a streamable-HTTP endpoint."""

    __tablename__ = "mcp_servers"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=SERVER_NAME_MAX, unique=True, index=True)
    transport: str = Field(default=McpTransport.STDIO, max_length=8)
    command: str | None = Field(default=None, max_length=COMMAND_MAX)
    args: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The environment as a Fernet token of its JSON (often tokens for the server): never logged,
    # never in audit details; services/tools_admin.py seals and opens it.
    env_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    url: str | None = Field(default=None, max_length=URL_MAX)
    enabled: bool = Field(default=True)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    last_status: str | None = Field(default=None, max_length=16)
    last_error: str | None = Field(default=None, max_length=STATUS_ERROR_MAX)
    last_checked_at: datetime | None = timestamp_field()


class ToolSetting(SQLModel, table=True):
    """The admin's switch for one tool (built-in or MCP); tools without a row are enabled."""

    __tablename__ = "tool_settings"

    tool_name: str = Field(primary_key=True, max_length=TOOL_NAME_MAX)
    enabled: bool = Field(default=True)
    updated_at: datetime = created_field()
