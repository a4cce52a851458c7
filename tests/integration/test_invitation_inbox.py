"""Invitations for people who already have an account: listed, joined or declined in the app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_groups import HERE, actions, latest_invitation_token
from youworker.models import User
from youworker.models.base import utcnow
from youworker.services import groups, invitation_inbox, invitations
from youworker.services.errors import NotFound


async def test_a_waiting_invitation_is_listed_and_joined_by_its_addressee_only(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await invitations.invite(db, alice, "BOB@example.com", group.id, HERE)

    (waiting,) = await invitation_inbox.list_waiting(db, bob)
    assert (waiting.group_name, waiting.inviter_name) == ("Team", "Alice")
    assert await invitation_inbox.list_waiting(db, admin) == []
    # Someone else's invitation, or a made-up id, is simply not there.
    for actor, invitation_id in ((admin, waiting.id), (bob, uuid.uuid4())):
        with pytest.raises(NotFound):
            await invitation_inbox.accept_waiting(db, actor, invitation_id)

    joined = await invitation_inbox.accept_waiting(db, bob, waiting.id, HERE)

    assert joined is not None and joined.id == group.id
    assert await groups.membership(db, group.id, bob.id)
    assert await invitation_inbox.list_waiting(db, bob) == []
    with pytest.raises(NotFound):  # single use, like the link
        await invitation_inbox.accept_waiting(db, bob, waiting.id)
    assert (await actions(db))[-1] == "invitation.accept"


async def test_declined_and_expired_invitations_are_not_listed(
    db: AsyncSession, alice: User, bob: User
) -> None:
    team = await groups.create_group(db, alice, "Team")
    other = await groups.create_group(db, alice, "Other")
    await invitations.invite(db, alice, "bob@example.com", team.id)
    await invitations.invite(db, alice, "bob@example.com", other.id)
    assert {w.group_name for w in await invitation_inbox.list_waiting(db, bob)} == {"Team", "Other"}

    declined = next(
        w for w in await invitation_inbox.list_waiting(db, bob) if w.group_name == "Team"
    )
    await invitation_inbox.decline_waiting(db, bob, declined.id, HERE)

    later = utcnow() + timedelta(days=365)
    assert [w.group_name for w in await invitation_inbox.list_waiting(db, bob)] == ["Other"]
    assert await invitation_inbox.list_waiting(db, bob, now=later) == []
    assert not await groups.membership(db, team.id, bob.id)
    assert (await actions(db))[-1] == "invitation.decline"


async def test_a_used_link_tells_a_member_they_are_in_and_nobody_else(
    db: AsyncSession, admin: User, alice: User, bob: User
) -> None:
    group = await groups.create_group(db, alice, "Team")
    await invitations.invite(db, alice, "bob@example.com", group.id)
    token = await latest_invitation_token(db, admin)
    assert await invitation_inbox.group_already_joined(db, bob, token) is None

    await invitations.accept(db, bob, token)

    joined = await invitation_inbox.group_already_joined(db, bob, token)
    assert joined is not None and joined.id == group.id
    assert await invitation_inbox.group_already_joined(db, admin, token) is None
    assert await invitation_inbox.group_already_joined(db, None, token) is None
    assert await invitation_inbox.group_already_joined(db, bob, "x" * 5000) is None
