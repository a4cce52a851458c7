"""Collections: named sets of documents, a person's own or a group's; a document may be in many.

Membership lives here only: search turns the chosen collections into the list of their
document ids and filters on it inside the vector query, next to the access filter.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from youworker.models.base import created_field, id_field

COLLECTION_NAME_MAX = 100


class Collection(SQLModel, table=True):
    __tablename__ = "collections"
    __table_args__ = (
        # A person's or a group's, never both or neither.
        CheckConstraint("(owner_id IS NULL) <> (group_id IS NULL)", name="ck_collections_holder"),
        UniqueConstraint("owner_id", "name", name="uq_collections_owner_name"),
        UniqueConstraint("group_id", "name", name="uq_collections_group_name"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=COLLECTION_NAME_MAX)
    owner_id: uuid.UUID | None = Field(
        default=None, foreign_key="users.id", index=True, ondelete="CASCADE"
    )
    group_id: uuid.UUID | None = Field(
        default=None, foreign_key="groups.id", index=True, ondelete="CASCADE"
    )
    created_at: datetime = created_field()


class CollectionDocument(SQLModel, table=True):
    __tablename__ = "collection_documents"

    collection_id: uuid.UUID = Field(
        foreign_key="collections.id", primary_key=True, ondelete="CASCADE"
    )
    document_id: uuid.UUID = Field(
        foreign_key="documents.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    added_at: datetime = created_field()
