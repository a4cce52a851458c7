"""The all-MiniLM-L6-v2 tokenizer, shipped in the repo: chunker and embedder count alike."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

# `tokenizers` is imported on first use: a backend that neither ingests nor searches never
# needs it.
if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

TOKENIZER_PATH = Path(__file__).resolve().parent / "resources" / "minilm-tokenizer.json"

# Printable ASCII, tab and line breaks: on such text the BERT normalizer only lowercases (no
# control characters to drop, no accents, no CJK, whitespace stays whitespace to the
# pre-tokenizer), so `str.lower()` plus the model without a normalizer gives the same tokens
# at the same offsets, ~35% faster.
_NOT_PLAIN = re.compile(r"[^\t\n\r -~]")


def load_tokenizer() -> Tokenizer:
    """A fresh instance without padding or truncation (callers that need them set their own)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@lru_cache(maxsize=1)
def get_tokenizer() -> Tokenizer:
    """The shared tokenizer for counting and splitting (never mutate it)."""
    return load_tokenizer()


@lru_cache(maxsize=1)
def _plain_tokenizer() -> tuple[Tokenizer, tuple[str, ...]]:
    """The shared model without its normalizer, and the added tokens' texts."""
    tokenizer = load_tokenizer()
    tokenizer.normalizer = None
    # Added tokens ("[CLS]", ...) match the text before normalisation, case and all: text
    # holding one keeps the full path.
    added = tuple(token.content for token in tokenizer.get_added_tokens_decoder().values())
    return tokenizer, added


def is_plain(text: str, added: tuple[str, ...]) -> bool:
    """True when `str.lower()` is all the BERT normalizer would do to `text`."""
    return _NOT_PLAIN.search(text) is None and not any(token in text for token in added)


def encode_batch(texts: list[str]) -> list[Encoding]:
    """Each text's tokens without special tokens: the ids and character offsets of
    `get_tokenizer().encode_batch(texts, add_special_tokens=False)`, made faster."""
    plain_tokenizer, added = _plain_tokenizer()
    plain = [is_plain(text, added) for text in texts]
    fast = plain_tokenizer.encode_batch(
        [text.lower() for text, ok in zip(texts, plain, strict=True) if ok],
        add_special_tokens=False,
    )
    full = get_tokenizer().encode_batch(
        [text for text, ok in zip(texts, plain, strict=True) if not ok], add_special_tokens=False
    )
    fast_iter, full_iter = iter(fast), iter(full)
    return [next(fast_iter) if ok else next(full_iter) for ok in plain]
