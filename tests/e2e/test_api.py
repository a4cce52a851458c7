"""The REST API on the real server, behind the whole middleware stack: Swagger UI renders from the
app's own assets, and a program's streamed answer is the one the browser then shows."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.ollama_server import PLAIN_REPLY

from .flows import new_account, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_swagger_ui_renders_from_local_assets(page: Page, base_url: str) -> None:
    origin = urlsplit(base_url).netloc
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(_describe(request)))
    page.goto("/docs")
    token = page.locator(".opblock-summary-path", has_text="/api/v1/token")
    expect(token.first).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/documents/search")
    ).to_be_visible()
    assert failed == []
    foreign = [url for url in fetched if urlsplit(url).netloc not in (origin, "")]
    assert foreign == [], f"the docs page fetched from elsewhere: {foreign}"


def test_a_program_streams_an_answer_the_browser_then_shows(page: Page, base_url: str) -> None:
    account = new_account("api")
    register(page, account)
    with httpx.Client(base_url=base_url, timeout=60) as http:
        issued = http.post(
            "/api/v1/token", json={"email": account.email, "password": account.password}
        )
        assert issued.status_code == 200, issued.text
        headers = {"authorization": f"Bearer {issued.json()['access_token']}"}
        created = http.post(
            "/api/v1/conversations", json={"title": "From a program"}, headers=headers
        )
        assert created.status_code == 201, created.text
        conversation_id = created.json()["id"]
        url = f"/api/v1/conversations/{conversation_id}/messages"
        with http.stream("POST", url, json={"content": "Hello from curl"}, headers=headers) as r:
            assert r.status_code == 200
            events = [json.loads(line) for line in r.iter_lines() if line.strip()]
        assert events[0]["type"] == "start" and events[-1]["type"] == "done"
        text = "".join(e["text"] for e in events if e["type"] == "delta")
        assert text == PLAIN_REPLY
        assert events[-1]["message"]["status"] == "complete"

        refused = http.get("/api/v1/conversations", headers={"authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "authentication_failed"

    page.goto(f"/chat/{conversation_id}")
    answer = page.get_by_test_id("assistant-message")
    expect(answer.get_by_test_id("message-content")).to_contain_text(PLAIN_REPLY[:40])
    expect(page.get_by_test_id("user-message")).to_contain_text("Hello from curl")


def _describe(request: Request) -> str:
    return f"{request.url}: {request.failure}"
