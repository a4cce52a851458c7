"""Destructive actions ask first: deactivating a user, removing a member, withdrawing an
invitation, deleting a group, revoking an API key or a session. Cancel and Escape leave the
server's state as it was (checked after a reload); confirming does the deed."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from .flows import Account, new_account, open_form, path_is, register, sign_in
from .test_sharing import app_database, make_group  # noqa: F401  (app_database: a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _dialog(page: Page) -> Locator:
    return page.get_by_role("alertdialog")


def _cancel_then_escape(page: Page, trigger: Locator, says: str) -> None:
    """Open the confirmation twice: once left with Cancel, once with Escape."""
    trigger.click()
    expect(_dialog(page)).to_contain_text(says)
    _dialog(page).get_by_role("button", name="Cancel").click()
    expect(_dialog(page)).to_have_count(0)
    trigger.click()
    expect(_dialog(page)).to_be_visible()
    page.keyboard.press("Escape")
    expect(_dialog(page)).to_have_count(0)


def _user_row(page: Page, member: Account) -> Locator:
    open_form(page, "/admin")
    page.get_by_placeholder("Search by email or name").fill(member.email)
    # The search has answered when the member's is the only row left.
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    row = page.get_by_test_id("user-row").filter(has_text=member.email)
    expect(row).to_have_count(1)
    return row


def test_deactivating_a_user_asks_first(
    new_context: CreateContextCallback, admin_context: BrowserContext
) -> None:
    member = new_account("careful")
    member_page = new_context().new_page()
    register(member_page, member)

    admin = admin_context.new_page()
    row = _user_row(admin, member)
    _cancel_then_escape(admin, row.get_by_test_id(f"deactivate-{member.email}"), member.email)

    # Nothing happened: still active after a reload, and the member's session still works.
    row = _user_row(admin, member)
    expect(row.get_by_text("active", exact=True)).to_be_visible()
    member_page.get_by_test_id("nav-account").click()
    expect(member_page).to_have_url(path_is("/account"))

    row.get_by_test_id(f"deactivate-{member.email}").click()
    admin.get_by_test_id("confirm-deactivate").click()
    expect(row.get_by_text("deactivated", exact=True)).to_be_visible()
    member_page.get_by_test_id("nav-chat").click()
    expect(member_page).to_have_url(path_is("/login"))


def test_removing_withdrawing_and_deleting_in_a_group_ask_first(
    admin_context: BrowserContext,
    new_context: CreateContextCallback,
    admin: Account,
    app_database: str,  # noqa: F811  (the fixture imported above)
) -> None:
    member = new_account("grouped")
    register(new_context().new_page(), member)
    group_id = make_group(app_database, admin, member, f"careful-{uuid.uuid4().hex[:6]}")
    page = admin_context.new_page()
    group = f"/groups/{group_id}"

    open_form(page, group)
    expect(page.get_by_test_id("member-row")).to_have_count(2)
    _cancel_then_escape(page, page.get_by_test_id(f"remove-{member.email}"), member.email)
    open_form(page, group)
    expect(page.get_by_test_id("member-row")).to_have_count(2)
    page.get_by_test_id(f"remove-{member.email}").click()
    page.get_by_test_id("confirm-remove-member").click()
    expect(page.get_by_test_id("member-row")).to_have_count(1)

    invited = new_account("maybe")
    page.get_by_test_id("invite-email").fill(invited.email)
    page.get_by_test_id("invite-submit").click()
    expect(page.get_by_test_id("pending-invitation")).to_contain_text(invited.email)
    _cancel_then_escape(page, page.get_by_test_id(f"revoke-{invited.email}"), invited.email)
    open_form(page, group)
    expect(page.get_by_test_id("pending-invitation")).to_have_count(1)
    page.get_by_test_id(f"revoke-{invited.email}").click()
    page.get_by_test_id("confirm-withdraw").click()
    expect(page.get_by_test_id("pending-invitation")).to_have_count(0)

    _cancel_then_escape(page, page.get_by_test_id("delete-group"), "Delete this group?")
    open_form(page, group)
    expect(page.get_by_test_id("group-name")).to_be_visible()
    page.get_by_test_id("delete-group").click()
    page.get_by_test_id("confirm-group-action").click()
    expect(page).to_have_url(path_is("/groups"))
    open_form(page, group)
    expect(page.get_by_test_id("group-not-found")).to_be_visible()


def test_revoking_a_key_and_a_session_asks_first(
    page: Page, new_context: CreateContextCallback
) -> None:
    account = new_account("keyholder")
    register(page, account)
    laptop = new_context().new_page()
    sign_in(laptop, account)

    open_form(page, "/account")
    page.locator("input[name=name]").fill("nightly backup")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_test_id("new-api-key")).to_be_visible()
    key = page.get_by_test_id("new-api-key").inner_text()
    page.get_by_role("button", name="Done").click()
    auth = {"Authorization": f"Bearer {key}"}
    program = new_context().request  # no session cookie: only the key speaks
    assert program.get("/api/v1/conversations", headers=auth).status == 200

    _cancel_then_escape(page, page.get_by_test_id("revoke-key"), "nightly backup")
    assert program.get("/api/v1/conversations", headers=auth).status == 200
    page.get_by_test_id("revoke-key").click()
    page.get_by_test_id("confirm-revoke-key").click()
    expect(page.get_by_test_id("revoke-key")).to_have_count(0)
    assert program.get("/api/v1/conversations", headers=auth).status == 401

    # The other browser's session: one Revoke button (this browser's row has none).
    open_form(page, "/account")
    revoke = page.get_by_test_id("revoke-session")
    expect(revoke).to_have_count(1)
    _cancel_then_escape(page, revoke, "signed out")
    laptop.get_by_test_id("nav-account").click()
    expect(laptop).to_have_url(path_is("/account"))
    revoke.click()
    page.get_by_test_id("confirm-revoke-session").click()
    expect(page.get_by_test_id("revoke-session")).to_have_count(0)
    laptop.get_by_test_id("nav-chat").click()
    expect(laptop).to_have_url(re.compile(r"/login/?(\?.*)?$"))
