"""Built-in tools: a calculator that only does arithmetic, and the current date and time."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from youworker.services.tools.base import ToolContext, ToolError
from youworker.services.tools.builtins import (
    builtin_tools,
    calculate,
    calculator_tool,
    current_datetime_tool,
)

CTX = ToolContext(user_id="u1")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2", "3"),
        ("2 * (3 + 4)", "14"),
        ("7 / 2", "3.5"),
        ("6 / 3", "2"),
        ("7 // 2", "3"),
        ("-7 // 2", "-4"),
        ("7 % 3", "1"),
        ("2 ** 10", "1024"),
        ("2 ** 3 ** 2", "512"),
        ("2 ** -2", "0.25"),
        ("-3 + +5", "2"),
        ("--4", "4"),
        ("0.1 + 0.2", "0.3"),
        ("1_000 * 3", "3000"),
        ("1e3", "1000"),
        ("2 / 3", "0.666666666666667"),
        ("sqrt(16)", "4"),
        ("sqrt(2)", "1.4142135623731"),
        ("log(100, 10)", "2"),
        ("log(e)", "1"),
        ("log10(1000)", "3"),
        ("sin(pi / 2)", "1"),
        ("cos(0)", "1"),
        ("round(2.567, 2)", "2.57"),
        ("abs(-3)", "3"),
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("factorial(10)", "3628800"),
        ("floor(2.7) + ceil(2.1)", "5"),
        ("hypot(3, 4)", "5"),
        ("pi", "3.14159265358979"),
        ("  1+1  ", "2"),
        ("+".join(["1"] * 200), "200"),
    ],
)
def test_calculator_computes(expression: str, expected: str) -> None:
    assert calculate(expression) == expected


def test_big_integers_are_exact_and_summarized() -> None:
    assert calculate("2 ** 100") == "1267650600228229401496703205376 (≈ 1.26765060022822e+30)"
    assert calculate("-(10 ** 40)").endswith("(≈ -1e+40)")


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os')", "Unknown function '__import__'"),
        ("__import__('os').system('echo pwned')", "Only plain function calls"),
        ("().__class__.__bases__[0].__subclasses__()", "Only plain function calls"),
        ("(1).__class__", "Attribute access"),
        ("pi.real", "Attribute access"),
        ("lambda: 1", "Lambda"),
        ("(lambda x: x)(1)", "Only plain function calls"),
        ("x", "Unknown name 'x'"),
        ("os", "Unknown name 'os'"),
        ("open('/etc/passwd')", "Unknown function 'open'"),
        ("eval('1')", "Unknown function 'eval'"),
        ("exec('1')", "Unknown function 'exec'"),
        ("print(1)", "Unknown function 'print'"),
        ("'a' * 10", "Only numbers"),
        ("True + 1", "Only numbers"),
        ("1j * 2", "Only numbers"),
        ("[1, 2]", "List"),
        ("{1: 2}", "Dict"),
        ("[x for x in range(10)]", "is not allowed"),
        ("1 if 1 else 2", "If/else"),
        ("1 < 2", "Comparison"),
        ("1 and 2", "And/or"),
        ("(x := 5)", "Assignment"),
        ("f'{1}'", "F-string"),
        ("1; 2", "not valid arithmetic"),
        ("import os", "not valid arithmetic"),
        ("2 ^ 3", "Use ** for powers"),
        ("1 << 100", "Only + - * /"),
        ("sqrt(x=4)", "plain positional arguments"),
        ("sqrt(*[4])", "plain positional arguments"),
        ("sqrt(1, 2)", "takes 1 argument"),
        ("9 ** 9 ** 9", "too large"),
        ("2 ** 100000", "too large"),
        ("10 ** 5000 * 10 ** 5000", "too large"),
        ("(2 ** 5000) * (2 ** 5000) * (2 ** 5000)", "too large"),
        ("factorial(100000)", "limited to numbers up to 1000"),
        ("10.0 ** 400", "too large"),
        ("exp(1000)", "too large"),
        ("1e308 * 10", "not a finite number"),
        ("1 / 0", "Division by zero"),
        ("1 // 0", "Division by zero"),
        ("1 % 0", "Division by zero"),
        ("1 / 0.0", "Division by zero"),
        ("0 ** -1", "Division by zero"),
        ("sqrt(-1)", "not defined"),
        ("log(0)", "not defined"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("", "empty"),
        ("   ", "empty"),
        ("1" * 501, "too long"),
        ("-" * 450 + "1", "nested too deeply"),
    ],
)
def test_calculator_refuses(expression: str, reason: str) -> None:
    with pytest.raises(ToolError) as caught:
        calculate(expression)
    assert reason.lower() in str(caught.value).lower()


def test_refusals_are_fast() -> None:
    started = time.monotonic()
    for expression in ("9 ** 9 ** 9", "2 ** 2 ** 2 ** 2 ** 2 ** 2", "factorial(10 ** 9)"):
        with pytest.raises(ToolError):
            calculate(expression)
    assert time.monotonic() - started < 1


async def test_calculator_tool_checks_its_argument() -> None:
    tool = calculator_tool()
    assert tool.name == "calculator" and tool.source == "builtin"
    assert tool.spec.parameters["required"] == ["expression"]
    assert await tool.handler({"expression": "6 * 7"}, CTX) == "42"
    with pytest.raises(ToolError, match="expression must be a string"):
        await tool.handler({"expression": 42}, CTX)


def _pinned() -> datetime:
    return datetime(2024, 3, 10, 12, 0, 5, 123456, tzinfo=UTC)  # a Sunday


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, "2024-03-10T12:00:05+00:00 (Sunday, UTC, UTC)"),
        ({"timezone": None}, "2024-03-10T12:00:05+00:00 (Sunday, UTC, UTC)"),
        ({"timezone": "utc"}, "2024-03-10T12:00:05+00:00 (Sunday, UTC, UTC)"),
        ({"timezone": "Europe/Rome"}, "2024-03-10T13:00:05+01:00 (Sunday, Europe/Rome, CET)"),
        # US daylight saving time began that morning: -04:00, not -05:00.
        (
            {"timezone": "America/New_York"},
            "2024-03-10T08:00:05-04:00 (Sunday, America/New_York, EDT)",
        ),
        ({"timezone": "Asia/Kolkata"}, "2024-03-10T17:30:05+05:30 (Sunday, Asia/Kolkata, IST)"),
        ({"timezone": "Pacific/Kiritimati"}, "2024-03-11T02:00:05+14:00 (Monday,"),
    ],
)
async def test_current_datetime(arguments: dict[str, object], expected: str) -> None:
    tool = current_datetime_tool(clock=_pinned)
    assert (await tool.handler(arguments, CTX)).startswith(expected)


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "Europe/Nowhere", "../../etc/passwd", "/etc/localtime", "", "x" * 80],
)
async def test_unknown_time_zone_is_a_clear_error(zone: str) -> None:
    tool = current_datetime_tool(clock=_pinned)
    with pytest.raises(ToolError, match="Unknown time zone"):
        await tool.handler({"timezone": zone}, CTX)


async def test_time_zone_must_be_a_string() -> None:
    with pytest.raises(ToolError, match="must be a string"):
        await current_datetime_tool().handler({"timezone": 5}, CTX)


async def test_real_clock_is_current() -> None:
    text = await current_datetime_tool().handler({}, CTX)
    stamp = datetime.fromisoformat(text.split(" ")[0])
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 5


def test_builtin_names_are_ollama_safe() -> None:
    names = [tool.name for tool in builtin_tools()]
    assert names == ["current_datetime", "calculator"]
