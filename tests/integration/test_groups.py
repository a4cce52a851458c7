"""Groups, memberships, invitations and sharing, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import count_rows
from tests.files import PAGE_ONE, PAGE_TWO, make_pdf
from tests.integration.test_documents import context, files, search, store, upload, worker
from youworker.models import AuditEvent, GroupInvitation, GroupRole, OutboxMail, User
from youworker.models.base import utcnow
from youworker.services import (
    accounts,
    chat,
    groups,
    invitations,
    mail,
    registration,
    sharing,
    users_admin,
)
from youworker.services.audit import RequestContext
from youworker.services.documents import library
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from youworker.services.invitations import InvitationState

__all__ = ["context", "files", "store", "worker"]

HERE = RequestContext(ip="203.0.113.9")


async def actions(db: AsyncSession) -> list[str]:
    rows = await db.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at))
    return list(rows)


def token_from_outbox(body: str) -> str:
    match = re.search(r"/invite/([A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


async def latest_invitation_token(db: AsyncSession, admin: User) -> str:
    page = await mail.list_outbox(db, admin, limit=1)
    assert page.entries and page.entries[0].body
    return token_from_outbox(page.entries[0].body)


# --- groups and roles ---------------------------------------------------------------------------


async def test_the_creator_is_admin_and_can_rename_and_describe(
    db: AsyncSession, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "  Research   team ", "Papers", HERE)
    assert group.name == "Research team"
    members = await groups.list_members(db, alice, group.id)
    assert [(m.email, m.role) for m in members] == [("alice@example.com", "admin")]
    await groups.update_group(db, alice, group.id, "Research", "Papers and notes", HERE)
    mine = await groups.list_my_groups(db, alice)
    assert [(g.name, g.description, g.member_count, g.my_role) for g in mine] == [
        ("Research", "Papers and notes", 1, "admin")
    ]
    assert await groups.list_my_groups(db, bob) == []
    with pytest.raises(NotFound):
        await groups.list_members(db, bob, group.id)
    assert await actions(db) == [
        "user.register",
        "user.register",
        "user.register",
        "group.create",
        "group.update",
    ]


@pytest.mark.parametrize(
    ("name", "description", "field"),
    [
        ("", "", "name"),
        ("   ", "", "name"),
        ("x" * 101, "", "name"),
        ("ok", "d" * 1001, "description"),
    ],
)
async def test_bad_group_fields_are_refused(
    db: AsyncSession, alice: User, name: str, description: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await groups.create_group(db, alice, name, description)
    assert field in refused.value.fields
    assert await count_rows(db, "groups") == 0


async def test_a_group_always_keeps_an_admin(db: AsyncSession, alice: User, bob: User) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    with pytest.raises(Conflict):
        await groups.set_member_role(db, alice, group.id, alice.id, GroupRole.MEMBER)
    with pytest.raises(Conflict):
        await groups.leave_group(db, alice, group.id)
    with pytest.raises(Conflict):
        await groups.remove_member(db, alice, group.id, alice.id)
    with pytest.raises(Forbidden):  # a plain member manages nothing
        await groups.set_member_role(db, bob, group.id, bob.id, GroupRole.ADMIN)
    await groups.set_member_role(db, alice, group.id, bob.id, GroupRole.ADMIN, HERE)
    await groups.set_member_role(db, bob, group.id, alice.id, GroupRole.MEMBER, HERE)
    roles = {m.email: m.role for m in await groups.list_members(db, bob, group.id)}
    assert roles == {"alice@example.com": "member", "bob@example.com": "admin"}
    await groups.leave_group(db, alice, group.id, HERE)
    assert [m.email for m in await groups.list_members(db, bob, group.id)] == ["bob@example.com"]
    with pytest.raises(ValidationFailed):
        await groups.set_member_role(db, bob, group.id, bob.id, "owner")


async def test_delete_removes_members_shares_and_invitations(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    await invitations.invite(db, alice, "carol@example.com", group.id)
    conversation = await chat.create_conversation(db, bob)
    await sharing.set_conversation_shared(db, bob, conversation.id, group.id, True)
    with pytest.raises(Forbidden):
        await groups.delete_group(db, bob, group.id)
    await groups.delete_group(db, alice, group.id, HERE)
    for table in ("groups", "group_memberships", "group_invitations", "conversation_shares"):
        assert await count_rows(db, table) == 0, table
    with pytest.raises(NotFound):
        await groups.get_visible(db, alice, group.id)


async def test_site_admins_see_and_manage_every_group(
    db: AsyncSession, admin: User, alice: User
) -> None:
    group = await groups.create_group(db, alice, "Alice's team")
    await groups.create_group(db, alice, "Other")
    page = await groups.list_all_groups(db, admin, query="alice")
    assert [(g.name, g.member_count, g.my_role) for g in page.groups] == [("Alice's team", 1, None)]
    assert page.total == 1
    assert (await groups.list_all_groups(db, admin)).total == 2
    with pytest.raises(Forbidden):
        await groups.list_all_groups(db, alice)
    await groups.update_group(db, admin, group.id, "Renamed by admin", "")
    assert (await groups.get_visible(db, alice, group.id)).name == "Renamed by admin"


# --- invitations --------------------------------------------------------------------------------


async def test_invitation_is_mailed_hashed_and_accepted_once(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    sent = await invitations.invite(db, alice, " Bob@Example.com ", group.id, HERE)
    assert sent.delivered_by == "outbox"  # no SMTP configured in tests
    token = await latest_invitation_token(db, admin)
    stored = await db.scalar(select(GroupInvitation))
    assert stored is not None and stored.invitee_email == "bob@example.com"
    assert token not in stored.token_hash and len(token) >= 43
    outbox = await db.scalar(select(OutboxMail))
    assert outbox is not None and token not in (outbox.body_enc or "")

    found = await invitations.lookup(db, token)
    assert (found.state, found.email, found.group_name, found.inviter_name) == (
        InvitationState.VALID,
        "bob@example.com",
        "Team",
        "Alice",
    )
    joined = await invitations.accept(db, bob, token, HERE)
    assert joined is not None and joined.id == group.id
    assert {m.email for m in await groups.list_members(db, bob, group.id)} == {
        "alice@example.com",
        "bob@example.com",
    }
    assert (await invitations.lookup(db, token)).state == InvitationState.USED
    with pytest.raises(NotFound, match="already used"):
        await invitations.accept(db, bob, token)
    events = await db.scalars(
        select(AuditEvent).where(AuditEvent.action.startswith("invitation."))  # type: ignore[attr-defined]
    )
    rows = list(events)
    assert [e.action for e in rows] == ["invitation.create", "invitation.accept"]
    assert all(e.group_id == group.id and e.ip == "203.0.113.9" for e in rows)
    assert all(token not in str(e.details) for e in rows)


async def test_expired_revoked_unknown_and_wrong_account(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await invitations.invite(db, alice, "bob@example.com", group.id)
    token = await latest_invitation_token(db, admin)
    later = utcnow() + timedelta(days=7, seconds=1)
    assert (await invitations.lookup(db, token, now=later)).state == InvitationState.EXPIRED
    with pytest.raises(NotFound, match="expired"):
        await invitations.accept(db, bob, token, now=later)
    # Still valid just before the 7 days end; but only for the invited address.
    with pytest.raises(Forbidden, match="another email"):
        await invitations.accept(db, admin, token, now=later - timedelta(seconds=2))

    pending = await invitations.list_pending(db, alice, group.id)
    assert [p.email for p in pending] == ["bob@example.com"]
    await invitations.revoke(db, alice, pending[0].id, HERE)
    assert (await invitations.lookup(db, token)).state == InvitationState.REVOKED
    with pytest.raises(NotFound, match="withdrawn"):
        await invitations.accept(db, bob, token)
    assert await invitations.list_pending(db, alice, group.id) == []

    for bogus in ("", "nope", "x" * 500, token[:-1]):
        assert (await invitations.lookup(db, bogus)).state == InvitationState.UNKNOWN
        with pytest.raises(NotFound, match="not valid"):
            await invitations.accept(db, bob, bogus)
    # The refusal pages carry no details, so nobody learns who was invited or whether they exist.
    assert (await invitations.lookup(db, token)).email == ""


async def test_reinviting_replaces_the_pending_invitation(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await invitations.invite(db, alice, "bob@example.com", group.id)
    first = await latest_invitation_token(db, admin)
    await invitations.invite(db, alice, "bob@example.com", group.id)
    second = await latest_invitation_token(db, admin)
    assert first != second
    assert (await invitations.lookup(db, first)).state == InvitationState.REVOKED
    assert len(await invitations.list_pending(db, alice, group.id)) == 1
    await invitations.accept(db, bob, second)
    with pytest.raises(Conflict, match="already a member"):
        await invitations.invite(db, alice, "bob@example.com", group.id)


async def test_invitee_registers_through_the_link_even_when_registration_is_closed(
    db: AsyncSession, admin: User, alice: User
) -> None:
    await registration.set_mode(db, admin, "invite_only")
    with pytest.raises(Forbidden):
        await accounts.register(
            db, email="carol@example.com", password="carol-password-1", display_name="Carol"
        )
    group = await groups.create_group(db, alice, "Team")
    await invitations.invite(db, alice, "carol@example.com", group.id)
    token = await latest_invitation_token(db, admin)
    carol, joined = await invitations.register_and_accept(
        db, token, password="carol-password-1", display_name="Carol", context=HERE
    )
    assert carol.email == "carol@example.com" and joined is not None
    assert (await groups.list_my_groups(db, carol))[0].name == "Team"
    with pytest.raises(NotFound):
        await invitations.register_and_accept(
            db, token, password="carol-password-1", display_name="Carol 2"
        )


async def test_site_invitation_lets_someone_register_without_a_group(
    db: AsyncSession, admin: User, alice: User
) -> None:
    await registration.set_mode(db, admin, "invite_only")
    with pytest.raises(Forbidden):
        await invitations.invite(db, alice, "dave@example.com")
    await invitations.invite(db, admin, "dave@example.com", None, HERE)
    token = await latest_invitation_token(db, admin)
    assert (await invitations.lookup(db, token)).group_name == ""
    dave, joined = await invitations.register_and_accept(
        db, token, password="dave-password-12", display_name="Dave"
    )
    assert joined is None and dave.is_active


async def test_bad_invitation_email_is_refused(db: AsyncSession, alice: User) -> None:
    group = await groups.create_group(db, alice, "Team")
    with pytest.raises(ValidationFailed):
        await invitations.invite(db, alice, "not-an-email", group.id)
    assert await count_rows(db, "group_invitations") == 0
    assert await count_rows(db, "outbox_mail") == 0


# --- sharing ------------------------------------------------------------------------------------


async def test_shared_document_is_retrievable_until_the_member_leaves(
    db: AsyncSession,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    document_id = uuid.UUID(
        await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    )
    await worker.run_until_idle()
    question = "How much is the meal allowance on trips?"
    assert await search(db, bob, store, question) == []

    options = await sharing.document_share_options(db, alice, document_id)
    assert [(o.name, o.shared) for o in options] == [("Team", False)]
    await sharing.set_document_shared(db, alice, document_id, group.id, True, store, HERE)
    assert (await sharing.document_share_options(db, alice, document_id))[0].shared
    hits = await search(db, bob, store, question)
    assert hits and hits[0].document_name == "handbook.pdf" and hits[0].page == 2
    assert (await library.get_readable(db, bob, document_id)).name == "handbook.pdf"
    with pytest.raises(NotFound):  # a member reads; only the owner shares
        await sharing.set_document_shared(db, bob, document_id, group.id, False, store)

    await groups.leave_group(db, bob, group.id)
    assert await search(db, bob, store, question) == []
    with pytest.raises(NotFound):
        await library.get_readable(db, bob, document_id)

    # Back in, then removed by the admin: the same.
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    assert await search(db, bob, store, question)
    await groups.remove_member(db, alice, group.id, bob.id, HERE)
    assert await search(db, bob, store, question) == []

    await sharing.set_document_shared(db, alice, document_id, group.id, False, store, HERE)
    assert "document.share" in await actions(db) and "document.unshare" in await actions(db)


async def test_a_document_is_shared_only_with_the_owners_groups(
    db: AsyncSession, alice: User, bob: User, files: FileStore, store: EdgeVectorStore
) -> None:
    bobs_group = await groups.create_group(db, bob, "Bob's")
    document_id = uuid.UUID(await upload(db, alice, files, "a.txt", b"Alpha notes."))
    with pytest.raises(NotFound):
        await sharing.set_document_shared(db, alice, document_id, bobs_group.id, True, store)
    assert await count_rows(db, "document_shares") == 0


async def test_sharing_before_indexing_ends_reaches_the_vectors(
    db: AsyncSession,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    document_id = uuid.UUID(
        await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    )
    await sharing.set_document_shared(db, alice, document_id, group.id, True, store)
    await worker.run_until_idle()
    assert await search(db, bob, store, "meal allowance on trips")


async def test_shared_conversation_is_read_only_and_ends_with_membership(
    db: AsyncSession, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    conversation = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, conversation.id, "Plans for Q3")
    with pytest.raises(NotFound):
        await sharing.read_shared_messages(db, bob, conversation.id)
    assert await sharing.list_shared_with_me(db, bob) == []

    await sharing.set_conversation_shared(db, alice, conversation.id, group.id, True, HERE)
    shared = await sharing.list_shared_with_me(db, bob)
    assert [(s.id, s.owner_name, s.group_names) for s in shared] == [
        (conversation.id, "Alice", ["Team"])
    ]
    assert await sharing.list_shared_with_me(db, alice) == []  # one's own is not "shared with me"
    page = await sharing.read_shared_messages(db, bob, conversation.id)
    assert [m.content for m in page.messages] == ["Plans for Q3"]
    # Read-only: every writing path still checks ownership.
    with pytest.raises(NotFound):
        await chat.add_user_message(db, bob, conversation.id, "hijack")
    with pytest.raises(NotFound):
        await chat.rename(db, bob, conversation.id, "mine now")
    with pytest.raises(NotFound):
        await chat.delete_conversation(db, bob, conversation.id)
    with pytest.raises(NotFound):
        await sharing.set_conversation_shared(db, bob, conversation.id, group.id, False)

    await groups.remove_member(db, alice, group.id, bob.id)
    assert await sharing.list_shared_with_me(db, bob) == []
    with pytest.raises(NotFound):
        await sharing.read_shared_messages(db, bob, conversation.id)
    assert (await actions(db))[-2:] == ["conversation.share", "group.member_remove"]


async def test_deactivated_users_lose_group_access(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await groups.add_member(db, group.id, bob.id)
    await db.commit()
    await users_admin.set_active(db, admin, bob.id, False)
    await db.refresh(bob)
    with pytest.raises(AuthenticationFailed):
        await groups.list_members(db, bob, group.id)
    with pytest.raises(AuthenticationFailed):
        await sharing.list_shared_with_me(db, bob)
