"""Every page at a desktop, a tablet and a phone size: nothing scrolls sideways, the page's
actions can be reached (through the drawers below 1,024 px), and axe-core finds no serious or
critical accessibility violation, in light and in dark mode.

axe-core comes bundled with axe-playwright-python (nothing is downloaded at run time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Locator, Page, StorageState, expect

from .conftest import SERVER_LOG_KEY
from .flows import Account, is_narrow, open_conversations, open_form, open_navigation, path_is
from .site import Site, build_site

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SIZES = {"desktop": (1280, 800), "tablet": (820, 1180), "phone": (390, 844)}
MODES = ("light", "dark")
BLOCKING = ("serious", "critical")
AXE = Axe()


@dataclass(frozen=True)
class Screen:
    """A page: where it is, what shows it has loaded, the actions it must offer."""

    name: str
    path: Callable[[Site], str]
    ready: Callable[[Page], Locator]
    actions: Callable[[Page, Site], list[Locator]]
    signed_in: bool = True


def _ids(*test_ids: str) -> Callable[[Page, Site], list[Locator]]:
    return lambda page, _site: [page.get_by_test_id(test_id).first for test_id in test_ids]


def _by_id(test_id: str) -> Callable[[Page], Locator]:
    return lambda page: page.get_by_test_id(test_id).first


def _group_actions(page: Page, site: Site) -> list[Locator]:
    return [
        page.get_by_test_id("edit-group"),
        page.get_by_test_id("delete-group"),
        page.get_by_test_id(f"role-{site.member.email}"),
        page.get_by_test_id(f"remove-{site.member.email}"),
        page.get_by_test_id("invite-email"),
        page.get_by_test_id("invite-submit"),
        page.get_by_test_id("pending-invitation").get_by_role("button", name="Withdraw"),
        page.get_by_test_id("group-activity-export"),
    ]


def _admin_actions(page: Page, site: Site) -> list[Locator]:
    tabs = [page.get_by_test_id(f"admin-tab-{key}") for key in ("users", "system", "outbox")]
    # The suite's other tests register many people: find the member as an admin would, by
    # searching (the list is paged, newest first).
    page.get_by_label("Search users by email or name").fill(site.member.email)
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    return [
        *tabs,
        page.get_by_test_id(f"deactivate-{site.member.email}"),
        page.get_by_test_id(f"reset-{site.member.email}"),
        page.get_by_test_id("site-invite-email"),
        page.get_by_test_id("site-invite-submit"),
    ]


def _account_actions(page: Page, _site: Site) -> list[Locator]:
    return [
        page.get_by_role("textbox", name="Display name"),
        page.get_by_role("button", name="Change password"),
        page.get_by_role("button", name="Create key"),
        page.get_by_test_id("revoke-key").first,
    ]


SCREENS = [
    Screen("login", lambda s: "/login", _by_id("sign-in-submit"), _ids("sign-in-submit"), False),
    Screen(
        "register", lambda s: "/register", _by_id("register-submit"), _ids("register-submit"), False
    ),
    Screen("reset", lambda s: s.reset, _by_id("reset-submit"), _ids("reset-submit"), False),
    Screen(
        "invite", lambda s: s.invite, _by_id("invitation-summary"), _ids("register-and-join"), False
    ),
    Screen(
        "chat",
        lambda s: s.conversation,
        _by_id("assistant-message"),
        _ids("composer", "send", "model-picker", "use-documents", "share-chat"),
    ),
    Screen(
        "documents",
        lambda s: "/documents",
        _by_id("document-row"),
        _ids("dropzone", "document-search", "sort-name", "download", "share", "reindex", "delete"),
    ),
    Screen("document", lambda s: s.document, _by_id("document-text"), _ids("view-download")),
    Screen(
        "shared", lambda s: "/shared", _by_id("shared-conversation"), _ids("shared-conversation")
    ),
    Screen("shared-view", lambda s: s.shared, _by_id("shared-thread"), _ids("read-only-note")),
    Screen("groups", lambda s: "/groups", _by_id("group-card"), _ids("new-group", "group-card")),
    Screen("group", lambda s: s.group, _by_id("member-row"), _group_actions),
    Screen(
        "account",
        lambda s: "/account",
        lambda page: page.get_by_test_id("revoke-key").first,
        _account_actions,
    ),
    Screen("admin-users", lambda s: "/admin", _by_id("user-row"), _admin_actions),
    Screen(
        "admin-groups",
        lambda s: "/admin/groups",
        _by_id("admin-group-row"),
        _ids("admin-tab-users"),
    ),
    Screen("admin-tools", lambda s: "/admin/tools", _by_id("tool-row"), _ids("add-server")),
    Screen(
        "admin-audit",
        lambda s: "/admin/audit",
        _by_id("audit-row"),
        lambda page, _site: [
            page.get_by_test_id("audit-filter-actor"),
            page.get_by_role("combobox", name="Action"),
            page.get_by_test_id("audit-apply"),
            page.get_by_test_id("audit-export"),
        ],
    ),
    Screen(
        "admin-analytics",
        lambda s: "/admin/analytics",
        lambda page: page.locator("[data-testid=chart-messages] .recharts-wrapper > svg"),
        _ids("range-start", "range-end", "preset-7", "to-usage"),
    ),
    Screen(
        "admin-usage",
        lambda s: "/admin/analytics/users",
        _by_id("usage-row"),
        _ids("usage-search", "to-dashboard"),
    ),
    Screen(
        "admin-system", lambda s: "/admin/system", _by_id("probe-database"), _ids("system-refresh")
    ),
    Screen(
        "admin-outbox",
        lambda s: "/admin/outbox",
        _by_id("outbox-row"),
        _ids("outbox-link", "outbox-copy"),
    ),
]


@pytest.fixture(scope="module")
def site(
    browser: Browser,
    base_url: str,
    admin_account: tuple[Account, StorageState],
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> Site:
    database = f"sqlite:///{pytestconfig.stash[SERVER_LOG_KEY].parent / 'e2e.db'}"
    return build_site(
        browser, base_url, database, admin_account, tmp_path_factory.mktemp("every-page")
    )


def _context(
    browser: Browser, base_url: str, site: Site, size: str, mode: str, signed_in: bool
) -> BrowserContext:
    width, height = SIZES[size]
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": width, "height": height},
        reduced_motion="reduce",
        storage_state=site.admin_state if signed_in else None,
    )
    # Reflex keeps the chosen colour mode in localStorage under "theme".
    context.add_init_script(f"window.localStorage.setItem('theme', '{mode}')")
    return context


@pytest.fixture
def contexts(
    browser: Browser, base_url: str, site: Site
) -> Iterator[Callable[..., BrowserContext]]:
    made: list[BrowserContext] = []

    def make(size: str, mode: str, signed_in: bool) -> BrowserContext:
        made.append(_context(browser, base_url, site, size, mode, signed_in))
        return made[-1]

    yield make
    for context in made:
        context.close()


def _open(page: Page, screen: Screen, site: Site) -> None:
    open_form(page, screen.path(site))
    expect(page).to_have_url(path_is(screen.path(site)))
    expect(screen.ready(page)).to_be_visible()


def _no_sideways_scroll(page: Page, name: str) -> None:
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{name} scrolls sideways: {widths[0]} px in {widths[1]} px"


def _axe_blocking(page: Page) -> list[str]:
    """Serious and critical violations, each with the first elements and what is wrong."""
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        + "".join(
            f"\n    {' '.join(node['target'])}: {node['html'][:160]}"
            f" -- {node.get('failureSummary', '')[:240]}"
            for node in v["nodes"][:5]
        )
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_fits_and_offers_its_actions(
    contexts: Callable[..., BrowserContext], site: Site, size: str
) -> None:
    pages = {flag: contexts(size, "light", flag).new_page() for flag in (True, False)}
    for screen in SCREENS:
        page = pages[screen.signed_in]
        _open(page, screen, site)
        _no_sideways_scroll(page, screen.name)
        for action in screen.actions(page, site):
            # A trial click scrolls the element into view and checks that it is visible,
            # enabled and not covered, without clicking it.
            action.click(trial=True, timeout=10_000)
        h1 = page.locator("h1")
        expect(h1, f"{screen.name}: one h1").to_have_count(1)

    # The navigation and the conversation list: inline on a desktop, drawers below 1,024 px.
    page = pages[True]
    open_form(page, site.conversation)
    expect(page.get_by_test_id("open-navigation")).to_be_visible(visible=is_narrow(page))
    open_conversations(page)
    for test_id in ("new-chat", "conversation-link", "conversation-menu"):
        page.get_by_test_id(test_id).first.click(trial=True)
    _no_sideways_scroll(page, "chat with the conversation list open")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("conversations-drawer")).to_have_count(0)
    open_navigation(page)
    nav = ["chat", "documents", "shared-with-me", "groups", "account", "admin"]
    for test_id in [f"nav-{name}" for name in nav] + ["color-mode-toggle", "sign-out"]:
        page.get_by_test_id(test_id).click(trial=True)
    _no_sideways_scroll(page, "chat with the navigation open")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", list(SIZES))
def test_axe_finds_no_serious_violation(
    contexts: Callable[..., BrowserContext], site: Site, size: str, mode: str
) -> None:
    pages = {flag: contexts(size, mode, flag).new_page() for flag in (True, False)}
    found: dict[str, list[str]] = {}
    for screen in SCREENS:
        page = pages[screen.signed_in]
        _open(page, screen, site)
        expect(page.locator("html")).to_have_class(re.compile(rf"\b{mode}\b"))
        if violations := _axe_blocking(page):
            found[screen.name] = violations

    # The drawers are pages of their own for a screen reader: check them open too.
    page = pages[True]
    if is_narrow(page):
        open_form(page, site.conversation)
        open_navigation(page)
        if violations := _axe_blocking(page):
            found["navigation drawer"] = violations
        page.keyboard.press("Escape")
        open_conversations(page)
        if violations := _axe_blocking(page):
            found["conversations drawer"] = violations
    assert not found, "\n".join(f"{name}: {v}" for name, vs in found.items() for v in vs)


def test_the_colour_mode_toggle_switches_and_is_remembered(
    contexts: Callable[..., BrowserContext], site: Site
) -> None:
    page = contexts("phone", "light", False).new_page()
    open_form(page, "/login")
    html = page.locator("html")
    expect(html).to_have_class(re.compile(r"\blight\b"))
    toggle = page.get_by_test_id("color-mode-toggle")
    expect(toggle).to_have_accessible_name("Switch to dark mode")
    toggle.click()
    expect(html).to_have_class(re.compile(r"\bdark\b"))
    expect(toggle).to_have_accessible_name("Switch to light mode")
    assert page.evaluate("window.localStorage.getItem('theme')") == "dark"


def test_drawers_navigate_and_close_on_a_phone(
    contexts: Callable[..., BrowserContext], site: Site
) -> None:
    page = contexts("phone", "light", True).new_page()
    open_form(page, "/documents")
    expect(page.get_by_test_id("nav-documents")).not_to_be_visible()
    menu = page.get_by_test_id("open-navigation")
    expect(menu).to_have_accessible_name("Open navigation")
    expect(menu).to_have_attribute("aria-expanded", "false")
    open_navigation(page)
    expect(page.get_by_test_id("nav-documents")).to_have_attribute("aria-current", "page")
    page.get_by_test_id("nav-chat").click()
    expect(page).to_have_url(path_is("/chat"))
    expect(page.get_by_test_id("nav-drawer")).to_have_count(0)

    # A conversation chosen in the drawer opens, and the drawer closes.
    open_conversations(page)
    conversation_id = site.conversation.rstrip("/").rsplit("/", 1)[-1]
    page.locator(f"[data-testid=conversation-link][href*='{conversation_id}']").click()
    expect(page).to_have_url(path_is(site.conversation))
    expect(page.get_by_test_id("conversations-drawer")).to_have_count(0)
    expect(page.get_by_test_id("assistant-message").first).to_be_visible()

    # New chat from the drawer closes it too, and the composer is right there.
    open_conversations(page)
    page.get_by_test_id("new-chat").click()
    expect(page.get_by_test_id("conversations-drawer")).to_have_count(0)
    expect(page.get_by_test_id("conversation-title")).to_have_text("New chat")
    expect(page.get_by_test_id("composer")).to_be_visible()

    # By keyboard: Enter opens the drawer with focus inside it, Escape closes it and gives
    # focus back to the menu button; the close button works too.
    menu.focus()
    page.keyboard.press("Enter")
    drawer = page.get_by_test_id("nav-drawer")
    expect(drawer).to_be_visible()
    expect(drawer.locator(":focus")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(drawer).to_have_count(0)
    expect(menu).to_be_focused()
    open_navigation(page)
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    page.get_by_test_id("close-nav-drawer").click()
    expect(drawer).to_have_count(0)


def test_wide_screens_have_no_drawer_buttons(
    contexts: Callable[..., BrowserContext], site: Site, tmp_path: Path
) -> None:
    page = contexts("desktop", "light", True).new_page()
    open_form(page, site.conversation)
    expect(page.get_by_test_id("open-navigation")).to_be_hidden()
    expect(page.get_by_test_id("open-conversations")).to_be_hidden()
    expect(page.get_by_test_id("nav-documents")).to_be_visible()
    expect(page.get_by_test_id("new-chat")).to_be_visible()
