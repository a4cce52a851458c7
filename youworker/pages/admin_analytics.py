"""Admin analytics: daily charts over a date range, and usage per user."""

from __future__ import annotations

import reflex as rx

from youworker.components.empty import empty_row
from youworker.components.layout import (
    admin_tabs,
    app_shell,
    field_error,
    link_button,
    scroll_x,
)
from youworker.components.local_time import time_element
from youworker.state.admin_analytics import (
    PRESETS,
    AdminAnalyticsState,
    AdminUsageState,
    AnalyticsRange,
)

CHART_HEIGHT = 240
BLUE, GREEN, RED, AMBER = "#3e63dd", "#30a46c", "#e5484d", "#ffb224"
# Room around the plot so the first and last day's labels are never cut at the edges.
CHART_MARGIN = {"top": 8, "right": 20, "bottom": 4, "left": 4}
TICK = {"fontSize": 12}
# "2026-07-24" -> "07-24": seven labels fit across a phone.
SHORT_DAY: rx.vars.FunctionStringVar = rx.vars.FunctionStringVar.create(
    "((day) => (typeof day === 'string' && day.length === 10 ? day.slice(5) : day))"
)
# Values as 950, 12k, 3.4M: every label fits the value axis' fixed width.
VALUE_AXIS_WIDTH = 44
SHORT_NUMBER: rx.vars.FunctionStringVar = rx.vars.FunctionStringVar.create(
    "((v) => (typeof v !== 'number' ? v : Math.abs(v) >= 1e6"
    " ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e4 ? `${Math.round(v / 1e3)}k` : `${v}`))"
)
# Tool names longer than the category axis are shortened there (the tooltip has them whole).
TOOL_AXIS_WIDTH = 150
SHORT_TOOL: rx.vars.FunctionStringVar = rx.vars.FunctionStringVar.create(
    "((name) => (typeof name === 'string' && name.length > 20 ? `${name.slice(0, 19)}…` : name))"
)
# Axis and legend text follow the theme (SVG text ignores the page's colour otherwise).
CHART_TEXT = {
    "& .recharts-cartesian-axis-tick-value, & .recharts-legend-item-text": {
        "fill": "var(--gray-11)",
        "color": "var(--gray-11) !important",
    },
    "& .recharts-cartesian-grid line": {"stroke": "var(--gray-6)"},
}


def _access_denied() -> rx.Component:
    return rx.callout(
        "Administrators only. You do not have access to this page.",
        icon="shield-x",
        color_scheme="red",
        data_testid="access-denied",
    )


def _range_bar(state: type[AnalyticsRange], other_page: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("From", size="2"),
                rx.input(
                    type="date",
                    aria_label="From",
                    value=state.start,
                    on_change=state.change_start,
                    data_testid="range-start",
                ),
                rx.text("to", size="2"),
                rx.input(
                    type="date",
                    aria_label="To",
                    value=state.end,
                    on_change=state.change_end,
                    data_testid="range-end",
                ),
                *[
                    rx.button(
                        f"{days} days",
                        size="1",
                        variant="soft",
                        on_click=state.pick_preset(days),
                        data_testid=f"preset-{days}",
                    )
                    for days in PRESETS
                ],
                rx.spacer(),
                other_page,
                align="center",
                wrap="wrap",
                width="100%",
            ),
            rx.box(field_error(state.range_error), data_testid="range-error"),
            rx.text(
                "Days are UTC calendar days; both ends are included.", size="1", color_scheme="gray"
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        margin_bottom="1rem",
    )


def _card(card: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(card["label"], size="1", color_scheme="gray"),
            rx.text(card["value"], size="5", weight="bold", data_testid=f"total-{card['key']}"),
            spacing="1",
        ),
        data_testid=f"card-{card['key']}",
    )


def _chart(title: str, testid: str, chart: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, as_="h2", size="2", weight="medium"),
            rx.box(chart, width="100%", height=f"{CHART_HEIGHT}px", style=CHART_TEXT),
            width="100%",
        ),
        width="100%",
        min_width="0",
        data_testid=f"chart-{testid}",
    )


def _axes(edge_padding: int) -> list[rx.Component]:
    """Day axis and value axis; `edge_padding` keeps a line's end points (and their labels)
    off the plot's edges; value labels are short enough for the value axis."""
    return [
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(
            data_key="day",
            tick=TICK,
            tick_formatter=SHORT_DAY,
            interval="preserveStartEnd",
            min_tick_gap=12,
            padding={"left": edge_padding, "right": edge_padding},
        ),
        rx.recharts.y_axis(
            allow_decimals=False,
            width=VALUE_AXIS_WIDTH,
            tick=TICK,
            tick_formatter=SHORT_NUMBER,
        ),
        rx.recharts.graphing_tooltip(),
    ]


def _line(title: str, testid: str, *series: tuple[str, str, str]) -> rx.Component:
    """A line per (data key, legend name, colour) over the days. Every day is a dot too, so a
    single day (or a day between two gaps) still shows."""
    return _chart(
        title,
        testid,
        rx.recharts.line_chart(
            *_axes(edge_padding=16),
            *[
                rx.recharts.line(
                    data_key=key,
                    name=name,
                    stroke=colour,
                    dot={"r": 3, "fill": colour},
                    active_dot={"r": 5},
                )
                for key, name, colour in series
            ],
            rx.recharts.legend(),
            data=AdminAnalyticsState.series,
            margin=CHART_MARGIN,
        ),
    )


def _bars(title: str, testid: str, *series: tuple[str, str, str]) -> rx.Component:
    """Stacked bars per (data key, legend name, colour) over the days (at most 40 px wide, so
    a single day is a bar, not the whole plot)."""
    return _chart(
        title,
        testid,
        rx.recharts.bar_chart(
            *_axes(edge_padding=0),
            *[
                rx.recharts.bar(data_key=key, name=name, fill=colour, stack_id="a", max_bar_size=40)
                for key, name, colour in series
            ],
            rx.recharts.legend(),
            data=AdminAnalyticsState.series,
            margin=CHART_MARGIN,
        ),
    )


def _tools_chart() -> rx.Component:
    return _chart(
        "Tool calls by tool",
        "tools",
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(
                type_="number", allow_decimals=False, tick=TICK, tick_formatter=SHORT_NUMBER
            ),
            rx.recharts.y_axis(
                data_key="name",
                type_="category",
                width=TOOL_AXIS_WIDTH,
                tick=TICK,
                tick_formatter=SHORT_TOOL,
            ),
            rx.recharts.graphing_tooltip(),
            rx.recharts.bar(
                data_key="ok", name="succeeded", fill=GREEN, stack_id="t", max_bar_size=32
            ),
            rx.recharts.bar(
                data_key="failed", name="failed", fill=RED, stack_id="t", max_bar_size=32
            ),
            rx.recharts.legend(),
            data=AdminAnalyticsState.tools,
            layout="vertical",
            margin=CHART_MARGIN,
        ),
    )


def _dashboard() -> rx.Component:
    return rx.fragment(
        _range_bar(
            AdminAnalyticsState,
            link_button(
                "Usage per user",
                href="/admin/analytics/users" + AdminAnalyticsState.range_query,
                data_testid="to-usage",
            ),
        ),
        rx.grid(
            rx.foreach(AdminAnalyticsState.cards, _card),
            columns=rx.breakpoints(initial="2", sm="4"),
            spacing="3",
            width="100%",
            margin_bottom="1rem",
            data_testid="summary",
        ),
        rx.grid(
            _bars("Messages per day", "messages", ("messages", "messages", BLUE)),
            _bars(
                "Tokens per day",
                "tokens",
                ("prompt_tokens", "prompt", BLUE),
                ("completion_tokens", "completion", AMBER),
            ),
            _line("Active users per day", "active-users", ("active_users", "active users", GREEN)),
            _bars("Conversations started per day", "conversations", ("conversations", "new", BLUE)),
            _tools_chart(),
            _bars(
                "Documents uploaded per day, by outcome",
                "documents",
                ("documents_ready", "ready", GREEN),
                ("documents_failed", "failed", RED),
            ),
            _line(
                "Median answer latency and time to first token per day (ms)",
                "latency",
                ("median_latency_ms", "latency", BLUE),
                ("median_ttft_ms", "time to first token", AMBER),
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
    )


def admin_analytics_page() -> rx.Component:
    return app_shell(
        admin_tabs("analytics"),
        rx.cond(AdminAnalyticsState.access_denied, _access_denied(), _dashboard()),
        title="Analytics",
    )


def _usage_row(row: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.text(row["name"], weight="medium"),
                    rx.cond(
                        row["active"] == "yes",
                        rx.fragment(),
                        rx.badge("deactivated", color_scheme="red"),
                    ),
                ),
                rx.text(row["email"], size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        *[
            rx.table.cell(row[key], data_testid=f"usage-{key}")
            for key in ("messages", "tokens", "conversations", "tool_calls", "documents")
        ],
        rx.table.cell(time_element(row["last_active"], missing="—")),
        data_testid="usage-row",
    )


def _usage() -> rx.Component:
    return rx.fragment(
        _range_bar(
            AdminUsageState,
            link_button(
                "Dashboard",
                href="/admin/analytics" + AdminUsageState.range_query,
                data_testid="to-dashboard",
            ),
        ),
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Usage per user", as_="h2", size="4"),
                    rx.spacer(),
                    rx.input(
                        placeholder="Search by email or name",
                        aria_label="Search users by email or name",
                        on_change=AdminUsageState.search.debounce(300),
                        max_length=254,
                        width="100%",
                        max_width="18rem",
                        data_testid="usage-search",
                    ),
                    width="100%",
                    wrap="wrap",
                ),
                scroll_x(
                    "Usage per user",
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in (
                                        "User",
                                        "Messages",
                                        "Tokens",
                                        "Conversations",
                                        "Tool calls",
                                        "Documents",
                                        "Last message",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(
                            rx.foreach(AdminUsageState.rows, _usage_row),
                            empty_row(AdminUsageState.rows, 7, "No usage to show.", "usage-empty"),
                        ),
                        width="100%",
                        size="1",
                    ),
                ),
                rx.hstack(
                    rx.button(
                        "Previous",
                        size="1",
                        variant="soft",
                        disabled=AdminUsageState.page == 0,
                        on_click=AdminUsageState.go_to_page(AdminUsageState.page - 1),
                        data_testid="usage-previous",
                    ),
                    rx.text(
                        f"Page {AdminUsageState.page + 1} of {AdminUsageState.page_count}"
                        f" · {AdminUsageState.total_users} users",
                        size="1",
                        data_testid="usage-pages",
                    ),
                    rx.button(
                        "Next",
                        size="1",
                        variant="soft",
                        disabled=AdminUsageState.page + 1 >= AdminUsageState.page_count,
                        on_click=AdminUsageState.go_to_page(AdminUsageState.page + 1),
                        data_testid="usage-next",
                    ),
                    align="center",
                    wrap="wrap",
                ),
                rx.text(
                    "Messages and tokens count questions and answers in the user's conversations; "
                    "conversations and documents are those started or uploaded in the range.",
                    size="1",
                    color_scheme="gray",
                ),
                width="100%",
            ),
            width="100%",
        ),
    )


def admin_usage_page() -> rx.Component:
    return app_shell(
        admin_tabs("analytics"),
        rx.cond(AdminUsageState.access_denied, _access_denied(), _usage()),
        title="Usage per user",
    )
