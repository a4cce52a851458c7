"""The tokenizer's fast path gives exactly the ids and offsets of the full BERT normalizer."""

from __future__ import annotations

import pytest

from youworker.services.documents.tokenizer import encode_batch, get_tokenizer

TEXTS = [
    "The Office opens at NINE. Budget: 1,200 EUR (see §4)!",
    "Plain ASCII only, with\ttabs and\nline breaks and   runs of spaces.",
    "def f(x):\n    return x ** 2  # code-like text [brackets] {braces}",
    "Accents: café, naïve, Ångström; CJK 東京; control \x07 char; [CLS] in text",
    "[SEP] looks like a special token",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_encode_batch_matches_the_full_tokenizer(text: str) -> None:
    (fast,) = encode_batch([text])
    (full,) = get_tokenizer().encode_batch([text], add_special_tokens=False)
    assert fast.ids == full.ids
    assert fast.offsets == full.offsets


def test_encode_batch_keeps_the_order_of_mixed_texts() -> None:
    fast = encode_batch(TEXTS)
    full = get_tokenizer().encode_batch(TEXTS, add_special_tokens=False)
    assert [e.ids for e in fast] == [e.ids for e in full]
