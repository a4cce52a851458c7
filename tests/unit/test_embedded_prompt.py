"""What the built-in model is given: prompts, and grammars llama.cpp can run (issue 16).

llama.cpp crashed (SIGSEGV) sampling with the grammar built from the real `search_documents`
schema, whose `"maxLength": 2000` became a 2,000-deep nested rule. These tests convert the
decision schema of the app's real tool set with llama-cpp-python's own converter and bound the
size of what comes out.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from youworker.services.llm.base import ChatMessage, ToolCallRequest, ToolSpec
from youworker.services.llm.embedded_prompt import (
    MAX_SCHEMA_DEPTH,
    decision_grammar,
    decision_schema,
    grammar_schema,
    named_tools,
    render,
    tool_instructions,
)
from youworker.services.runtime import build_tool_registry
from youworker.settings import load_settings

json_schema_to_gbnf = pytest.importorskip("llama_cpp.llama_grammar").json_schema_to_gbnf

# Far above what real tools need (the default set's longest rule: 166 characters; 32 optional
# properties: ~1,000); the crashing grammar had a rule of 16,046 nested 1,999 levels deep.
MAX_RULE_CHARS = 2_000
MAX_NESTING = 20


def real_tools() -> list[ToolSpec]:
    """Exactly the tools a new installation offers by default (nothing switched off)."""
    return build_tool_registry(load_settings()).specs()


def nesting(rule: str) -> int:
    depth = deepest = 0
    for char in re.sub(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]', "", rule):
        depth += char == "("
        depth -= char == ")"
        deepest = max(deepest, depth)
    return deepest


def assert_small_grammar(schema: dict[str, Any]) -> None:
    import json

    rules = [line for line in json_schema_to_gbnf(json.dumps(schema)).splitlines() if line]
    assert rules
    longest = max(rules, key=len)
    assert len(longest) <= MAX_RULE_CHARS, longest[:200]
    assert max(nesting(rule) for rule in rules) <= MAX_NESTING


def test_the_default_tool_set_is_the_one_that_crashed() -> None:
    names = {tool.name for tool in real_tools()}
    assert {"current_datetime", "calculator", "search_documents"} <= names
    search = next(t for t in real_tools() if t.name == "search_documents")
    assert search.parameters["properties"]["query"]["maxLength"] == 2000


def test_grammar_of_the_real_tools_stays_small() -> None:
    tools = real_tools()
    assert_small_grammar(decision_schema(tools))  # a message that names every tool
    for tool in tools:  # a message that names one
        assert_small_grammar(decision_schema([tool]))


def test_grammar_strings_stay_on_one_line() -> None:
    """With newlines allowed the model wrote paragraphs inside an argument and never closed it."""
    grammar = decision_grammar(real_tools())
    (char_rule,) = [rule for rule in grammar.splitlines() if rule.startswith("char ::=")]
    assert char_rule.startswith(r'char ::= [^"\\\x7F\x00-\x1F]')
    tool_rule = next(rule for rule in grammar.splitlines() if rule.startswith("alternative-0 "))
    assert tool_rule.index("tool-kv") < tool_rule.index("arguments-kv")  # the name comes first


def test_unfiltered_schema_was_the_problem() -> None:
    """Guard on the guard: the raw schema trips the size check, so the check means something."""
    search = next(t for t in real_tools() if t.name == "search_documents")
    raw = {"type": "object", "properties": {"arguments": search.parameters}}
    with pytest.raises(AssertionError):
        assert_small_grammar(raw)


def test_hostile_mcp_schema_is_reduced_to_its_shape() -> None:
    hostile = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": 5, "maxLength": 100000, "pattern": "^(a|b)*$"},
            "count": {"type": "integer", "minimum": -(10**9), "maximum": 10**9},
            "when": {"type": "string", "format": "date-time"},
            "ref": {"$ref": "https://example.com/remote.json"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 999},
            "mode": {"enum": ["fast", "slow"]},
            "deep": {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}},
        },
        "required": ["text", "missing"],
        "$defs": {"x": {"type": "string"}},
    }
    shaped = grammar_schema(hostile)

    assert shaped["properties"]["text"] == {"type": "string"}
    assert shaped["properties"]["count"] == {"type": "integer"}
    assert shaped["properties"]["when"] == {"type": "string"}
    assert shaped["properties"]["ref"] == {}
    assert shaped["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert shaped["properties"]["mode"] == {"enum": ["fast", "slow"]}
    assert shaped["required"] == ["text"]  # only properties that exist
    assert "$defs" not in shaped
    tool = ToolSpec("hostile", "A server's tool with every limit set.", hostile)
    assert_small_grammar(decision_schema([tool]))


def test_deep_schemas_are_cut_off() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(50):
        schema = {"type": "object", "properties": {"inner": schema}, "required": ["inner"]}
    shaped = grammar_schema(schema)
    depth = 0
    while shaped.get("properties"):
        shaped = shaped["properties"]["inner"]
        depth += 1
    assert depth <= MAX_SCHEMA_DEPTH + 1
    assert_small_grammar(decision_schema([ToolSpec("deep", "Deep.", schema)]))


def test_named_tools_and_instructions() -> None:
    tools = real_tools()
    named = named_tools("Please search my documents for the refund policy", tools)
    assert [t.name for t in named] == ["search_documents"]
    assert named_tools("Hello! What can you do?", tools) == []
    text = tool_instructions(tools)
    assert "search_documents" in text and "maxLength" not in text


def test_render_turns_tool_results_into_notes() -> None:
    call = ToolCallRequest("calculator", {"expression": "6*7"}, "call_1")
    turns = render(
        [
            ChatMessage("user", "What is 6*7?"),
            ChatMessage("assistant", "", tool_calls=(call,)),
            ChatMessage("tool", "42", tool_name="calculator"),
        ],
        "System.",
    )
    assert turns[0] == ("system", "System.")
    assert ("system", 'Tool calculator({"expression": "6*7"}) returned: 42') in turns
    assert turns[-1] == ("system", "Answer the user using this result.")
