"""Per-user change notices: waiters wake, and a tab can tell its own lone change from others'."""

from __future__ import annotations

import asyncio
import uuid

from youworker.services.chat.events import ConversationEvents


async def test_a_waiter_wakes_on_change_and_learns_who_made_it() -> None:
    events = ConversationEvents()
    user = uuid.uuid4()
    seen = events.version(user)
    waiting = asyncio.create_task(events.wait(user, seen, timeout_s=30))
    await asyncio.sleep(0)
    events.changed(user, origin="tab-a")
    change = await waiting
    assert change is not None and change.version == seen + 1
    assert change.only_origin == "tab-a"


async def test_two_changes_do_not_look_like_one_tabs_own() -> None:
    events = ConversationEvents()
    user = uuid.uuid4()
    seen = events.version(user)
    events.changed(user, origin="tab-b")
    events.changed(user, origin="tab-a")
    change = await events.wait(user, seen, timeout_s=30)
    assert change is not None and change.version == seen + 2
    assert change.only_origin is None


async def test_nothing_changed_times_out_and_other_users_do_not_wake() -> None:
    events = ConversationEvents()
    user, other = uuid.uuid4(), uuid.uuid4()
    seen = events.version(user)
    events.changed(other)
    assert await events.wait(user, seen, timeout_s=0.01) is None
