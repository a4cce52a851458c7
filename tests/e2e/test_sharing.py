"""Sharing end to end: a conversation and a document shared with a group, read by a member,
and gone for them the moment they are removed from the group.

The group itself is made through the service layer, straight in the app's SQLite database
(the group pages have tests of their own); everything else goes through the browser.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import create_engine_for
from youworker.models import User
from youworker.services import groups

from .conftest import SERVER_LOG_KEY
from .flows import Account, new_account, open_form, path_is, register
from .test_documents import row, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

T = TypeVar("T")


@pytest.fixture
def app_database(app_url: str, pytestconfig: pytest.Config) -> str:
    """The running app's database: the server log sits in its data directory."""
    data_dir = pytestconfig.stash[SERVER_LOG_KEY].parent
    return f"sqlite:///{data_dir / 'e2e.db'}"


def in_database(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` on the app's database, in a thread: Playwright's sync API holds this one's
    event loop."""

    async def main() -> T:
        engine = create_engine_for(url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                return await work(session)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def user_by_email(db: AsyncSession, email: str) -> User:
    user = await db.scalar(select(User).where(col(User.email) == email))
    assert user is not None, email
    return user


def make_group(url: str, owner: Account, member: Account, name: str) -> uuid.UUID:
    async def work(db: AsyncSession) -> uuid.UUID:
        group = await groups.create_group(db, await user_by_email(db, owner.email), name)
        await groups.add_member(db, group.id, (await user_by_email(db, member.email)).id)
        await db.commit()
        return group.id

    return in_database(url, work)


def remove_member(url: str, admin: Account, member: Account, group_id: uuid.UUID) -> None:
    async def work(db: AsyncSession) -> None:
        actor = await user_by_email(db, admin.email)
        member_user = await user_by_email(db, member.email)
        await groups.remove_member(db, actor, group_id, member_user.id)

    in_database(url, work)


def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_enabled()
    composer.fill(text)
    composer.press("Enter")


def switch_on(page: Page, test_id: str) -> None:
    switch = page.get_by_test_id(test_id)
    expect(switch).to_have_attribute("data-state", "unchecked")
    switch.click()
    # The switch shows what the database says once the share is stored.
    expect(switch).to_have_attribute("data-state", "checked")
    page.get_by_test_id("share-done").click()
    expect(page.get_by_test_id("share-dialog")).to_have_count(0)


def test_a_member_reads_what_the_owner_shares_until_removed(
    page: Page, new_context: CreateContextCallback, app_database: str, tmp_path: Path
) -> None:
    alice, bob = new_account("alice"), new_account("bob")
    register(page, alice)
    bob_page = new_context().new_page()
    register(bob_page, bob)
    team = f"team-{uuid.uuid4().hex[:8]}"
    group_id = make_group(app_database, alice, bob, team)

    # Alice shares a conversation from its header...
    question = f"Launch plans {uuid.uuid4().hex[:6]}"
    send(page, question)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "complete")
    page.get_by_test_id("share-chat").click()
    switch_on(page, f"share-chat-group-{team}")

    # ...and a document from the documents list.
    notes = tmp_path / "launch-notes.md"
    notes.write_text("# Launch\n\nThe launch is on the first Monday of June.")
    upload(page, notes)
    expect(page.get_by_test_id("upload-row")).to_have_attribute("data-state", "added")
    row(page, notes.name).get_by_test_id("share").click()
    switch_on(page, f"share-group-{team}")
    expect(row(page, notes.name).get_by_test_id("share-badge")).to_have_text("Shared with 1 group")

    # Bob finds the conversation under "Shared with me" and reads it, without a composer.
    open_form(bob_page, "/chat")
    bob_page.get_by_test_id("nav-shared-with-me").click()
    expect(bob_page).to_have_url(path_is("/shared"))
    item = bob_page.get_by_test_id("shared-conversation").filter(has_text=question)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Alice")
    expect(item).to_contain_text(team)
    item.click()
    expect(bob_page).to_have_url(re.compile(r"/shared/[0-9a-f-]{36}/?$"))
    shared_path = urlparse(bob_page.url).path
    note = bob_page.get_by_test_id("read-only-note")
    expect(note).to_contain_text("Alice")
    expect(note).to_contain_text(team)
    expect(bob_page.get_by_test_id("user-message")).to_contain_text(question)
    expect(bob_page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(bob_page.get_by_test_id("composer")).to_have_count(0)
    expect(bob_page.get_by_test_id("regenerate")).to_have_count(0)

    # The document is in Bob's list, as Alice's, and only she can share or delete it.
    open_form(bob_page, "/documents")
    shared_row = row(bob_page, notes.name)
    expect(shared_row.get_by_test_id("document-owner")).to_have_text("Alice")
    expect(shared_row.get_by_test_id("share-badge")).to_contain_text(team)
    expect(shared_row.get_by_test_id("share")).to_have_count(0)
    expect(shared_row.get_by_test_id("delete")).to_have_count(0)

    # Removed from the group, Bob loses both at once.
    remove_member(app_database, alice, bob, group_id)
    open_form(bob_page, shared_path)
    expect(bob_page.get_by_test_id("not-available")).to_be_visible()
    expect(bob_page.locator("body")).not_to_contain_text(question)
    open_form(bob_page, "/shared")
    expect(bob_page.get_by_test_id("nothing-shared")).to_be_visible()
    open_form(bob_page, "/documents")
    expect(bob_page.get_by_test_id("no-documents")).to_be_visible()
