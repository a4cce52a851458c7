"""Admin events over the websocket from outside SECURITY__IP_ALLOWLIST are refused.

The e2e app allows administration from 127.0.0.1 and ::1 only (scope `admin`: the allow-list
middleware guards admin pages and /api/*, not the `/_event` websocket every page uses). A
simulated tab signed in as the admin connects from 127.0.0.2, another address of this machine,
and asks for the user list and a role change: it gets neither. The same events from 127.0.0.1
work, so the refusal is the address's doing.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from playwright.sync_api import StorageState

from bench.reflex_client import ReflexTab, register, state_name
from youworker.state.admin import AdminState
from youworker.state.auth import RegisterState
from youworker.state.session import SessionState

from .flows import Account, new_account

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

OUTSIDER = "127.0.0.2"


def _cookies(storage: StorageState) -> httpx.Cookies:
    jar = httpx.Cookies()
    for cookie in storage.get("cookies", []):
        jar.set(cookie["name"], cookie["value"])
    return jar


def _row(tab: ReflexTab, email: str) -> dict[str, Any] | None:
    users = tab.var(state_name(AdminState), "users") or []
    return next((u for u in users if u.get("email") == email), None)


async def _is_admin(base_url: str, cookies: httpx.Cookies) -> bool:
    """What a fresh tab of the promoted user says (from the allowed address)."""
    session = state_name(SessionState)
    tab = ReflexTab(base_url, cookies)
    try:
        await tab.open("/chat")
        await tab.wait_for(lambda: tab.var(session, "signed_in") is True, 60)
        return bool(tab.var(session, "is_admin"))
    finally:
        await tab.close()


async def _wait_for_role(tab: ReflexTab, email: str, role: str) -> None:
    await tab.wait_for(lambda: (row := _row(tab, email)) is not None and row["role"] == role, 60)


async def _attack(base_url: str, cookies: httpx.Cookies) -> dict[str, Any]:
    admin = state_name(AdminState)
    victim = new_account("promoted")
    victim_cookies = await register(
        base_url, state_name(RegisterState), victim.email, victim.display_name, victim.password
    )
    inside = ReflexTab(base_url, cookies)
    outside = ReflexTab(base_url, cookies, local_address=OUTSIDER)
    try:
        await inside.open("/admin")
        await inside.send(admin, "search", query=victim.email)
        await _wait_for_role(inside, victim.email, "user")
        row = _row(inside, victim.email)
        assert row is not None
        victim_id = str(row["id"])

        await outside.open("/admin")
        listed = outside.var(admin, "users")
        answered = len(outside.events)
        await outside.send(admin, "set_role", user_id=victim_id, role="admin")
        await outside.wait_for(lambda: len(outside.events) > answered, 60)
        refusal = json.dumps(outside.events[answered:])
        promoted_from_outside = await _is_admin(base_url, victim_cookies)

        # From the allowed address the very same event goes through (and is undone).
        await inside.send(admin, "set_role", user_id=victim_id, role="admin")
        await _wait_for_role(inside, victim.email, "admin")
        promoted_from_inside = await _is_admin(base_url, victim_cookies)
        await inside.send(admin, "set_role", user_id=victim_id, role="user")
        await _wait_for_role(inside, victim.email, "user")
        return {
            "listed": listed,
            "refusal": refusal,
            "outside": promoted_from_outside,
            "inside": promoted_from_inside,
        }
    finally:
        await inside.close()
        await outside.close()


def test_admin_events_from_outside_the_allowlist_are_refused(
    base_url: str, admin_account: tuple[Account, StorageState]
) -> None:
    cookies = _cookies(admin_account[1])
    with ThreadPoolExecutor(max_workers=1) as thread:
        seen = thread.submit(asyncio.run, _attack(base_url, cookies)).result()
    assert seen["outside"] is False, "a role change went through from outside the list"
    assert "Saved." not in seen["refusal"]
    assert not seen["listed"], "the outsider was shown the user list"
    assert seen["inside"] is True
