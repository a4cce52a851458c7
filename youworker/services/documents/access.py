"""Which documents a person may open: whether they have any, and why a cited one will not open."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Document, User
from youworker.services.authz import require_active
from youworker.services.documents.library import group_ids_of, readable_clause

NOT_SHARED = "You cannot open this document: it is not shared with a group you belong to."
DELETED = "This document has been deleted."
MAX_CHECKED = 500


async def has_readable_documents(session: AsyncSession, actor: User) -> bool:
    """The actor owns a document or may read one through a group."""
    user = require_active(actor)
    groups = await group_ids_of(session, user.id)
    found = await session.scalar(
        select(col(Document.id)).where(readable_clause(user.id, groups)).limit(1)
    )
    return found is not None


async def unopenable(
    session: AsyncSession, actor: User, document_ids: Iterable[str]
) -> dict[str, str]:
    """For cited documents the actor cannot open, the reason (document id -> sentence)."""
    user = require_active(actor)
    wanted: dict[str, uuid.UUID] = {}
    for raw in document_ids:
        if len(wanted) >= MAX_CHECKED:
            break
        try:
            wanted[raw] = uuid.UUID(raw)
        except ValueError:
            continue
    if not wanted:
        return {}
    ids = list(wanted.values())
    existing = set(await session.scalars(select(col(Document.id)).where(col(Document.id).in_(ids))))
    groups = await group_ids_of(session, user.id)
    readable = set(
        await session.scalars(
            select(col(Document.id)).where(
                col(Document.id).in_(ids), readable_clause(user.id, groups)
            )
        )
    )
    reasons: dict[str, str] = {}
    for raw, document_id in wanted.items():
        if document_id not in existing:
            reasons[raw] = DELETED
        elif document_id not in readable:
            reasons[raw] = NOT_SHARED
    return reasons
