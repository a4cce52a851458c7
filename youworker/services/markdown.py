"""Markdown from users and models is shown, never run: raw HTML becomes visible text."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)


def _escape_outside_code_spans(line: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _CODE_SPAN.finditer(line):
        parts.append(line[position : match.start()].replace("<", "&lt;"))
        parts.append(match.group(0))
        position = match.end()
    parts.append(line[position:].replace("<", "&lt;"))
    return "".join(parts)


def escape_raw_html(markdown: str) -> str:
    """Turn `<` outside code into an entity, so HTML tags render as the text they are.

    The renderer also runs without its raw-HTML plugin; this makes tags visible instead of dropped.
    """
    if "<" not in markdown:
        return markdown  # most answers: the live bubble calls this on every update
    lines: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        match = _FENCE.match(line)
        if fence is not None:
            lines.append(line)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
        elif match:
            fence = match.group(1)
            lines.append(line)
        else:
            lines.append(_escape_outside_code_spans(line))
    return "".join(lines)
