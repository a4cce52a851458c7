"""The security middleware on the real server: pages pass their own CSP, the app still works, and
another site can neither open the event websocket nor read credentialed responses."""

from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from .flows import Account, path_is, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Reported from inside each page: every CSP violation, whatever the console shows.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__reportCsp(
    `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""

PAGES = [
    "/chat",
    "/documents",
    "/groups",
    "/shared",
    "/account",
    "/admin",
    "/admin/tools",
    "/admin/groups",
    "/admin/outbox",
    "/admin/audit",
    "/admin/system",
    "/admin/analytics",
]


def _is_csp_message(message: ConsoleMessage) -> bool:
    text = message.text
    return "Content Security Policy" in text or "Content-Security-Policy" in text


def test_pages_pass_their_csp_and_the_app_works(
    browser: Browser, app_url: str, admin: Account
) -> None:
    violations: list[str] = []
    context = browser.new_context(base_url=app_url)
    context.expose_binding("__reportCsp", lambda _source, text: violations.append(text))
    context.add_init_script(REPORT_VIOLATIONS)
    page: Page = context.new_page()
    page.on("console", lambda m: violations.append(m.text) if _is_csp_message(m) else None)
    try:
        login = page.goto("/login")
        assert login is not None
        policy = login.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert login.headers["x-frame-options"] == "DENY"

        sign_in(page, admin)  # the hand-off POST passes the origin check
        composer = page.get_by_test_id("composer")
        expect(composer).to_be_enabled()
        composer.fill("Hello from the security test")
        composer.press("Enter")
        expect(page.get_by_test_id("assistant-message").last).to_be_visible()
        expect(page.get_by_test_id("assistant-message").last).not_to_have_text("")

        for path in PAGES:
            response = page.goto(path)
            assert response is not None and response.ok, path
            expect(page).to_have_url(path_is(path))
            page.wait_for_load_state("networkidle")
        assert violations == []
    finally:
        context.close()


def _websocket_handshake(app_url: str, origin: str) -> str:
    """Open `/_event` by hand and return the server's status line (101 means accepted)."""
    parts = urlsplit(app_url)
    host = parts.netloc
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.makefile("rb").readline().decode().strip()


def test_event_websocket_refuses_another_origin(app_url: str, admin: Account) -> None:
    assert " 101 " in _websocket_handshake(app_url, app_url)
    refused = _websocket_handshake(app_url, "https://evil.example")
    assert " 101 " not in refused
    assert " 403 " in refused


def test_other_sites_cannot_read_credentialed_responses(page: Page, app_url: str) -> None:
    """Reflex's own CORS layer follows the (empty) allow-list instead of its default "*"."""
    evil = {"origin": "https://evil.example"}
    simple = page.request.get("/health", headers=evil)
    assert simple.ok
    assert "access-control-allow-origin" not in simple.headers
    preflight = page.request.fetch(
        "/api/admin/audit.csv",
        method="OPTIONS",
        headers={**evil, "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    forged = page.request.post("/auth/logout", headers=evil)
    assert forged.status == 403
