"""Rate limits in the browser: repeated wrong passwords lock the account out of this address."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from .flows import (
    GENERIC_SIGN_IN_ERROR,
    expect_sign_in_refused,
    new_account,
    register,
    sign_in,
    submit_sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# The server runs with the default RATE_LIMIT__SIGN_IN_PER_ACCOUNT (5 in 15 minutes) and a first
# lockout of 30 s.
FAILURES_BEFORE_LOCKOUT = 5
LOCKED = re.compile(r"^Too many sign-in attempts\. Try again in \d+ s\.$")


def test_wrong_passwords_lock_the_account_with_a_clear_message(
    page: Page, new_context: CreateContextCallback
) -> None:
    victim, bystander = new_account("victim"), new_account("bystander")
    for account in (victim, bystander):
        register(new_context().new_page(), account)

    for n in range(FAILURES_BEFORE_LOCKOUT - 1):
        expect_sign_in_refused(page, victim.email, f"wrong password {n}", GENERIC_SIGN_IN_ERROR)
    expect_sign_in_refused(
        page, victim.email, "wrong password again", "Too many sign-in attempts. Try again in 30 s."
    )

    # While locked, even the right password from here is refused, with the wait.
    submit_sign_in(page, victim.email, victim.password)
    expect(page.get_by_test_id("form-error")).to_have_text(LOCKED)

    # The lockout is the account's from this address, not the address's: others still sign in.
    sign_in(page, bystander)
