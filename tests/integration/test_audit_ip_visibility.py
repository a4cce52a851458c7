"""Group admins read their group's activity without members' IP addresses; site admins see them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.api_v1_support import jwt_for
from tests.integration.test_groups import latest_invitation_token
from youworker.api.app import create_api
from youworker.models import User
from youworker.services import groups, invitations
from youworker.services.audit import RequestContext, trail
from youworker.state.admin_audit import group_activity_rows

ALICE_IP = "198.51.100.21"
BOB_IP = "203.0.113.77"


@pytest.fixture
async def http(engine: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def team_with_bob(db: AsyncSession, alice: User, bob: User, admin: User) -> str:
    """Alice makes a group and invites Bob, who joins from his own address."""
    group = await groups.create_group(db, alice, "Team", context=RequestContext(ip=ALICE_IP))
    await invitations.invite(db, alice, bob.email, group.id, RequestContext(ip=ALICE_IP))
    token = await latest_invitation_token(db, admin)
    await invitations.accept(db, bob, token, RequestContext(ip=BOB_IP))
    return str(group.id)


def csv_ips(text: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    return [row["ip"] for row in rows]


async def test_group_admins_do_not_see_members_addresses(
    db: AsyncSession, admin: User, alice: User, bob: User, http: httpx.AsyncClient
) -> None:
    group_id = await team_with_bob(db, alice, bob, admin)
    filters = trail.AuditFilter.from_params(group_id=group_id)

    as_site_admin = await trail.list_events(db, admin, filters)
    assert {e.ip for e in as_site_admin.events} == {ALICE_IP, BOB_IP}
    as_group_admin = await trail.list_events(db, alice, filters)
    assert len(as_group_admin.events) == len(as_site_admin.events)
    assert {e.ip for e in as_group_admin.events} == {None}

    assert filters.group_id is not None
    rows = await group_activity_rows(alice, filters.group_id)
    assert rows and {row["ip"] for row in rows} == {""}
    site_rows = await group_activity_rows(admin, filters.group_id)
    assert {ALICE_IP, BOB_IP} <= {row["ip"] for row in site_rows}

    url = f"/api/admin/audit.csv?group_id={group_id}"
    mine = await http.get(url, headers=jwt_for(alice))
    assert mine.status_code == 200, mine.text
    assert set(csv_ips(mine.text)) == {""}
    assert BOB_IP not in mine.text and ALICE_IP not in mine.text
    everything = await http.get(url, headers=jwt_for(admin))
    assert everything.status_code == 200, everything.text
    assert {ALICE_IP, BOB_IP} <= set(csv_ips(everything.text))
