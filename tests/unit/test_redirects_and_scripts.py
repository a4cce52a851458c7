"""Sign-in targets keep a strict same-site shape, and no page script is ever built from data."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from youworker.services.redirects import DEFAULT_TARGET, safe_next

STATE_DIR = Path(__file__).resolve().parents[2] / "youworker"

HOSTILE = [
    "/'-alert(1)-'",
    "/chat'-alert(document.domain)-'",
    '/chat"-alert(1)-"',
    "/chat');alert(1);//",
    "/\\evil.example",
    "/\\/evil.example",
    "//evil.example",
    "//evil.example/chat",
    "/\t/evil.example",
    "/\t\t/evil.example",
    "/chat\n",
    "/chat\r\nSet-Cookie: x=1",
    "/chat\x00",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "/javascript:alert(1)",
    "https://evil.example",
    "http:/evil.example",
    "evil.example",
    "chat",
    "",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/chat?x=%2F%2Fevil.example",
    "/%09/evil.example",
    "/chat?x=%27-alert(1)-%27",
    "/chat?x=%2527",
    "/chat?x=%252F%252Fevil",
    "/chat?x=%5Cevil",
    "/chat?x=%0a",
    "/chat?x=%E2%80%A8",
    "/chat/\u2028",
    "/chat/\u00e9t\u00e9",
    "/\uff45vil",  # a fullwidth e
    "/chat/../admin",
    "/chat/./x",
    "/chat#x",
    "/chat?x=<script>",
    "/" + "a" * 600,
]

SAFE = [
    "/chat",
    "/chat/3f1c2b9e-8f7a-4c8e-9d1e-1234567890ab",
    "/documents",
    "/groups/3f1c2b9e-8f7a-4c8e-9d1e-1234567890ab",
    "/invite/Ab_cd-EF012345",
    "/admin/analytics/users",
    "/chat?q=plan&page=2",
    "/chat?q=a%2Db",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_targets_fall_back_to_the_chat_page(value: str) -> None:
    assert safe_next(value) == DEFAULT_TARGET


def test_missing_target_is_the_chat_page() -> None:
    assert safe_next(None) == DEFAULT_TARGET


@pytest.mark.parametrize("value", SAFE)
def test_same_site_paths_pass_unchanged(value: str) -> None:
    assert safe_next(value) == value


def _script_calls(tree: ast.AST) -> list[ast.Call]:
    names = {"call_script", "call_function", "run_script"}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in names
    ]


def test_page_scripts_are_only_made_in_the_scripts_module() -> None:
    """Every `rx.call_script`/`call_function`/`run_script` lives in state/scripts.py."""
    offenders = []
    for path in STATE_DIR.rglob("*.py"):
        if path.name == "scripts.py" and path.parent.name == "state":
            continue
        for call in _script_calls(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(STATE_DIR.parent)}:{call.lineno}")
    assert offenders == []


def _is_script_constant(node: ast.expr) -> bool:
    """`SIGN_OUT` inside the scripts module, `scripts.SIGN_OUT` elsewhere."""
    if isinstance(node, ast.Name):
        return node.id.isupper()
    return isinstance(node, ast.Attribute) and node.attr.isupper()


def test_scripts_are_module_constants_wherever_they_run() -> None:
    """`scripts.run(X)` and `scripts.call(X, ...)` get a constant X, never built text; inside
    the scripts module, Reflex's script calls only pass on a parameter."""
    checked = 0
    for path in STATE_DIR.rglob("*.py"):
        in_scripts = path.name == "scripts.py" and path.parent.name == "state"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func in ("scripts.run", "scripts.call") or (in_scripts and func in ("run", "call")):
                where = f"{path}: {ast.unparse(node)}"
                assert node.args and _is_script_constant(node.args[0]), where
                checked += 1
            if in_scripts and func in ("rx.call_script", "FunctionStringVar.create"):
                assert [ast.unparse(a) for a in node.args] in (["script"], ["function"])
    assert checked >= 4


def test_values_reach_scripts_as_json_literals_only() -> None:
    from youworker.state import scripts

    spec = scripts.call(scripts.REPLACE_ADDRESS, "/chat/x')-alert(1)-('")
    source = str(spec.args[0][1])
    assert scripts.REPLACE_ADDRESS in source
    assert "\"/chat/x')-alert(1)-('\"" in source  # a JSON string literal, quotes escaped
    with pytest.raises(ValueError):
        scripts.replace_address("/chat/x'-alert(1)-'")
    with pytest.raises(ValueError):
        scripts.hand_off("abc'-alert(1)-'def0123456789")
