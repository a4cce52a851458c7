"""Raw HTML in markdown becomes visible text; code is left alone."""

from __future__ import annotations

from youworker.services.markdown import escape_raw_html


def test_tags_outside_code_are_escaped() -> None:
    assert (
        escape_raw_html("hi <img src=x onerror=alert(1)>") == "hi &lt;img src=x onerror=alert(1)>"
    )
    assert escape_raw_html("<script>alert(1)</script>") == "&lt;script>alert(1)&lt;/script>"


def test_inline_code_is_untouched() -> None:
    assert escape_raw_html("use `<div>` and <b>") == "use `<div>` and &lt;b>"
    assert escape_raw_html("``a `<x>` b``<i>") == "``a `<x>` b``&lt;i>"


def test_fenced_code_is_untouched() -> None:
    text = "before <b>\n```html\n<div onclick=x>\n```\nafter <i>\n"
    assert escape_raw_html(text) == "before &lt;b>\n```html\n<div onclick=x>\n```\nafter &lt;i>\n"


def test_unclosed_fence_keeps_the_rest_as_code() -> None:
    assert escape_raw_html("~~~\n<x>\n") == "~~~\n<x>\n"


def test_plain_text_is_unchanged() -> None:
    text = "# Title\n\n- a & b\n- 3 > 2\n"
    assert escape_raw_html(text) == text
