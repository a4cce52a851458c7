"""Accounts end to end: registration, sign-in and out, roles, deactivation, health endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, StorageState, WebSocketRoute, expect
from pytest_playwright.pytest_playwright import CreateContextCallback

from .flows import (
    GENERIC_SIGN_IN_ERROR,
    Account,
    expect_sign_in_refused,
    fill_registration,
    new_account,
    path_is,
    register,
    sign_in,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SESSION_COOKIE = "yw_session"


def test_first_registration_is_admin_with_http_only_cookie(
    page: Page, admin_account: tuple[Account, StorageState]
) -> None:
    # The fixture registered `admin` first on the fresh database, which set an HttpOnly cookie.
    admin, registered_storage = admin_account
    registered = [c for c in registered_storage["cookies"] if c["name"] == SESSION_COOKIE]
    assert len(registered) == 1
    assert registered[0]["httpOnly"] is True

    # Sign in as it in a clean context: the account is an administrator.
    sign_in(page, admin)

    expect(page.get_by_test_id("nav-admin")).to_be_visible()
    page.get_by_test_id("nav-admin").click()
    expect(page).to_have_url(path_is("/admin"))
    rows = page.get_by_test_id("user-row")
    expect(rows.filter(has_text=admin.email)).to_have_count(1)
    expect(page.get_by_test_id("access-denied")).to_have_count(0)

    cookies = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(cookies) == 1, page.context.cookies()
    assert cookies[0]["httpOnly"] is True
    assert cookies[0]["sameSite"] == "Lax"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")


def test_sign_out_sign_in_and_generic_errors(
    page: Page, new_context: CreateContextCallback
) -> None:
    account = new_account("returning")
    register(page, account)
    old_cookies = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(old_cookies) == 1

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_test_id("sign-in-submit")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    # Signed out for real: a signed-in page sends us back to sign in.
    page.goto("/chat")
    expect(page).to_have_url(path_is("/login"))
    # ...and the server ended the session: the old cookie, replayed elsewhere, is worthless.
    replay: BrowserContext = new_context()
    replay.add_cookies(old_cookies)  # type: ignore[arg-type]  # a Cookie is a valid SetCookieParam
    replay_page = replay.new_page()
    replay_page.goto("/chat")
    expect(replay_page).to_have_url(path_is("/login"))

    sign_in(page, account)
    expect(page.get_by_test_id("nav-account")).to_be_visible()
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(path_is("/login"))

    expect_sign_in_refused(page, account.email, "wrong password 123", GENERIC_SIGN_IN_ERROR)
    wrong_password_text = page.get_by_test_id("form-error").inner_text()

    unknown = new_account("nobody")
    expect_sign_in_refused(page, unknown.email, account.password, GENERIC_SIGN_IN_ERROR)
    assert page.get_by_test_id("form-error").inner_text() == wrong_password_text


def _expect_field_error(page: Page, field: str, message: str | re.Pattern[str]) -> None:
    """Exactly one field-level error, under `field`, and the form did not go anywhere."""
    expect(page.get_by_test_id(f"field-{field}").get_by_role("alert")).to_have_text(message)
    expect(page.get_by_role("alert")).to_have_count(1)
    expect(page).to_have_url(path_is("/register"))
    expect(page.get_by_test_id("register-submit")).to_be_visible()


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("malformed_email", "email", re.compile(r"^Enter a valid email address: .+")),
        ("short_password", "password", "Password must be at least 10 characters."),
        ("mismatched_confirm", "confirm_password", "Passwords do not match."),
        ("taken_email_other_case", "email", "An account with this email already exists."),
    ],
)
def test_registration_field_errors_create_no_account(
    page: Page, admin: Account, case: str, field: str, message: str | re.Pattern[str]
) -> None:
    account = new_account("rejected")
    email, password, confirm = account.email, account.password, account.password
    if case == "malformed_email":
        # Valid to the browser's type=email check (so the form submits), invalid to the server.
        email = account.email.replace("@example.com", "@nodot")
    elif case == "short_password":
        password = confirm = "short1234"
    elif case == "mismatched_confirm":
        confirm = account.password + "!"
    elif case == "taken_email_other_case":
        email = admin.email.upper()

    fill_registration(
        page, email=email, display_name=account.display_name, password=password, confirm=confirm
    )
    _expect_field_error(page, field, message)

    # No account was created (for the taken email: none with the new password either).
    expect_sign_in_refused(page, email, password, GENERIC_SIGN_IN_ERROR)


def test_register_form_waits_until_the_page_has_loaded(page: Page, admin: Account) -> None:
    """A submit before the page's on_load ran would have its errors wiped by that on_load.

    The server's messages are held back after the socket connects, so the page is rendered
    and live but not yet hydrated: the form must not submit until they arrive.
    """
    held: list[str | bytes] = []
    holding = True

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            # Socket.IO events ("42...") carry state; the handshake and pings pass through.
            if holding and isinstance(message, str) and message.startswith("42"):
                held.append(message)
            else:
                ws.send(message)

        server.on_message(from_server)

        def release() -> None:
            nonlocal holding
            holding = False
            for message in held:
                ws.send(message)

        releases.append(release)

    releases: list[Callable[[], None]] = []
    page.route_web_socket(re.compile(r"/_event"), route)
    page.goto("/register")
    submit = page.get_by_test_id("register-submit")
    expect(submit).to_be_disabled()
    page.locator("input[name=email]").fill(admin.email.upper())
    page.locator("input[name=display_name]").fill("Early")
    page.locator("input[name=password]").fill("pass phrase early-bird")
    page.locator("input[name=confirm_password]").fill("pass phrase early-bird")
    page.locator("input[name=confirm_password]").press("Enter")
    expect(submit).to_be_disabled()

    assert len(releases) == 1
    releases[0]()
    expect(submit).to_be_enabled()
    submit.click()
    _expect_field_error(page, "email", "An account with this email already exists.")


def test_second_user_is_not_admin(page: Page) -> None:
    register(page, new_account("member"))
    expect(page.get_by_test_id("nav-account")).to_be_visible()
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)

    page.goto("/admin")
    expect(page.get_by_test_id("access-denied")).to_be_visible()
    expect(page.get_by_test_id("user-row")).to_have_count(0)
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)


def test_deactivation_cuts_an_open_session(
    new_context: CreateContextCallback, admin_context: BrowserContext
) -> None:
    member = new_account("suspended")
    member_page = new_context().new_page()
    register(member_page, member)
    expect(member_page.get_by_test_id("nav-account")).to_be_visible()

    admin_page = admin_context.new_page()
    admin_page.goto("/admin")
    admin_page.get_by_placeholder("Search by email or name").fill(member.email)
    row = admin_page.get_by_test_id("user-row").filter(has_text=member.email)
    expect(row).to_have_count(1)
    row.get_by_test_id(f"deactivate-{member.email}").click()
    admin_page.get_by_test_id("confirm-deactivate").click()
    expect(row.get_by_text("deactivated", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Reactivate")).to_be_visible()

    # The member's page is still open and still shows the signed-in shell; its next action fails.
    member_page.get_by_test_id("nav-account").click()
    expect(member_page).to_have_url(path_is("/login"))
    expect(member_page.get_by_test_id("sign-out")).to_have_count(0)

    expect_sign_in_refused(
        member_page,
        member.email,
        member.password,
        "This account is deactivated. Ask an administrator to reactivate it.",
    )


def test_health_endpoints(page: Page, admin_context: BrowserContext) -> None:
    live = page.request.get("/health")
    assert live.status == 200
    assert live.json() == {"status": "ok"}

    anonymous = page.request.get("/health/detailed")
    assert anonymous.status == 401

    detailed = admin_context.request.get("/health/detailed")
    assert detailed.status == 200, detailed.text()
    body = detailed.json()
    assert body["status"] in ("ok", "degraded")
    assert body["checks"]["database"]["status"] == "ok"
