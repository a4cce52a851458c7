"""Password reset end to end: admin sends a link, reads it in the outbox, the member uses it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from .flows import (
    GENERIC_SIGN_IN_ERROR,
    Account,
    expect_sign_in_refused,
    new_account,
    open_form,
    path_is,
    register,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_reset_link_from_the_outbox_sets_a_new_password_once(
    new_context: CreateContextCallback, admin_context: BrowserContext
) -> None:
    member = new_account("forgetful")
    member_page = new_context().new_page()
    register(member_page, member)

    admin_page = admin_context.new_page()
    admin_page.goto("/admin")
    admin_page.get_by_placeholder("Search by email or name").fill(member.email)
    row = admin_page.get_by_test_id("user-row").filter(has_text=member.email)
    expect(row).to_have_count(1)
    row.get_by_test_id(f"reset-{member.email}").click()
    expect(admin_page.get_by_text(re.compile("is in the outbox"))).to_be_visible()

    admin_page.get_by_test_id("admin-tab-outbox").click()
    expect(admin_page).to_have_url(path_is("/admin/outbox"))
    expect(admin_page.get_by_test_id("outbox-note")).to_contain_text("SMTP is not configured")
    mail = admin_page.get_by_test_id("outbox-row").filter(has_text=member.email).first
    link = mail.get_by_test_id("outbox-link")
    expect(link).to_have_attribute("href", re.compile(r"/reset/[A-Za-z0-9_-]{40,}$"))
    reset_path = urlsplit(link.get_attribute("href") or "").path

    # A stranger's browser (not signed in) opens the link.
    page = new_context().new_page()
    open_form(page, reset_path)
    expect(page.get_by_text(member.email)).to_be_visible()
    new_password = f"{member.password} renewed"
    page.locator("input[name=password]").fill(new_password)
    page.locator("input[name=confirm_password]").fill(new_password + "typo")
    page.get_by_test_id("reset-submit").click()
    expect(page.get_by_text("Passwords do not match.")).to_be_visible()
    page.locator("input[name=confirm_password]").fill(new_password)
    page.get_by_test_id("reset-submit").click()
    expect(page.get_by_test_id("reset-done")).to_be_visible()

    # The member's open session ended with the reset.
    member_page.get_by_test_id("nav-account").click()
    expect(member_page).to_have_url(path_is("/login"))

    page.get_by_test_id("reset-sign-in").click()
    expect(page).to_have_url(path_is("/login"))
    expect_sign_in_refused(page, member.email, member.password, GENERIC_SIGN_IN_ERROR)
    sign_in(page, Account(member.email, new_password, member.display_name))

    # The link works once.
    open_form(page, reset_path)
    expect(page.get_by_test_id("reset-used")).to_be_visible()


def test_unknown_reset_link_and_outbox_for_non_admins(page: Page) -> None:
    page.goto("/reset/not-a-real-token")
    expect(page.get_by_test_id("reset-unknown")).to_be_visible()
    expect(page.get_by_test_id("reset-submit")).to_have_count(0)

    register(page, new_account("curious"))
    page.goto("/admin/outbox")
    expect(page.get_by_test_id("access-denied")).to_be_visible()
    expect(page.get_by_test_id("outbox-row")).to_have_count(0)
