"""Built-in tools: the current date and time, and a safe calculator."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from youworker.services.llm.base import ToolSpec
from youworker.services.tools.base import Tool, ToolContext, ToolError

EXPRESSION_MAX = 500
# Integers up to ~3000 digits: well under Python's int-to-str limit (4300 digits) and fast.
INT_BITS_MAX = 10_000
NESTING_MAX = 400  # long sums nest one level per term, so this cannot be small
FACTORIAL_MAX = 1000
TIMEZONE_MAX = 64

_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$")

Number = int | float


# --- current_datetime -------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or a ToolError the model can act on."""
    cleaned = name.strip()
    # The pattern also keeps path tricks ("../", absolute paths) away from the zoneinfo loader.
    if not cleaned or len(cleaned) > TIMEZONE_MAX or not _ZONE_NAME.match(cleaned):
        raise ToolError(
            f"Unknown time zone {name!r}: use an IANA name such as 'UTC', 'Europe/Rome' "
            "or 'America/New_York'."
        )
    if cleaned.upper() == "UTC":
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(
            f"Unknown time zone {name!r}: use an IANA name such as 'UTC', 'Europe/Rome' "
            "or 'America/New_York'."
        ) from None


def format_datetime(moment: datetime, zone_name: str = "UTC") -> str:
    """ISO 8601 with offset, the weekday and the zone, e.g. for the model to quote."""
    zone = _zone(zone_name)
    local = moment.astimezone(zone).replace(microsecond=0)
    abbreviation = local.tzname() or zone.key
    return f"{local.isoformat()} ({local.strftime('%A')}, {zone.key}, {abbreviation})"


def current_datetime_tool(clock: Callable[[], datetime] | None = None) -> Tool:
    """The `current_datetime` tool; `clock` returns an aware UTC time (tests pin it)."""
    now = clock or (lambda: datetime.now(UTC))

    async def handler(arguments: dict[str, Any], ctx: ToolContext) -> str:
        zone_name = arguments.get("timezone")
        if zone_name is None:
            zone_name = "UTC"
        if not isinstance(zone_name, str):
            raise ToolError("timezone must be a string such as 'Europe/Rome'.")
        return format_datetime(now(), zone_name)

    spec = ToolSpec(
        name="current_datetime",
        description=(
            "Get the current date, time and weekday. Returns ISO 8601 with the UTC offset."
        ),
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone name, e.g. 'Europe/Rome'. Defaults to UTC.",
                }
            },
            "required": [],
        },
    )
    return Tool(spec=spec, handler=handler)


# --- calculator -------------------------------------------------------------------------------


def _factorial(value: Number) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ToolError("factorial() needs a whole number.")
        value = int(value)
    if value < 0:
        raise ToolError("factorial() needs a number that is not negative.")
    if value > FACTORIAL_MAX:
        raise ToolError(f"factorial() is limited to numbers up to {FACTORIAL_MAX}.")
    return math.factorial(value)


def _log(value: Number, base: Number | None = None) -> float:
    return math.log(value) if base is None else math.log(value, base)


def _round(value: Number, digits: Number | None = None) -> Number:
    if digits is None:
        return round(value)
    if not isinstance(digits, int) or not -100 <= digits <= 100:
        raise ToolError("round() takes a whole number of digits between -100 and 100.")
    return round(value, digits)


# name -> (function, minimum arguments, maximum arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "cbrt": (math.cbrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (_log, 1, 2),
    "ln": (math.log, 1, 1),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "atan2": (math.atan2, 2, 2),
    "sinh": (math.sinh, 1, 1),
    "cosh": (math.cosh, 1, 1),
    "tanh": (math.tanh, 1, 1),
    "degrees": (math.degrees, 1, 1),
    "radians": (math.radians, 1, 1),
    "hypot": (math.hypot, 1, 10),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "trunc": (math.trunc, 1, 1),
    "factorial": (_factorial, 1, 1),
    "min": (min, 2, 20),
    "max": (max, 2, 20),
}

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_OPERATOR_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


def _check_int(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > INT_BITS_MAX:
        raise ToolError("The result is too large to compute.")
    return value


def _power(base: Number, exponent: Number) -> Number:
    # Estimate the result's size before computing it: 9**9**9 would take forever.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * (abs(base).bit_length() - 1) > INT_BITS_MAX
    ):
        raise ToolError("The result is too large to compute (exponent too big).")
    if isinstance(base, int) and isinstance(exponent, int) and exponent < 0 and base == 0:
        raise ToolError("Division by zero (0 raised to a negative power).")
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("The result is not a real number (fractional power of a negative).")
    return result


def _binary(op: ast.operator, left: Number, right: Number) -> Number:
    if isinstance(op, ast.Add):
        return _check_int(left + right)
    if isinstance(op, ast.Sub):
        return _check_int(left - right)
    if isinstance(op, ast.Mult):
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > INT_BITS_MAX + 1
        ):
            raise ToolError("The result is too large to compute.")
        return _check_int(left * right)
    if isinstance(op, ast.Pow):
        return _check_int(_power(left, right))
    if right == 0:
        raise ToolError("Division by zero.")
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.FloorDiv):
        return left // right
    return left % right  # ast.Mod, the only operator left in _OPERATOR_SYMBOLS


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Lambda: "lambda",
        ast.Subscript: "indexing",
        ast.Compare: "comparison",
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
        ast.NamedExpr: "assignment",
        ast.JoinedStr: "f-string",
        ast.List: "list",
        ast.Tuple: "tuple",
        ast.Dict: "dict",
        ast.Set: "set",
    }
    for kind, label in names.items():
        if isinstance(node, kind):
            return label
    return type(node).__name__


class _Evaluator:
    """Walks an allow-listed AST; anything not listed is refused."""

    def evaluate(self, node: ast.AST, depth: int = 0) -> Number:
        if depth > NESTING_MAX:
            raise ToolError("The expression is nested too deeply.")
        if isinstance(node, ast.Expression):
            return self.evaluate(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            # bool is an int subclass; complex and strings are not arithmetic we offer.
            value = node.value
            if type(value) is int or type(value) is float:
                return _check_int(value)
            raise ToolError(f"Only numbers are allowed, not {node.value!r}.")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self.evaluate(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else +operand
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATOR_SYMBOLS:
                hint = " Use ** for powers." if isinstance(node.op, ast.BitXor) else ""
                raise ToolError(
                    "Only + - * / // % ** and parentheses are allowed as operators." + hint
                )
            left = self.evaluate(node.left, depth + 1)
            right = self.evaluate(node.right, depth + 1)
            return _binary(node.op, left, right)
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise ToolError(
                f"Unknown name {node.id!r}. Constants: {', '.join(sorted(_CONSTANTS))}."
            )
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise ToolError(f"{_describe(node).capitalize()} is not allowed in a calculation.")

    def _call(self, node: ast.Call, depth: int) -> Number:
        if not isinstance(node.func, ast.Name):
            raise ToolError("Only plain function calls such as sqrt(2) are allowed.")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise ToolError(
                f"Unknown function {name!r}. Functions: {', '.join(sorted(_FUNCTIONS))}."
            )
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ToolError(f"{name}() takes plain positional arguments only.")
        function, least, most = _FUNCTIONS[name]
        if not least <= len(node.args) <= most:
            expected = str(least) if least == most else f"{least} to {most}"
            raise ToolError(f"{name}() takes {expected} argument(s), got {len(node.args)}.")
        values = [self.evaluate(arg, depth + 1) for arg in node.args]
        try:
            return _check_int(function(*values))
        except ToolError:
            raise
        except (ValueError, ZeroDivisionError) as exc:
            raise ToolError(f"{name}() is not defined for these values ({exc}).") from None


def format_number(value: Number) -> str:
    """A readable result: whole floats without '.0', 15 significant digits otherwise."""
    if isinstance(value, bool):  # pragma: no cover - the evaluator never yields bools
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        digits = text.lstrip("-")
        if len(digits) > 30:
            # Built from the digits: float() would overflow past ~1e308.
            sign = "-" if value < 0 else ""
            mantissa = f"{digits[0]}.{digits[1:15]}".rstrip("0").rstrip(".")
            return f"{text} (≈ {sign}{mantissa}e+{len(digits) - 1})"
        return text
    if math.isnan(value) or math.isinf(value):
        raise ToolError("The result is not a finite number.")
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return format(value, ".15g")


def evaluate(expression: str) -> Number:
    """Evaluate arithmetic safely; raises ToolError with a readable reason."""
    text = expression.strip()
    if not text:
        raise ToolError("The expression is empty.")
    if len(text) > EXPRESSION_MAX:
        raise ToolError(f"The expression is too long (at most {EXPRESSION_MAX} characters).")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"The expression is not valid arithmetic ({exc.msg}).") from None
    except (RecursionError, MemoryError, ValueError):
        raise ToolError("The expression is too complex.") from None
    try:
        return _Evaluator().evaluate(tree)
    except ZeroDivisionError:
        raise ToolError("Division by zero.") from None
    except OverflowError:
        raise ToolError("The result is too large to compute.") from None
    except RecursionError:
        raise ToolError("The expression is nested too deeply.") from None


def calculate(expression: str) -> str:
    """Evaluate and format in one step."""
    try:
        return format_number(evaluate(expression))
    except OverflowError:
        raise ToolError("The result is too large to compute.") from None


def calculator_tool() -> Tool:
    """The `calculator` tool."""

    async def handler(arguments: dict[str, Any], ctx: ToolContext) -> str:
        expression = arguments.get("expression")
        if not isinstance(expression, str):
            raise ToolError("expression must be a string such as '2 * (3 + 4)'.")
        return calculate(expression)

    spec = ToolSpec(
        name="calculator",
        description=(
            "Evaluate an arithmetic expression exactly. Supports + - * / // % **, parentheses, "
            "pi, e, and functions: " + ", ".join(sorted(_FUNCTIONS)) + "."
        ),
        parameters={
            "type": "object",
            "properties": {
                "expression": {
                    "type": "string",
                    "description": "The expression, e.g. 'sqrt(2) * (3 + 4) ** 2'.",
                }
            },
            "required": ["expression"],
        },
    )
    return Tool(spec=spec, handler=handler)


def builtin_tools(clock: Callable[[], datetime] | None = None) -> list[Tool]:
    """Every built-in tool."""
    return [current_datetime_tool(clock), calculator_tool()]
