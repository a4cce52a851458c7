"""Browser steps shared by the e2e fixtures and tests: accounts, registering, signing in."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from playwright.sync_api import Page, expect

GENERIC_SIGN_IN_ERROR = "Email or password is incorrect."
# Below this width (Radix Themes' `md`) navigation and the conversation list are drawers.
WIDE_LAYOUT_PX = 1024


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    display_name: str


def new_account(label: str) -> Account:
    """A fresh account: tests share one database, so every email (and password) is unique."""
    unique = uuid.uuid4().hex[:12]
    return Account(f"{label}-{unique}@example.com", f"pass phrase {unique}", label.title())


def path_is(path: str) -> re.Pattern[str]:
    """Matches the page URL for `path` (Reflex adds a trailing slash; a query may follow)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path.rstrip('/'))}/?(\?.*)?$")


def open_form(page: Page, path: str) -> None:
    """Load `path` fully and wait until React has hydrated it.

    The forms are server-rendered, so they are visible before their handlers exist; a click then
    would submit natively. Reflex opens its event websocket from an effect after hydration, so its
    appearance is the signal that the form is live.
    """
    with page.expect_websocket(lambda ws: "/_event" in ws.url):
        page.goto(path)


def fill_registration(
    page: Page, *, email: str, display_name: str, password: str, confirm: str | None = None
) -> None:
    open_form(page, "/register")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=display_name]").fill(display_name)
    page.locator("input[name=password]").fill(password)
    page.locator("input[name=confirm_password]").fill(password if confirm is None else confirm)
    page.get_by_test_id("register-submit").click()


def register(page: Page, account: Account) -> None:
    """Register through the form and wait for the signed-in landing page (at any size: on
    narrow screens "New chat" is rendered inside the closed conversation drawer)."""
    fill_registration(
        page, email=account.email, display_name=account.display_name, password=account.password
    )
    expect(page).to_have_url(path_is("/chat"))
    expect(page.get_by_test_id("new-chat")).to_be_attached()


def is_narrow(page: Page) -> bool:
    size = page.viewport_size
    return size is not None and size["width"] < WIDE_LAYOUT_PX


def open_navigation(page: Page) -> None:
    """Make the main navigation reachable: on narrow screens open its drawer first."""
    if is_narrow(page):
        page.get_by_test_id("open-navigation").click()
        expect(page.get_by_test_id("nav-drawer")).to_be_visible()


def open_conversations(page: Page) -> None:
    """Make the conversation list reachable: on narrow screens open its drawer first."""
    if is_narrow(page):
        page.get_by_test_id("open-conversations").click()
        expect(page.get_by_test_id("conversations-drawer")).to_be_visible()


def submit_sign_in(page: Page, email: str, password: str) -> None:
    open_form(page, "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_test_id("sign-in-submit").click()


def sign_in(page: Page, account: Account) -> None:
    """Sign in through the form and wait for the signed-in landing page."""
    submit_sign_in(page, account.email, account.password)
    expect(page).to_have_url(path_is("/chat"))
    expect(page.get_by_test_id("new-chat")).to_be_attached()


def expect_sign_in_refused(page: Page, email: str, password: str, message: str) -> None:
    """The sign-in form stays put and shows `message` in the form-level error."""
    submit_sign_in(page, email, password)
    expect(page.get_by_test_id("form-error")).to_have_text(message)
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_test_id("sign-out")).to_have_count(0)
