"""Prompts and output grammars for the built-in model (SmolLM2-135M-Instruct, ChatML).

Pure functions, no llama.cpp: the child process (`embedded_worker`) renders prompts and decision
schemas with them, and tests check what llama.cpp will be given without loading a model.

The decision schema is built from the real tool specs, but only from the keywords that shape
the JSON (types, properties, items, enums). Length, range and pattern keywords are dropped:
llama.cpp expands `"maxLength": 2000` into a 2,000-deep nested rule, prints "number of rules
... exceeds sane defaults" and then crashes while sampling (a segmentation fault, issue 16).
The tool itself still validates its arguments against its full schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from youworker.services.llm.base import ChatMessage, ToolSpec

DEFAULT_SYSTEM = (
    "You are YouWorker's built-in assistant, a small model running offline on this server. "
    "YouWorker is a team workspace: people chat with an AI assistant, upload documents and "
    "ask questions about them, and share documents and conversations with their groups. "
    "Answer briefly and plainly."
)
# Deeper than this, a schema accepts any JSON value: real tool schemas are 2-4 levels deep.
MAX_SCHEMA_DEPTH = 6
_SIMPLE_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
_MAX_ENUM_VALUES = 64
# llama-cpp-python's string characters include newlines; with them the small model rambled for
# paragraphs inside an argument and never closed it. llama.cpp's own converter excludes them.
_CHAR_RULE = (
    r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    r"[0-9a-fA-F] [0-9a-fA-F])"
)


def chatml(turns: list[tuple[str, str]]) -> str:
    """SmolLM2's chat template (ChatML), ending with the assistant's turn opened."""
    body = "".join(f"<|im_start|>{role}\n{text}<|im_end|>\n" for role, text in turns)
    return body + "<|im_start|>assistant\n"


def render(messages: list[ChatMessage], system: str) -> list[tuple[str, str]]:
    """Turns for the prompt; tool results become system notes the small model actually uses."""
    system_texts = [m.content for m in messages if m.role == "system" and m.content]
    turns: list[tuple[str, str]] = [("system", "\n\n".join([system, *system_texts]))]
    arguments: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "assistant" and message.tool_calls:
            # Replaying the call JSON made the model repeat the call instead of answering.
            arguments.update({call.name: call.arguments for call in message.tool_calls})
            if message.content:
                turns.append(("assistant", message.content))
        elif message.role == "tool":
            name = message.tool_name or "tool"
            args = json.dumps(arguments.get(name, {}))
            turns.append(("system", f"Tool {name}({args}) returned: {message.content}"))
        else:
            turns.append((message.role, message.content))
    if messages and messages[-1].role == "tool":
        turns.append(("system", "Answer the user using this result."))
    return turns


def _example_arguments(spec: ToolSpec) -> dict[str, Any]:
    props: dict[str, Any] = spec.parameters.get("properties", {}) or {}
    samples = {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}
    return {
        name: samples.get(props.get(name, {}).get("type", "string"), "...")
        for name in spec.parameters.get("required", list(props))
    }


def tool_instructions(tools: list[ToolSpec]) -> str:
    """The tools' descriptions and one example call (the grammar enforces the shape)."""
    listing = "\n".join(
        f"- {t.name}: {t.description} Arguments: {json.dumps(grammar_schema(t.parameters))}"
        for t in tools
    )
    first = tools[0]
    example = json.dumps({"tool": first.name, "arguments": _example_arguments(first)})
    return (
        f"Tools you may call:\n{listing}\n\nReply with one JSON object that calls a tool.\n"
        f"Example:\nUser: Use {first.name}.\nAssistant: {example}"
    )


def named_tools(text: str, tools: list[ToolSpec]) -> list[ToolSpec]:
    """The offered tools whose name's words all appear in `text` ("search the web": web_search)."""
    words = set(re.findall(r"[a-z0-9]+", text.lower()))
    return [
        tool
        for tool in tools
        if (parts := [p for p in re.split(r"[^a-z0-9]+", tool.name.lower()) if p])
        and all(part in words for part in parts)
    ]


def _simple_value(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and len(value) <= 200)
    )


def grammar_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """The shape of `schema` that llama.cpp can turn into a small grammar.

    Keeps type, properties, required, items, enum, const, anyOf and oneOf; drops everything
    else (lengths, bounds, patterns, formats, $ref). An unusable or too deep part accepts any value.
    """
    if not isinstance(schema, dict) or depth > MAX_SCHEMA_DEPTH:
        return {}
    shaped: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _SIMPLE_TYPES:
        shaped["type"] = kind
    elif isinstance(kind, list) and kind and all(k in _SIMPLE_TYPES for k in kind):
        shaped["type"] = list(dict.fromkeys(kind))
    enum = schema.get("enum")
    if (
        isinstance(enum, list)
        and 0 < len(enum) <= _MAX_ENUM_VALUES
        and all(map(_simple_value, enum))
    ):
        shaped["enum"] = enum
    if "const" in schema and _simple_value(schema["const"]):
        shaped["const"] = schema["const"]
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            # A branch that accepts anything makes the whole union accept anything.
            shaped_branches = [grammar_schema(branch, depth + 1) for branch in branches[:16]]
            if all(shaped_branches):
                shaped["anyOf"] = shaped.get("anyOf", []) + shaped_branches
    properties = schema.get("properties")
    if isinstance(properties, dict) and shaped.get("type") in ("object", None):
        props = {
            str(name): grammar_schema(sub, depth + 1) for name, sub in list(properties.items())[:32]
        }
        shaped["type"] = "object"
        shaped["properties"] = props
        required = schema.get("required")
        if isinstance(required, list):
            shaped["required"] = [name for name in required if name in props]
        # Extra keys only invite the small model to ramble; the tool validates the rest.
        shaped["additionalProperties"] = False
    items = schema.get("items")
    if isinstance(items, dict) and shaped.get("type") in ("array", None):
        shaped["type"] = "array"
        shaped["items"] = grammar_schema(items, depth + 1)
    return shaped


def decision_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """{"tool": name, "arguments": {...}} for one of `tools`, the tool's name first."""
    branches: list[dict[str, Any]] = []
    for tool in tools:
        arguments = grammar_schema(tool.parameters)
        if arguments.get("type") != "object":
            arguments = {"type": "object"}
        branches.append(
            {
                "type": "object",
                "properties": {"tool": {"const": tool.name}, "arguments": arguments},
                "required": ["tool", "arguments"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": branches}


def decision_grammar(tools: list[ToolSpec]) -> str:
    """The GBNF grammar for `decision_schema`, as llama.cpp will be given it."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf  # pure Python; imported when needed

    # Key order matters (no sort_keys): the model names the tool, then writes its arguments.
    rules = json_schema_to_gbnf(json.dumps(decision_schema(tools))).splitlines()
    return "\n".join(_CHAR_RULE if rule.startswith("char ::=") else rule for rule in rules)
