"""Collections of documents: a person's own, or a group's (its admins manage it).

Who may do what, checked here for every path (pages, REST, CLI):
- use a collection (list it, search in it): its owner, or a member of its group;
- manage it (rename, delete, add or remove documents): its owner, or an admin of its group
  (site admins may manage any group's, as they manage the group);
- add a document: only one the actor can read. Search still applies the access filter, so a
  group collection never shows a member a document that is not shared with them.
Collections a person may not use read as "not found".
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import (
    Collection,
    CollectionDocument,
    Document,
    Group,
    GroupMembership,
    User,
)
from youworker.models.collection import COLLECTION_NAME_MAX
from youworker.models.group import GroupRole
from youworker.services import audit, groups
from youworker.services.authz import acts_as_site_admin, require_active
from youworker.services.documents.library import group_ids_of, readable_clause
from youworker.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

NOT_FOUND = "Collection not found."
MAX_DOCUMENTS_PER_CALL = 1000


@dataclass(frozen=True)
class CollectionView:
    id: str
    name: str
    group_id: str | None
    group_name: str | None
    document_count: int
    can_manage: bool


def _audit(
    session: AsyncSession,
    action: str,
    user: User,
    collection: Collection,
    context: audit.RequestContext | None,
    **details: Any,
) -> None:
    audit.record(
        session,
        f"collection.{action}",
        actor=user,
        resource_type="collection",
        resource_id=collection.id,
        context=context,
        group_id=collection.group_id,
        **details,
    )


def checked_name(raw: str) -> str:
    name = " ".join("".join(ch for ch in raw if unicodedata.category(ch)[0] != "C").split())
    if not name:
        raise ValidationFailed({"name": "Give the collection a name."})
    if len(name) > COLLECTION_NAME_MAX:
        raise ValidationFailed({"name": f"Use at most {COLLECTION_NAME_MAX} characters."})
    return name


async def _usable(session: AsyncSession, user: User, collection_id: uuid.UUID) -> Collection:
    collection = await session.get(Collection, collection_id)
    if collection is None:
        raise NotFound(NOT_FOUND)
    if collection.owner_id == user.id:
        return collection
    if collection.group_id is not None and (
        acts_as_site_admin(user)  # site admins see every group (groups.get_visible)
        or await groups.membership(session, collection.group_id, user.id) is not None
    ):
        return collection
    raise NotFound(NOT_FOUND)


async def _can_manage(session: AsyncSession, user: User, collection: Collection) -> bool:
    if collection.owner_id == user.id:
        return True
    assert collection.group_id is not None
    return acts_as_site_admin(user) or await groups.is_group_admin(
        session, user, collection.group_id
    )


async def _managed(session: AsyncSession, user: User, collection_id: uuid.UUID) -> Collection:
    collection = await _usable(session, user, collection_id)
    if not await _can_manage(session, user, collection):
        raise Forbidden("Only the group's admins can change its collections.")
    return collection


async def _views(
    session: AsyncSession, user: User, collections: Sequence[Collection]
) -> list[CollectionView]:
    """Views of `collections`, in order, in three queries whatever their number."""
    ids = [c.id for c in collections]
    group_ids = {c.group_id for c in collections if c.group_id is not None}
    if not ids:
        return []
    counted = await session.execute(
        select(CollectionDocument.collection_id, func.count())
        .where(col(CollectionDocument.collection_id).in_(ids))
        .group_by(col(CollectionDocument.collection_id))
    )
    counts: dict[uuid.UUID, int] = {cid: int(n) for cid, n in counted.all()}
    names: dict[uuid.UUID, str] = {}
    administered: set[uuid.UUID] = set()
    if group_ids:
        named = await session.execute(
            select(Group.id, Group.name).where(col(Group.id).in_(group_ids))
        )
        names = {gid: name for gid, name in named.all()}
        if acts_as_site_admin(user):
            administered = group_ids
        else:
            administered = set(
                await session.scalars(
                    select(GroupMembership.group_id).where(
                        col(GroupMembership.user_id) == user.id,
                        col(GroupMembership.group_id).in_(group_ids),
                        col(GroupMembership.role) == GroupRole.ADMIN,
                    )
                )
            )
    return [
        CollectionView(
            id=str(c.id),
            name=c.name,
            group_id=str(c.group_id) if c.group_id else None,
            group_name=names.get(c.group_id) if c.group_id else None,
            document_count=counts.get(c.id, 0),
            can_manage=c.owner_id == user.id or c.group_id in administered,
        )
        for c in collections
    ]


async def list_collections(session: AsyncSession, actor: User | None) -> list[CollectionView]:
    """The actor's own collections, then their groups', by name."""
    user = require_active(actor)
    mine = await group_ids_of(session, user.id)
    rows = await session.scalars(
        select(Collection)
        .where(or_(col(Collection.owner_id) == user.id, col(Collection.group_id).in_(mine)))
        .order_by(col(Collection.group_id).is_not(None), func.lower(col(Collection.name)))
    )
    return await _views(session, user, rows.all())


async def get_collection(
    session: AsyncSession, actor: User | None, collection_id: uuid.UUID
) -> CollectionView:
    user = require_active(actor)
    collection = await _usable(session, user, collection_id)
    return (await _views(session, user, [collection]))[0]


async def create_collection(
    session: AsyncSession,
    actor: User | None,
    name: str,
    *,
    group_id: uuid.UUID | None = None,
    context: audit.RequestContext | None = None,
) -> CollectionView:
    """A new collection: the actor's own, or (for its admins) a group's."""
    user = require_active(actor)
    name = checked_name(name)
    if group_id is not None:
        await groups.get_managed(session, user, group_id)
    collection = Collection(name=name, owner_id=None if group_id else user.id, group_id=group_id)
    await _check_name_free(session, collection, name)
    session.add(collection)
    _audit(session, "create", user, collection, context, name=name)
    await _commit_name(session)
    return (await _views(session, user, [collection]))[0]


async def rename_collection(
    session: AsyncSession,
    actor: User | None,
    collection_id: uuid.UUID,
    name: str,
    context: audit.RequestContext | None = None,
) -> CollectionView:
    user = require_active(actor)
    collection = await _managed(session, user, collection_id)
    name = checked_name(name)
    await _check_name_free(session, collection, name)
    collection.name = name
    _audit(session, "rename", user, collection, context, name=collection.name)
    await _commit_name(session)
    return (await _views(session, user, [collection]))[0]


DUPLICATE = "A collection with this name already exists there."


async def _check_name_free(session: AsyncSession, collection: Collection, name: str) -> None:
    """Conflict when another collection of the same person or group has this name."""
    holder = (
        col(Collection.owner_id) == collection.owner_id
        if collection.owner_id
        else col(Collection.group_id) == collection.group_id
    )
    with session.no_autoflush:  # the collection itself may hold unsaved changes
        taken = await session.scalar(
            select(Collection.id).where(
                holder, col(Collection.name) == name, col(Collection.id) != collection.id
            )
        )
    if taken is not None:
        raise Conflict(DUPLICATE)


async def _commit_name(session: AsyncSession) -> None:
    """Commit; the unique constraint still catches a name taken at the same moment."""
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(DUPLICATE) from exc


async def delete_collection(
    session: AsyncSession,
    actor: User | None,
    collection_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    """Delete the collection; its documents stay where they are."""
    user = require_active(actor)
    collection = await _managed(session, user, collection_id)
    _audit(session, "delete", user, collection, context, name=collection.name)
    await session.delete(collection)
    await session.commit()


def _checked_ids(document_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    unique = list(dict.fromkeys(document_ids))
    if not unique:
        raise ValidationFailed({"document_ids": "Choose at least one document."})
    if len(unique) > MAX_DOCUMENTS_PER_CALL:
        raise ValidationFailed(
            {"document_ids": f"At most {MAX_DOCUMENTS_PER_CALL} documents at a time."}
        )
    return unique


async def add_documents(
    session: AsyncSession,
    actor: User | None,
    collection_id: uuid.UUID,
    document_ids: list[uuid.UUID],
    context: audit.RequestContext | None = None,
) -> int:
    """Put documents the actor can read into the collection; how many were not in it yet."""
    user = require_active(actor)
    collection = await _managed(session, user, collection_id)
    added = await _add(session, user, collection, _checked_ids(document_ids))
    _audit(session, "add", user, collection, context, documents=added)
    await session.commit()
    return added


async def remove_documents(
    session: AsyncSession,
    actor: User | None,
    collection_id: uuid.UUID,
    document_ids: list[uuid.UUID],
    context: audit.RequestContext | None = None,
) -> int:
    """Take documents out of the collection (they are not deleted); how many were in it."""
    user = require_active(actor)
    collection = await _managed(session, user, collection_id)
    removed = await _remove(session, collection, _checked_ids(document_ids))
    _audit(session, "remove", user, collection, context, documents=removed)
    await session.commit()
    return removed


async def move_documents(
    session: AsyncSession,
    actor: User | None,
    source_id: uuid.UUID,
    target_id: uuid.UUID,
    document_ids: list[uuid.UUID],
    context: audit.RequestContext | None = None,
) -> int:
    """Take documents out of one collection and put them in another, in one transaction;
    how many were in the source. The actor must manage both."""
    user = require_active(actor)
    source = await _managed(session, user, source_id)
    target = await _managed(session, user, target_id)
    if source.id == target.id:
        raise ValidationFailed({"target": "Choose another collection to move them to."})
    wanted = _checked_ids(document_ids)
    await _add(session, user, target, wanted)
    moved = await _remove(session, source, wanted)
    _audit(session, "move", user, source, context, documents=moved, target=str(target.id))
    await session.commit()
    return moved


async def _add(
    session: AsyncSession, user: User, collection: Collection, wanted: list[uuid.UUID]
) -> int:
    # One query for all of them (an import adds 1,000 at a time); any other id is "not found".
    groups_of_user = await group_ids_of(session, user.id)
    readable = set(
        await session.scalars(
            select(Document.id).where(
                col(Document.id).in_(wanted), readable_clause(user.id, groups_of_user)
            )
        )
    )
    if len(readable) < len(wanted):
        raise NotFound("Document not found.")
    present = set(
        await session.scalars(
            select(CollectionDocument.document_id).where(
                col(CollectionDocument.collection_id) == collection.id,
                col(CollectionDocument.document_id).in_(wanted),
            )
        )
    )
    added = [d for d in wanted if d not in present]
    session.add_all(CollectionDocument(collection_id=collection.id, document_id=d) for d in added)
    return len(added)


async def _remove(session: AsyncSession, collection: Collection, wanted: list[uuid.UUID]) -> int:
    result = await session.execute(
        delete(CollectionDocument).where(
            col(CollectionDocument.collection_id) == collection.id,
            col(CollectionDocument.document_id).in_(wanted),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def documents_clause(
    session: AsyncSession, actor: User | None, collection_id: uuid.UUID
) -> ColumnElement[bool]:
    """A filter on documents for "in this collection" (NotFound if the actor may not use it)."""
    user = require_active(actor)
    await _usable(session, user, collection_id)
    members = select(CollectionDocument.document_id).where(
        col(CollectionDocument.collection_id) == collection_id
    )
    return col(Document.id).in_(members)


async def document_ids_in(
    session: AsyncSession, actor: User | None, collection_ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Every document in these collections (NotFound if the actor may not use one of them).

    Readability is not checked here: search's access filter does that in the vector query.
    """
    user = require_active(actor)
    for collection_id in dict.fromkeys(collection_ids):
        await _usable(session, user, collection_id)
    rows = await session.scalars(
        select(CollectionDocument.document_id)
        .where(col(CollectionDocument.collection_id).in_(collection_ids))
        .distinct()
    )
    return list(rows)
