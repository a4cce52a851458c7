"""Admin analytics in the browser: charts and totals, range presets and errors, usage per user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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


# Every chart's own svg bounds and the bounds of every axis label and drawn mark in it.
_GEOMETRY = """(chart) => {
  const svg = chart.querySelector('.recharts-wrapper > svg');
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            width: r.width, height: r.height}; };
  return {
    svg: box(svg),
    labels: [...svg.querySelectorAll('.recharts-cartesian-axis-tick-value')].map((el) =>
      ({text: el.textContent, ...box(el)})),
    valueLabels: svg.querySelectorAll(
      '.recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value').length,
  };
}"""


def _geometry(page: Page, chart: str) -> dict[str, Any]:
    locator = page.get_by_test_id(f"chart-{chart}")
    expect(locator.locator(".recharts-cartesian-axis-tick-value").first).to_be_visible()
    geometry: dict[str, Any] = locator.evaluate(_GEOMETRY)
    return geometry


def _labels_inside(geometry: dict[str, Any], chart: str) -> None:
    svg = geometry["svg"]
    assert geometry["valueLabels"] > 0, f"{chart}: the value axis has no labels"
    for label in geometry["labels"]:
        inside = (
            label["left"] >= svg["left"] - 0.5
            and label["right"] <= svg["right"] + 0.5
            and label["top"] >= svg["top"] - 0.5
            and label["bottom"] <= svg["bottom"] + 0.5
        )
        assert inside, f"{chart}: label {label['text']!r} is cut by the chart's edge: {label}"


def _expect_marks(page: Page) -> None:
    """Today's data is drawn: a bar with a size in bar charts, a dot in line charts (visible
    means a non-empty box; line dots appear once the line's animation is done)."""
    for chart in ("messages", "tokens", "conversations"):
        bars = page.get_by_test_id(f"chart-{chart}").locator(".recharts-bar-rectangle path")
        expect(bars.first).to_be_visible()
    for chart in ("active-users", "latency"):
        dots = page.get_by_test_id(f"chart-{chart}").locator(".recharts-line-dots circle")
        expect(dots.first).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_single_day_draws_and_no_axis_label_is_cut(
    page: Page, admin_context: BrowserContext, width: int
) -> None:
    register(page, new_account("oneday"))
    _chat_once(page, "Hello single day")

    admin = admin_context.new_page()
    admin.set_viewport_size({"width": width, "height": 900})
    today = datetime.now(UTC).date().isoformat()
    admin.goto(f"/admin/analytics?start={today}&end={today}")
    expect(admin.get_by_test_id("range-start")).to_have_value(today)
    expect(admin.get_by_test_id("range-end")).to_have_value(today)
    expect(admin.get_by_test_id("total-messages")).not_to_have_text("0")

    _expect_marks(admin)
    for chart in CHARTS:
        if chart != "tools":  # no tool was called: an empty chart has no category labels
            _labels_inside(_geometry(admin, chart), chart)

    # Over a month with answers on one day only, that day still shows (the medians are gaps
    # on the other days: a line alone would draw nothing), and no label is cut at the edges.
    admin.get_by_test_id("preset-30").click()
    expect(admin.get_by_test_id("range-end")).to_have_value(today)
    _expect_marks(admin)
    for chart in CHARTS:
        if chart != "tools":
            _labels_inside(_geometry(admin, chart), chart)
    size = admin.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert size[0] <= size[1], f"the dashboard scrolls sideways at {width} px: {size}"
