"""Titles are short and plain; an answer cut by a crash says "Interrupted"; times go out as UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from youworker.models import MessageStatus
from youworker.services.chat import MessageView
from youworker.services.chat.display import TITLE_FROM_MESSAGE, ended_early, title_from
from youworker.services.chat.interrupted import INTERRUPTED
from youworker.services.documents.access import NOT_SHARED
from youworker.services.documents.citations import Citation
from youworker.state.chat.rows import message_row
from youworker.state.times import iso_utc


@pytest.mark.parametrize(
    ("message", "title"),
    [
        ("Hello! What can you do?", "Hello! What can you do?"),
        ("# Quarterly **report** summary", "Quarterly report summary"),
        ("```python\nprint('hi')\n```", "print('hi')"),
        ("Fix this:\n```\nx = 1\n```\nplease", "Fix this: x = 1 please"),
        ("See [the docs](https://example.com/a) and `make test`", "See the docs and make test"),
        ("- first item\n- second item", "first item second item"),
        ("> quoted _words_ here", "quoted words here"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a b 1 2"),
        ("What is 6*7 and 2*3*4?", "What is 6*7 and 2*3*4?"),
        ("keep snake_case_names as they are", "keep snake_case_names as they are"),
        ("~~old~~ new", "old new"),
        ("```\n```", None),  # no words: the conversation stays untitled
        ("   \n\n  ", None),
    ],
)
def test_titles_are_plain(message: str, title: str | None) -> None:
    assert title_from(message) == title


def test_long_titles_are_cut_at_a_word() -> None:
    words = "Please summarise the attached quarterly report for the board meeting next week"
    title = title_from(words)
    assert len(title) <= TITLE_FROM_MESSAGE
    assert title.endswith("…")
    assert words.startswith(title[:-1])
    assert title[:-1] == title[:-1].rstrip() and words[len(title) - 1] == " "


def test_a_word_longer_than_a_title_is_cut_anyway() -> None:
    title = title_from("x" * 500)
    assert title == "x" * (TITLE_FROM_MESSAGE - 1) + "…"


def test_stopped_by_the_reader_or_interrupted_by_a_crash() -> None:
    assert ended_early(MessageStatus.STOPPED, None) == "Stopped"
    assert ended_early(MessageStatus.STOPPED, INTERRUPTED) == "Interrupted"
    assert ended_early(MessageStatus.COMPLETE, None) == ""
    assert ended_early(MessageStatus.ERROR, "internal") == ""


def test_times_go_out_as_utc_iso() -> None:
    naive = datetime(2025, 1, 31, 13, 5, 9)
    assert iso_utc(naive) == "2025-01-31T13:05:09Z"
    tokyo = datetime(2025, 1, 31, 22, 5, 9, tzinfo=timezone(timedelta(hours=9)))
    assert iso_utc(tokyo) == "2025-01-31T13:05:09Z"


def _view(**overrides: object) -> MessageView:
    fields: dict[str, object] = {
        "id": "m1",
        "role": "assistant",
        "content": "Meals are 42 euros [1], rooms [2].",
        "thinking": "",
        "status": MessageStatus.COMPLETE,
        "model": "m",
        "prompt_tokens": None,
        "completion_tokens": None,
        "latency_ms": None,
        "ttft_ms": None,
        "error_code": None,
        "error_message": None,
        "created_at": datetime(2025, 1, 31, 13, 5, tzinfo=UTC),
    }
    fields.update(overrides)
    return MessageView(**fields)  # type: ignore[arg-type]


def _citation(number: int, document_id: str) -> Citation:
    return Citation(number, f"c{number}", document_id, f"doc{number}.pdf", 1, None, "snippet")


def test_a_source_the_reader_cannot_open_says_why_and_is_not_linked() -> None:
    view = _view(citations=[_citation(1, "d-open"), _citation(2, "d-closed")])
    row = message_row(view, {"d-closed": NOT_SHARED})
    open_source, closed_source = row.sources
    assert open_source.url.startswith("/documents/d-open") and open_source.note == ""
    assert closed_source.url == "" and closed_source.note == NOT_SHARED
    assert "(/documents/d-open" in row.content  # the [1] marker links to the passage
    assert "d-closed" not in row.content  # [2] stays plain text


def test_an_interrupted_answer_row_says_so() -> None:
    row = message_row(_view(status=MessageStatus.STOPPED, error_code=INTERRUPTED))
    assert row.ended == "Interrupted"
    assert message_row(_view(status=MessageStatus.STOPPED)).ended == "Stopped"
    assert row.time == "2025-01-31T13:05:00Z"
