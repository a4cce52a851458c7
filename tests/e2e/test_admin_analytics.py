"""Admin analytics in the browser: charts and totals, range presets and errors, usage per user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from .flows import new_account, register

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHARTS = ("messages", "tokens", "active-users", "conversations", "tools", "documents", "latency")


def _chat_once(page: Page, text: str) -> None:
    page.get_by_test_id("model-picker").click()
    page.get_by_role("option", name="test-plain", exact=True).click()
    composer = page.get_by_test_id("composer")
    expect(composer).to_be_enabled()
    composer.fill(text)
    composer.press("Enter")
    expect(page.get_by_test_id("assistant-message")).to_have_count(1)
    expect(composer).to_be_enabled()


def test_admin_sees_a_members_chat_in_the_dashboard_and_usage(
    page: Page, admin_context: BrowserContext
) -> None:
    member = new_account("analyst")
    register(page, member)
    _chat_once(page, "Hello analytics")

    admin = admin_context.new_page()
    admin.goto("/admin/analytics")
    expect(admin.get_by_test_id("card-messages")).to_be_visible()
    expect(admin.get_by_test_id("total-messages")).not_to_have_text("0")
    assert int(admin.get_by_test_id("total-messages").inner_text().replace(",", "")) >= 2
    for chart in CHARTS:
        expect(
            admin.get_by_test_id(f"chart-{chart}").locator(
                ".recharts-wrapper > svg.recharts-surface"
            )
        ).to_be_visible()

    today = datetime.now(UTC).date()
    admin.get_by_test_id("preset-7").click()
    expect(admin.get_by_test_id("range-start")).to_have_value(
        (today - timedelta(days=6)).isoformat()
    )
    expect(admin.get_by_test_id("range-end")).to_have_value(today.isoformat())

    admin.get_by_test_id("range-end").fill((today - timedelta(days=30)).isoformat())
    expect(admin.get_by_test_id("range-error")).to_contain_text("must not be before the start")
    admin.get_by_test_id("preset-30").click()
    expect(admin.get_by_test_id("range-error")).to_have_text("")

    admin.get_by_test_id("to-usage").click()
    expect(admin.get_by_test_id("usage-search")).to_be_visible()
    admin.get_by_test_id("usage-search").fill(member.email)
    row = admin.get_by_test_id("usage-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(member.email)
    expect(row.get_by_test_id("usage-messages")).to_have_text("2")
    expect(row.get_by_test_id("usage-conversations")).to_have_text("1")
    expect(admin.get_by_test_id("usage-pages")).to_contain_text("1 users")


def test_members_get_administrators_only(page: Page) -> None:
    register(page, new_account("curious"))
    for path in ("/admin/analytics", "/admin/analytics/users"):
        page.goto(path)
        expect(page.get_by_test_id("access-denied")).to_be_visible()
        expect(page.get_by_test_id("card-messages")).to_have_count(0)
        expect(page.get_by_test_id("usage-row")).to_have_count(0)
