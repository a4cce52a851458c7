"""Every piece of JavaScript the server asks a page to run, as constants.

Reflex evaluates `rx.call_script` text in the page, so script text is never built from data of
any kind. A script that needs a value is a constant function; the value reaches it as an
argument that Reflex encodes as a JSON literal (`call`), never spliced into the source.
"""

from __future__ import annotations

import re

import reflex as rx
from reflex.event import EventSpec
from reflex.vars import FunctionStringVar, LiteralVar

# Swap the one-time hand-off code for the HttpOnly session cookie, then load the index page, whose
# on_load sends the now signed-in tab on to the target the server kept (see SessionState).
HAND_OFF = (
    "((code) => fetch('/auth/session', {method: 'POST', credentials: 'same-origin', "
    "headers: {'Content-Type': 'application/json'}, body: JSON.stringify({code: code})})"
    ".then((r) => window.location.replace(r.ok ? '/' : '/login?expired=1')))"
)
# The cookie is HttpOnly: the page asks the server to end the session and clear it.
SIGN_OUT = (
    "fetch('/auth/logout', {method: 'POST', credentials: 'same-origin'})"
    ".finally(() => window.location.replace('/login'))"
)
# Change the address bar without a navigation (which would reload the page's state).
REPLACE_ADDRESS = "((path) => window.history.replaceState(null, '', path))"
# Wait for the cited passage to render, then bring it into view (a few frames at most).
SCROLL_TO_PASSAGE = (
    "(function find(tries){const el=document.getElementById('passage');"
    "if(el){el.scrollIntoView({block:'center'});}"
    "else if(tries>0){requestAnimationFrame(()=>find(tries-1));}})(240)"
)

# Values handed to the functions above have these shapes; anything else is a bug upstream.
_HANDOFF_CODE = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_SITE_PATH = re.compile(r"/[A-Za-z0-9/_\-]*")


def call(function: str, *args: str) -> EventSpec:
    """Run the constant `function` (a parenthesised function expression) in the page with
    `args` passed as JSON string literals."""
    encoded = [LiteralVar.create(str(arg)) for arg in args]
    return rx.run_script(FunctionStringVar.create(function).call(*encoded))


def run(script: str) -> EventSpec:
    """Run a constant script that takes no data."""
    return rx.call_script(script)


def hand_off(code: str) -> EventSpec:
    if _HANDOFF_CODE.fullmatch(code) is None:
        raise ValueError("hand-off codes are url-safe tokens")
    return call(HAND_OFF, code)


def replace_address(path: str) -> EventSpec:
    if _SITE_PATH.fullmatch(path) is None or path.startswith("//"):
        raise ValueError(f"not a same-site path: {path!r}")
    return call(REPLACE_ADDRESS, path)
