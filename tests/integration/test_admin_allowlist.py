"""SECURITY__IP_ALLOWLIST fences site-admin powers inside the services, whatever the path.

The ASGI allow-list in `admin` scope guards admin pages and /api/*, but admin events reach the
services over the websocket. So the admin checks themselves read the request's address (bound
by the HTTP middleware or the state helper) and refuse it outside the list. The e2e test
tests/e2e/test_attack_admin_allowlist.py makes the same attack over a real websocket.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import User
from youworker.services import authz, groups, users_admin
from youworker.services.errors import Forbidden, NotFound
from youworker.settings import get_settings


@pytest.fixture
def admin_allowlist() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECURITY__IP_ALLOWLIST", "10.0.0.0/8, ::1")
        patch.setenv("SECURITY__IP_ALLOWLIST_SCOPE", "admin")
        get_settings.cache_clear()
        yield
        authz.set_client_address(None)
    get_settings.cache_clear()


@pytest.mark.parametrize("address", ["203.0.113.7", "::ffff:192.0.2.1", "not an address", None])
async def test_admin_actions_from_outside_the_list_are_refused(
    db: AsyncSession, admin: User, alice: User, admin_allowlist: None, address: str | None
) -> None:
    authz.set_client_address(address)
    with pytest.raises(Forbidden, match="network address"):
        await users_admin.set_role(db, admin, alice.id, "admin")
    with pytest.raises(Forbidden, match="network address"):
        await users_admin.list_users(db, admin)
    await db.refresh(alice)
    assert alice.role == "user"


@pytest.mark.parametrize("address", ["10.1.2.3", "::ffff:10.9.9.9", "::1"])
async def test_admin_actions_from_the_list_go_through(
    db: AsyncSession, admin: User, alice: User, admin_allowlist: None, address: str
) -> None:
    authz.set_client_address(address)
    await users_admin.set_role(db, admin, alice.id, "admin")
    await db.refresh(alice)
    assert alice.role == "admin"


async def test_site_admin_powers_over_groups_are_fenced_too(
    db: AsyncSession, admin: User, alice: User, admin_allowlist: None
) -> None:
    group = await groups.create_group(db, alice, "Alice's group", "")
    authz.set_client_address("10.0.0.5")
    assert (await groups.get_managed(db, admin, group.id)).id == group.id
    authz.set_client_address("198.51.100.1")
    with pytest.raises(NotFound):  # to them the group is one that does not exist
        await groups.get_visible(db, admin, group.id)


async def test_without_a_list_the_address_does_not_matter(
    db: AsyncSession, admin: User, alice: User
) -> None:
    authz.set_client_address(None)
    await users_admin.set_role(db, admin, alice.id, "admin")
    await db.refresh(alice)
    assert alice.role == "admin"
