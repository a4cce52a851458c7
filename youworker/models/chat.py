"""Conversations, their messages and the tool calls inside answers.

Conversation titles, message text, thinking, tool arguments, results and errors are Fernet
tokens (`*_enc`); role, timestamps, model, token counts, latency and status stay plain for
analytics.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from youworker.models.base import created_field, id_field, timestamp_field

TITLE_MAX = 200
MODEL_NAME_MAX = 200


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"
    ERROR = "error"


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_owner_updated", "owner_id", "updated_at", "id"),
        # Analytics count conversations per day.
        Index("ix_conversations_created", "created_at"),
    )

    id: uuid.UUID = id_field()
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    # The title, encrypted like messages (it starts as the first words of the first message);
    # None until there is one ("New chat"). services/chat/ reads (title_of) and searches it.
    title_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    model: str = Field(default="", max_length=MODEL_NAME_MAX)
    disabled_tools: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # "Use my documents": retrieve passages before the model is asked.
    use_documents: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Collections the conversation searches in (ids); empty: every readable document.
    collection_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ConversationShare(SQLModel, table=True):
    """A conversation its owner shared read-only with a group."""

    __tablename__ = "conversation_shares"

    conversation_id: uuid.UUID = Field(
        foreign_key="conversations.id", primary_key=True, ondelete="CASCADE"
    )
    group_id: uuid.UUID = Field(
        foreign_key="groups.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    shared_at: datetime = created_field()


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_created", "conversation_id", "created_at", "id"),
        # Analytics aggregate messages over a date range; on PostgreSQL the index covers every
        # column they read, so a dashboard is an index-only scan (migration 0005).
        Index(
            "ix_messages_created",
            "created_at",
            postgresql_include=[
                "role",
                "conversation_id",
                "prompt_tokens",
                "completion_tokens",
                "latency_ms",
                "ttft_ms",
            ],
        ),
    )

    id: uuid.UUID = id_field()
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", ondelete="CASCADE")
    role: str = Field(max_length=16)
    content_enc: str = Field(sa_column=Column(Text, nullable=False))
    thinking_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # JSON list of the passages an answer may cite ([{"number", "chunk_id", ...}]), encrypted.
    citations_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=MessageStatus.COMPLETE, max_length=16)
    model: str | None = Field(default=None, max_length=MODEL_NAME_MAX)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int | None = None
    ttft_ms: int | None = None
    error_code: str | None = Field(default=None, max_length=32)
    # Written by the app (e.g. "Ollama is not reachable"), never user or model text.
    error_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
    completed_at: datetime | None = timestamp_field()


class ToolCall(SQLModel, table=True):
    __tablename__ = "tool_calls"
    __table_args__ = (Index("ix_tool_calls_created", "created_at"),)

    id: uuid.UUID = id_field()
    message_id: uuid.UUID = Field(foreign_key="messages.id", index=True, ondelete="CASCADE")
    step: int = 0
    name: str = Field(max_length=200, index=True)
    arguments_enc: str = Field(sa_column=Column(Text, nullable=False))
    result_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ok: bool = True
    duration_ms: int | None = None
    created_at: datetime = created_field()
