"""Mail the installation sent, or keeps in the outbox when no SMTP server is configured."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from youworker.models.base import created_field, id_field, timestamp_field
from youworker.models.user import EMAIL_MAX


class MailStatus(StrEnum):
    OUTBOX = "outbox"  # no SMTP: an administrator reads it and passes the link on
    SENT = "sent"
    FAILED = "failed"


class OutboxMail(SQLModel, table=True):
    __tablename__ = "outbox_mail"

    id: uuid.UUID = id_field()
    recipient: str = Field(max_length=EMAIL_MAX, index=True)
    subject: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    # Fernet-encrypted: the body carries single-use links. Dropped once the mail is sent.
    body_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The mail's link on its own (the outbox copies this, never a URL found in the body).
    link_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=MailStatus.OUTBOX, max_length=16)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
    sent_at: datetime | None = timestamp_field()
