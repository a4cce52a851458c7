"""A site with something on every page: the fixture data of tests/e2e/test_every_page.py.

Everything a page can show is made once per module, mostly through the browser: conversations
(one shared with a group), a ready document, a group with a member and a pending invitation, an
API key, mail in the outbox (an invitation and a password reset), audit entries and analytics.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, StorageState, expect

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf

from .flows import Account, new_account, open_form, register
from .test_documents import choose_model, expect_ready, row, send, upload
from .test_groups import invitation_link
from .test_sharing import make_group, switch_on


@dataclass(frozen=True)
class Site:
    admin: Account
    member: Account
    admin_state: StorageState
    conversation: str  # /chat/<id> of the admin's conversation, a cited answer in it
    document: str  # /documents/<id> of a ready document
    group: str  # /groups/<id>: the admin owns it, the member is in it
    shared: str  # /shared/<id>: the member's conversation, shared with the group
    reset: str  # /reset/<token> for the member
    invite: str  # /invite/<token> for someone without an account


def _chat(page: Page, text: str, *, cited: bool = False) -> str:
    open_form(page, "/chat")
    if cited:  # the scripted RAG model answers from the documents, with numbered sources
        choose_model(page, "test-rag")
        page.get_by_test_id("use-documents").click()
        expect(page.get_by_test_id("use-documents")).to_have_attribute("data-state", "checked")
    send(page, text)
    expect(page).to_have_url(re.compile(r"/chat/[0-9a-f-]{36}/?$"))
    expect(page.get_by_test_id("assistant-message")).to_have_attribute("data-status", "complete")
    return urlparse(page.url).path


def _mail_link(page: Page, email: str, pattern: str) -> str:
    open_form(page, "/admin/outbox")
    mail = page.get_by_test_id("outbox-row").filter(has_text=email)
    link = mail.get_by_test_id("outbox-link").filter(has_text=re.compile(pattern)).first
    href = link.get_attribute("href")
    assert href is not None
    return urlparse(href).path


def build_site(
    browser: Browser,
    base_url: str,
    database: str,
    admin: tuple[Account, StorageState],
    tmp_path: Path,
) -> Site:
    account, state = admin
    member = new_account("member")
    member_context = browser.new_context(base_url=base_url)
    admin_context = browser.new_context(base_url=base_url, storage_state=state)
    try:
        them = member_context.new_page()
        register(them, member)
        team = f"team-{uuid.uuid4().hex[:6]}"
        group_id = make_group(database, account, member, team)

        # The member shares a conversation with the group: "Shared with me" has a row.
        shared_chat = _chat(them, "What can you do for the team?")
        them.get_by_test_id("share-chat").click()
        switch_on(them, f"share-chat-group-{team}")
        shared = shared_chat.replace("/chat/", "/shared/")

        me = admin_context.new_page()
        handbook = tmp_path / "every-page-handbook.pdf"
        handbook.write_bytes(make_pdf([PAGE_ONE, PAGE_TWO]))
        upload(me, handbook)
        expect_ready(me, handbook.name)
        document = row(me, handbook.name).get_by_role("link", name=handbook.name, exact=True)
        document_path = urlparse(document.get_attribute("href") or "").path

        # A cited answer: sources, inline citation links and the tool card are on the page.
        conversation = _chat(me, "How much is the meal allowance on business trips?", cited=True)
        expect(me.get_by_test_id("citation").first).to_be_visible()

        open_form(me, "/account")
        me.locator("input[name=name]").fill("every page script")
        me.get_by_role("button", name="Create key").click()
        expect(me.get_by_test_id("new-api-key")).to_be_visible()
        me.get_by_role("button", name="Done").click()

        open_form(me, "/admin")
        me.get_by_placeholder("Search by email or name").fill(member.email)
        me.get_by_test_id(f"reset-{member.email}").click()
        reset = _mail_link(me, member.email, r"/reset/")

        group = f"/groups/{group_id}"
        invited = new_account("invited")
        open_form(me, group)
        me.get_by_test_id("invite-email").fill(invited.email)
        me.get_by_test_id("invite-submit").click()
        expect(me.get_by_test_id("pending-invitation")).to_contain_text(invited.email)
        invite = urlparse(invitation_link(me, invited.email)).path
        return Site(
            admin=account,
            member=member,
            admin_state=state,
            conversation=conversation,
            document=document_path,
            group=group,
            shared=shared,
            reset=reset,
            invite=invite,
        )
    finally:
        member_context.close()
        admin_context.close()
