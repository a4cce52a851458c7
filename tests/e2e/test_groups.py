"""Groups end to end: create, invite by email (read from the outbox), join, share, remove."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from tests.files import PAGE_ONE, PAGE_TWO, make_pdf

from .flows import Account, new_account, open_form, path_is, register
from .test_documents import choose_model, expect_ready, row, send, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

QUESTION = "How much is the meal allowance on business trips?"


def create_group(page: Page, name: str) -> str:
    open_form(page, "/groups")
    page.get_by_test_id("new-group").click()
    page.locator("input[name=name]").fill(name)
    page.locator("textarea[name=description]").fill("Travel rules and receipts")
    page.get_by_test_id("create-group").click()
    expect(page.get_by_test_id("group-name")).to_have_text(name)
    return page.url


def invitation_link(page: Page, email: str) -> str:
    """The link in the invitation mail, as an administrator reads it in the outbox."""
    open_form(page, "/admin/outbox")
    mail = page.get_by_test_id("outbox-row").filter(has_text=email).first
    link = mail.get_by_test_id("outbox-link").first
    expect(link).to_have_attribute("href", re.compile(r"/invite/[A-Za-z0-9_-]{40,}$"))
    href = link.get_attribute("href")
    assert href is not None
    return href


def ask_documents(page: Page, *, switch_on: bool) -> None:
    """Ask in a new chat with "Use my documents" on (it carries over from the last chat)."""
    open_form(page, "/chat")
    page.get_by_test_id("new-chat").click()
    choose_model(page, "test-rag")
    if switch_on:
        page.get_by_test_id("use-documents").click()
    expect(page.get_by_test_id("use-documents")).to_have_attribute("data-state", "checked")
    send(page, QUESTION)


def test_invited_user_joins_retrieves_shared_document_and_loses_it_when_removed(
    admin_context: BrowserContext,
    new_context: CreateContextCallback,
    admin: Account,
    tmp_path: Path,
) -> None:
    group_name = f"Travel {uuid.uuid4().hex[:6]}"
    guest = new_account("guest")

    # The admin creates a group and invites someone who has no account yet.
    owner = admin_context.new_page()
    group_url = create_group(owner, group_name)
    owner.get_by_test_id("invite-email").fill(guest.email)
    owner.get_by_test_id("invite-submit").click()
    expect(owner.get_by_test_id("invite-note")).to_contain_text("outbox")
    expect(owner.get_by_test_id("pending-invitation")).to_contain_text(guest.email)
    # Group admins read their group's trail.
    expect(owner.get_by_test_id("group-activity")).to_contain_text("invitation.create")

    # ...and shares a handbook with the group.
    handbook = tmp_path / "travel-handbook.pdf"
    handbook.write_bytes(make_pdf([PAGE_ONE, PAGE_TWO]))
    upload(owner, handbook)
    expect_ready(owner, handbook.name)
    row(owner, handbook.name).get_by_test_id("share").click()
    owner.get_by_test_id(f"share-group-{group_name}").click()
    expect(row(owner, handbook.name).get_by_test_id("share-badge")).to_be_visible()
    link = invitation_link(owner, guest.email)

    # The guest, in a browser of their own, opens the link, registers and joins.
    visitor = new_context().new_page()
    open_form(visitor, link)
    expect(visitor.get_by_test_id("invitation-summary")).to_contain_text(group_name)
    expect(visitor.get_by_test_id("invitation-summary")).to_contain_text(guest.email)
    visitor.locator("input[name=display_name]").fill(guest.display_name)
    visitor.locator("input[name=password]").fill(guest.password)
    visitor.locator("input[name=confirm_password]").fill(guest.password)
    visitor.get_by_test_id("register-and-join").click()
    expect(visitor.get_by_test_id("group-name")).to_have_text(group_name)
    expect(visitor.get_by_test_id("member-row")).to_have_count(2)

    # The link was single use: opened again, it tells the new member they are in.
    open_form(visitor, link)
    expect(visitor.get_by_test_id("invite-member")).to_be_attached()
    expect(visitor.get_by_text("You are already a member of")).to_be_visible()

    # The shared handbook now answers the guest's question, cited.
    ask_documents(visitor, switch_on=True)
    answer = visitor.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("message-content")).to_contain_text("42 euros")
    expect(answer.get_by_test_id("citation").first).to_contain_text(f"{handbook.name} · page 2")

    # The admin removes the guest: from then on the handbook is out of reach.
    open_form(owner, group_url)
    owner.get_by_test_id(f"remove-{guest.email}").click()
    owner.get_by_test_id("confirm-remove-member").click()
    expect(owner.get_by_test_id("member-row")).to_have_count(1)

    ask_documents(visitor, switch_on=False)
    answer = visitor.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("message-content")).to_contain_text("I found nothing")
    expect(answer.get_by_test_id("citation")).to_have_count(0)
    open_form(visitor, group_url)
    expect(visitor.get_by_test_id("group-not-found")).to_be_visible()


def test_invitation_for_someone_else_is_refused_without_details(
    admin_context: BrowserContext, page: Page
) -> None:
    owner = admin_context.new_page()
    group_url = create_group(owner, f"Private {uuid.uuid4().hex[:6]}")
    invited = new_account("invited")
    owner.get_by_test_id("invite-email").fill(invited.email)
    owner.get_by_test_id("invite-submit").click()
    expect(owner.get_by_test_id("pending-invitation")).to_contain_text(invited.email)
    link = invitation_link(owner, invited.email)

    intruder = new_account("intruder")
    register(page, intruder)
    open_form(page, link)
    expect(page.get_by_test_id("wrong-account")).to_contain_text(invited.email)
    expect(page.get_by_test_id("accept-invitation")).to_have_count(0)

    # Withdrawn, the same link says so and shows nothing about the invitation.
    open_form(owner, group_url)
    owner.get_by_test_id(f"revoke-{invited.email}").click()
    owner.get_by_test_id("confirm-withdraw").click()
    expect(owner.get_by_test_id("pending-invitation")).to_have_count(0)
    open_form(page, link)
    expect(page.get_by_test_id("invite-revoked")).to_be_attached()
    expect(page.get_by_test_id("invitation-summary")).to_have_count(0)
    open_form(page, "/invite/not-a-real-token")
    expect(page.get_by_test_id("invite-unknown")).to_be_attached()
    expect(page).to_have_url(path_is("/invite/not-a-real-token"))


def test_someone_with_an_account_finds_the_invitation_on_the_groups_page(
    admin_context: BrowserContext, page: Page
) -> None:
    member = new_account("member")
    register(page, member)
    owner = admin_context.new_page()
    group_name = f"Crew {uuid.uuid4().hex[:6]}"
    create_group(owner, group_name)
    owner.get_by_test_id("invite-email").fill(member.email)
    owner.get_by_test_id("invite-submit").click()
    expect(owner.get_by_test_id("pending-invitation")).to_contain_text(member.email)

    open_form(page, "/groups")
    waiting = page.get_by_test_id("waiting-invitation")
    expect(waiting).to_contain_text(group_name)
    waiting.get_by_test_id("join-waiting").click()

    expect(page.get_by_test_id("group-name")).to_have_text(group_name)
    expect(page.get_by_test_id("member-row")).to_have_count(2)
    open_form(page, "/groups")
    expect(page.get_by_test_id("group-card")).to_contain_text(group_name)
    expect(page.get_by_test_id("waiting-invitation")).to_have_count(0)
