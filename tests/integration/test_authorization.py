"""Who may do what: every group, sharing, admin and audit action against every kind of actor.

Each cell runs the real service on a real database; a refused cell must raise the service's own
refusal, and an allowed one must succeed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import GroupRole, Role, User
from youworker.services import (
    analytics,
    chat,
    groups,
    invitations,
    mail,
    password_reset,
    registration,
    sharing,
    system_info,
    users_admin,
)
from youworker.services.audit import trail
from youworker.services.documents import library
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.errors import AuthenticationFailed, Forbidden, NotFound

ACTORS = ("site_admin", "group_admin", "member", "other", "deactivated", "anonymous")
OK = "ok"
Outcome = str | type[Exception]


@dataclass
class World:
    db: AsyncSession
    site_admin: User
    group_admin: User
    member: User
    other: User
    deactivated: User
    group_id: uuid.UUID
    document_id: uuid.UUID  # the group admin's, shared with the group
    conversation_id: uuid.UUID  # the group admin's, shared with the group
    store: EdgeVectorStore

    def actor(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


async def _user(db: AsyncSession, name: str, role: str = Role.USER) -> User:
    # Straight into the table: hashing a password per actor per cell would dominate the run time.
    user = User(email=f"{name}@example.com", display_name=name, password_hash="-", role=role)
    db.add(user)
    await db.commit()
    return user


@pytest.fixture
async def world(db: AsyncSession, tmp_path: Path) -> AsyncIterator[World]:
    site_admin = await _user(db, "root", Role.ADMIN)
    group_admin, member, other, deactivated = [
        await _user(db, name) for name in ("gadmin", "member", "other", "gone")
    ]
    group = await groups.create_group(db, group_admin, "Team")
    for user in (member, deactivated):
        await groups.add_member(db, group.id, user.id, GroupRole.MEMBER)
    await db.commit()
    files = FileStore(tmp_path / "documents")
    store = EdgeVectorStore(tmp_path / "vectors")
    uploaded = await library.upload(
        db, group_admin, files, "plan.txt", b"The plan.", max_bytes=1_000_000
    )
    document_id = uuid.UUID(uploaded.document.id)
    await sharing.set_document_shared(db, group_admin, document_id, group.id, True, store)
    conversation = await chat.create_conversation(db, group_admin)
    await sharing.set_conversation_shared(db, group_admin, conversation.id, group.id, True)
    await users_admin.set_active(db, site_admin, deactivated.id, False)
    await db.refresh(deactivated)
    yield World(
        db=db,
        site_admin=site_admin,
        group_admin=group_admin,
        member=member,
        other=other,
        deactivated=deactivated,
        group_id=group.id,
        document_id=document_id,
        conversation_id=conversation.id,
        store=store,
    )
    await store.close()


Action = Callable[[World, User | None], Awaitable[object]]

DENIED = AuthenticationFailed  # deactivated and anonymous actors are never let in


def row(
    site_admin: Outcome, group_admin: Outcome, member: Outcome, other: Outcome
) -> dict[str, Outcome]:
    return {
        "site_admin": site_admin,
        "group_admin": group_admin,
        "member": member,
        "other": other,
        "deactivated": DENIED,
        "anonymous": DENIED,
    }


TABLE: dict[str, tuple[Action, dict[str, Outcome]]] = {
    # --- groups ---
    "group.create": (
        lambda w, a: groups.create_group(w.db, a, "Another"),
        row(OK, OK, OK, OK),
    ),
    "group.view_members": (
        lambda w, a: groups.list_members(w.db, a, w.group_id),
        row(OK, OK, OK, NotFound),
    ),
    "group.update": (
        lambda w, a: groups.update_group(w.db, a, w.group_id, "Renamed", "New description"),
        row(OK, OK, Forbidden, NotFound),
    ),
    "group.delete": (
        lambda w, a: groups.delete_group(w.db, a, w.group_id),
        row(OK, OK, Forbidden, NotFound),
    ),
    "group.promote": (
        lambda w, a: groups.set_member_role(w.db, a, w.group_id, w.member.id, GroupRole.ADMIN),
        row(OK, OK, Forbidden, NotFound),
    ),
    "group.remove_member": (
        lambda w, a: groups.remove_member(w.db, a, w.group_id, w.member.id),
        row(OK, OK, Forbidden, NotFound),
    ),
    "group.leave": (
        lambda w, a: groups.leave_group(w.db, a, w.group_id),
        # The site admin is not a member; the group admin is its only admin.
        row(NotFound, Exception, OK, NotFound),
    ),
    "invitation.create": (
        lambda w, a: invitations.invite(w.db, a, "new@example.com", w.group_id),
        row(OK, OK, Forbidden, NotFound),
    ),
    "invitation.list_pending": (
        lambda w, a: invitations.list_pending(w.db, a, w.group_id),
        row(OK, OK, Forbidden, NotFound),
    ),
    "invitation.create_site": (
        lambda w, a: invitations.invite(w.db, a, "new@example.com", None),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    # --- sharing ---
    "document.share_options": (
        lambda w, a: sharing.document_share_options(w.db, a, w.document_id),
        row(NotFound, OK, NotFound, NotFound),
    ),
    "document.unshare": (
        lambda w, a: sharing.set_document_shared(
            w.db, a, w.document_id, w.group_id, False, w.store
        ),
        row(NotFound, OK, NotFound, NotFound),
    ),
    "document.read_shared": (
        lambda w, a: library.get_readable(w.db, a, w.document_id),  # type: ignore[arg-type]
        row(NotFound, OK, OK, NotFound),
    ),
    "conversation.unshare": (
        lambda w, a: sharing.set_conversation_shared(w.db, a, w.conversation_id, w.group_id, False),
        row(NotFound, OK, NotFound, NotFound),
    ),
    "conversation.read_shared": (
        lambda w, a: sharing.read_shared_messages(w.db, a, w.conversation_id),
        row(NotFound, OK, OK, NotFound),
    ),
    "conversation.shared_with_me": (
        lambda w, a: sharing.list_shared_with_me(w.db, a),
        row(OK, OK, OK, OK),
    ),
    # --- site administration ---
    "admin.list_users": (
        lambda w, a: users_admin.list_users(w.db, a),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.set_role": (
        lambda w, a: users_admin.set_role(w.db, a, w.other.id, "admin"),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.deactivate": (
        lambda w, a: users_admin.set_active(w.db, a, w.other.id, False),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.registration_mode": (
        lambda w, a: registration.set_mode(w.db, a, "invite_only"),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.list_groups": (
        lambda w, a: groups.list_all_groups(w.db, a),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.outbox": (
        lambda w, a: mail.list_outbox(w.db, a),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.send_reset_link": (
        lambda w, a: password_reset.send_reset_link(w.db, a, w.other.id),  # type: ignore[arg-type]
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.system_info": (
        lambda w, a: system_info.collect(w.db, a),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.analytics_dashboard": (
        lambda w, a: analytics.dashboard(w.db, a, date(2026, 1, 1), date(2026, 1, 31)),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "admin.analytics_usage": (
        lambda w, a: analytics.user_usage(w.db, a, date(2026, 1, 1), date(2026, 1, 31)),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    # --- audit log ---
    "audit.read_site": (
        lambda w, a: trail.list_events(w.db, a, trail.AuditFilter()),
        row(OK, Forbidden, Forbidden, Forbidden),
    ),
    "audit.read_group": (
        lambda w, a: trail.list_events(w.db, a, trail.AuditFilter(group_id=w.group_id)),
        row(OK, OK, Forbidden, Forbidden),
    ),
}

CASES = [(action, actor) for action in TABLE for actor in ACTORS]


@pytest.mark.parametrize(("action", "actor"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
async def test_authorization_table(world: World, action: str, actor: str) -> None:
    run, expected_by_actor = TABLE[action]
    expected = expected_by_actor[actor]
    if expected == OK:
        await run(world, world.actor(actor))
        return
    assert isinstance(expected, type)
    with pytest.raises(expected):
        await run(world, world.actor(actor))
