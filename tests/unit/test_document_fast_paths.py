"""The shortcuts taken for speed give exactly what the general path gives."""

from __future__ import annotations

import random

import pytest

from youworker.services.documents.parsing import clean_text
from youworker.services.documents.tokenizer import encode_batch, get_tokenizer

# Plain ASCII pieces (mixed case, every punctuation class, tabs, CR, words over WordPiece's
# 100-character limit) and pieces that must take the full path (accents, CJK, ligatures,
# control characters, odd spaces, special tokens spelt as in the vocabulary).
PLAIN = [
    *("Alpha", "beta", "GAMMA", "42", "3.14", "e-mail", "don't", "(a)", "[b]", "{c}", "<d>"),
    *("~", "`", "@#$%^&*+=|\\/", "_", ".", "!?", "[cls]", "[Unk]", "x" * 120),
    *("  ", " ", "\t", "\n", "\n\n", "\r\n", "\r"),
]
NOT_PLAIN = [
    *("Caf\u00e9", "na\u00efve", "\u4e2d\u6587", "\ufb01ne", "\u0130"),
    *("[CLS]", "[UNK]", "[SEP]", "[PAD]", "[MASK]"),
    *("\x00", "\x0b", "\x0c", "\x1f", "\x7f", "\u00a0", "\u2003", "\u200b"),
]


def texts(seed: int, pieces: list[str], count: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize(
    "batch",
    [
        texts(1, PLAIN, 200),
        texts(2, PLAIN + NOT_PLAIN, 200),
        texts(3, NOT_PLAIN, 50),
        [],
    ],
    ids=["plain", "mixed", "not-plain", "empty"],
)
def test_encode_batch_matches_the_full_tokenizer(batch: list[str]) -> None:
    fast = encode_batch(batch)
    full = get_tokenizer().encode_batch(batch, add_special_tokens=False)
    assert [e.ids for e in fast] == [e.ids for e in full]
    assert [e.offsets for e in fast] == [e.offsets for e in full]


def test_special_token_text_keeps_its_meaning() -> None:
    # "[CLS]" in the text is the special token; lowercased it would be four word pieces.
    (encoding,) = encode_batch(["Before [CLS] after"])
    assert encoding.ids[1] == get_tokenizer().token_to_id("[CLS]")


@pytest.mark.parametrize(
    ("raw", "collapse", "expected"),
    [
        ("one two", True, "one two"),
        ("one  two", True, "one two"),
        ("one\ttwo", True, "one two"),
        ("one\u00a0two\u3000three", True, "one two three"),
        ("one \ntwo", True, "one\ntwo"),
        ("one\n two", True, "one\ntwo"),
        ("one\t\n\ttwo", True, "one\ntwo"),
        ("one\n\n\n\ntwo", True, "one\n\ntwo"),
        ("one\n\ntwo", True, "one\n\ntwo"),
        ("  keep  indent \n\tand tabs\t\n", False, "keep  indent\n\tand tabs"),
        ("line \n\n\n\nnext", False, "line\n\nnext"),
    ],
)
def test_clean_text_rewrites_only_what_needs_it(raw: str, collapse: bool, expected: str) -> None:
    assert clean_text(raw, collapse_spaces=collapse) == expected
