"""The all-MiniLM-L6-v2 tokenizer, shipped in the repo: chunker and embedder count alike."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

# `tokenizers` is imported on first use: a backend that neither ingests nor searches never
# needs it.
if TYPE_CHECKING:
    from tokenizers import Tokenizer

TOKENIZER_PATH = Path(__file__).resolve().parent / "resources" / "minilm-tokenizer.json"


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
