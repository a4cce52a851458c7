"""How chat text is labelled: plain, short titles and the note under an answer that ended early."""

from __future__ import annotations

import re

from youworker.models import MessageStatus
from youworker.services.chat.interrupted import INTERRUPTED

TITLE_FROM_MESSAGE = 50
# What an untitled conversation is called; no stored title means untitled (never this text).
UNTITLED = "New chat"

_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*$", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|[-*+]\s+\[[ xX]\]\s+|[-*+]\s+|\d{1,9}[.)]\s+)+")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])|(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)"
)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_CODE = re.compile(r"(`+)(.+?)\1")


def plain_text(markdown: str) -> str:
    """The words of a markdown text on one line: fences, markers and link targets left out."""
    lines = []
    for line in _FENCE_LINE.sub("", markdown).splitlines():
        if _RULE.match(line) or _TABLE_RULE.match(line):
            continue
        line = _LINE_MARKUP.sub("", line)
        if "|" in line and line.strip().startswith("|"):
            line = " ".join(cell.strip() for cell in line.split("|"))
        lines.append(line)
    text = " ".join(lines)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(lambda m: m.group(2).strip(), text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    text = _STRIKE.sub(r"\1", text)
    return " ".join(text.split())


def title_from(text: str) -> str | None:
    """A conversation's title from its first message: plain words, cut at a word boundary
    (None when the message has no words: the conversation stays untitled)."""
    line = plain_text(text)
    if not line:
        return None
    if len(line) <= TITLE_FROM_MESSAGE:
        return line
    cut = line[: TITLE_FROM_MESSAGE - 1]
    space = cut.rfind(" ")
    if line[len(cut)] != " " and space >= TITLE_FROM_MESSAGE // 2:
        cut = cut[:space]  # not in the middle of a word
    return cut.rstrip(" ,;:.-") + "…"


def ended_early(status: str, error_code: str | None) -> str:
    """The note under an answer that did not finish: its reader stopped it, or it was cut."""
    if status != MessageStatus.STOPPED:
        return ""
    return "Interrupted" if error_code == INTERRUPTED else "Stopped"
