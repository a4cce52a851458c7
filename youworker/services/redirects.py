"""Where the app may send a browser after signing in: same-site paths of a strict shape only."""

from __future__ import annotations

import re
from urllib.parse import unquote

DEFAULT_TARGET = "/chat"
MAX_LENGTH = 512
# A path of letters, digits, `/`, `_` and `-` (every route and id of this app fits), optionally a
# query of plain `name=value` pairs. No dots, colons, quotes, backslashes or whitespace.
_SAFE = re.compile(r"/[A-Za-z0-9/_\-]*(\?[A-Za-z0-9=&_\-%]*)?")
_DECODED_ALPHABET = re.compile(r"[A-Za-z0-9/_\-?=&%]*")


def safe_next(path: str | None) -> str:
    """`path` when it is a same-site path of the shape above, else the chat page.

    The result is only ever handed to Reflex's own redirect, never to script text. Still, nothing
    a browser could read as another origin or as script passes: `//host`, `/\\host`,
    `javascript:`, quotes, tabs and other control characters, nor their percent-encoded forms
    (a value must keep the plain alphabet however often it is decoded).
    """
    if not path or len(path) > MAX_LENGTH or _SAFE.fullmatch(path) is None:
        return DEFAULT_TARGET
    decoded = path
    for _ in range(4):
        if "//" in decoded or _DECODED_ALPHABET.fullmatch(decoded) is None:
            return DEFAULT_TARGET
        if "%" not in decoded:
            return path
        decoded = unquote(decoded)
    return DEFAULT_TARGET
