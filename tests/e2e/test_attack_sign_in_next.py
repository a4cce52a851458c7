"""Signing in through a hostile `/login?next=...` link runs no script and leaves no site.

The sign-in used to splice `next` into JavaScript the page evaluated: `next=/'-alert(1)-'` ran,
and a tab in `next` sent the browser to another site. Now the page only ever runs a constant
hand-off function (the one-time code reaches it as a JSON string), the target stays on the
server and Reflex's own redirect takes the signed-in browser there.

A real Chromium signs in through each hostile link: no dialog opens, the payload's marker is
never set, nothing is requested from another host, and the browser lands on the chat page. The
websocket half checks what the server sends a simulated tab: the hostile value appears in no
script, and the redirect after the hand-off goes to /chat.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import Browser, Dialog, Page, Request, Route, expect

from bench.reflex_client import ReflexTab, register, sign_in, state_name
from youworker.state.auth import LoginState, RegisterState
from youworker.state.scripts import HAND_OFF

from .flows import Account, new_account, open_form, path_is

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

HOSTILE_NEXT = [
    "/'-alert(1)-'",
    "/'-(window.__pwned=1)-'",
    "/chat');window.__pwned=1;//",
    '/chat"-alert(1)-"',
    "/\t/evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "javascript:window.__pwned=1",
    "/%2F%2Fevil.example/",
    "/chat\u2028window.__pwned=1",
]


@pytest.fixture(scope="module")
def victim(app_url: str, admin: Account) -> Account:
    account = new_account("victim")
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(
            asyncio.run,
            register(
                app_url,
                state_name(RegisterState),
                account.email,
                account.display_name,
                account.password,
            ),
        ).result()
    return account


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_hostile_next_link_runs_no_script_and_stays_on_the_site(
    browser: Browser, app_url: str, victim: Account, target: str
) -> None:
    context = browser.new_context(base_url=app_url)
    dialogs: list[str] = []
    foreign: list[str] = []
    app_host = urlsplit(app_url).netloc

    def refuse_foreign(route: Route, request: Request) -> None:
        foreign.append(request.url)
        route.abort()

    context.route(lambda url: urlsplit(url).netloc not in ("", app_host), refuse_foreign)
    page: Page = context.new_page()

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    try:
        open_form(page, f"/login?next={quote(target, safe='')}")
        page.locator("input[name=email]").fill(victim.email)
        page.locator("input[name=password]").fill(victim.password)
        page.get_by_test_id("sign-in-submit").click()
        expect(page).to_have_url(path_is("/chat"))
        expect(page.get_by_test_id("new-chat")).to_be_visible()
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []
        assert foreign == []
    finally:
        context.close()


def test_a_safe_next_link_still_lands_where_it_points(
    browser: Browser, app_url: str, victim: Account
) -> None:
    context = browser.new_context(base_url=app_url)
    page = context.new_page()
    try:
        open_form(page, "/login?next=%2Fdocuments")
        page.locator("input[name=email]").fill(victim.email)
        page.locator("input[name=password]").fill(victim.password)
        page.get_by_test_id("sign-in-submit").click()
        expect(page).to_have_url(path_is("/documents"))
    finally:
        context.close()


async def _sign_in_over_the_socket(base_url: str, victim: Account, target: str) -> ReflexTab:
    login = state_name(LoginState)
    tab = ReflexTab(base_url)
    try:
        tab.cookies = await sign_in(
            tab, login, victim.email, victim.password, search=f"?next={quote(target, safe='')}"
        )
    finally:
        await tab.close()
    # The page's hand-off script loads "/" with the new cookie, on the same tab.
    landing = ReflexTab(base_url, tab.cookies)
    landing.token = tab.token
    landing.scripts = tab.scripts
    try:
        await landing.open("/")
        await landing.wait_for(lambda: any(e["name"] == "_redirect" for e in landing.events), 60)
    finally:
        await landing.close()
    return landing


@pytest.mark.parametrize("target", HOSTILE_NEXT[:5])
def test_the_server_sends_only_the_constant_hand_off_and_redirects_to_chat(
    app_url: str, victim: Account, target: str
) -> None:
    with ThreadPoolExecutor(max_workers=1) as thread:
        landing = thread.submit(
            asyncio.run, _sign_in_over_the_socket(app_url, victim, target)
        ).result()
    assert len(landing.scripts) == 1
    script = landing.scripts[0]
    assert HAND_OFF in script
    assert target not in script and "alert" not in script and "evil" not in script
    redirects = [e["payload"]["path"] for e in landing.events if e["name"] == "_redirect"]
    assert redirects == ["/chat"]
