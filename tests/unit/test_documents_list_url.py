"""The documents list's page, sort and search live in the URL (Back returns to them)."""

from __future__ import annotations

import pytest

from youworker.state.documents import list_url, page_window, parse_list_params


def test_defaults_make_a_plain_url_and_round_trip() -> None:
    assert list_url(1, "created_at", True, "") == "/documents"
    url = list_url(3, "name", False, "tax & receipts")
    assert url == "/documents?page=3&sort=name&dir=asc&q=tax+%26+receipts"
    assert parse_list_params(
        {"page": "3", "sort": "name", "dir": "asc", "q": "tax & receipts"}
    ) == (
        3,
        "name",
        False,
        "tax & receipts",
    )


@pytest.mark.parametrize(
    ("params", "page"),
    [
        ({"page": "-1"}, 1),
        ({"page": "1e9"}, 1),
        ({"page": "9999999999"}, 1),
        ({"page": "0"}, 1),
        ({"sort": "password_hash"}, 1),
        ({"sort": "name; DROP TABLE documents"}, 1),
        ({"dir": "sideways"}, 1),
    ],
)
def test_hostile_values_fall_back_to_defaults(params: dict[str, str], page: int) -> None:
    assert parse_list_params(params) == (page, "created_at", True, "")


def test_long_searches_are_cut() -> None:
    assert len(parse_list_params({"q": "x" * 5000})[3]) == 200


def test_page_numbers_show_both_ends_and_the_neighbourhood() -> None:
    assert page_window(1, 1) == []
    assert page_window(1, 3) == [1, 2, 3]
    assert page_window(10, 20) == [1, 0, 8, 9, 10, 11, 12, 0, 20]
    assert page_window(20, 20) == [1, 0, 18, 19, 20]
