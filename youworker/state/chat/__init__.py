"""The chat page's state.

`ChatState` (thread.py) is one Reflex state joined from mixins, so the page and the browser see one
state as before: `core` (the open conversation), `conversations` (the list and other tabs),
`switches` (model, tools, documents), `following` (the live answer's follower). `LiveAnswerState`
(live.py) is a state of its own so that tokens re-render only the live bubble. `rows` holds the
rows the page shows and the pure mappers that build them.

May import services, `state.session`, `state.scripts` and `state.times`; never pages or components.
"""

from youworker.state.chat.core import THREAD_PAGE
from youworker.state.chat.live import LiveAnswerState
from youworker.state.chat.rows import CollectionChoice, MessageRow, ToolToggle
from youworker.state.chat.thread import COMPOSER_ID, ChatState

__all__ = [
    "COMPOSER_ID",
    "THREAD_PAGE",
    "ChatState",
    "CollectionChoice",
    "LiveAnswerState",
    "MessageRow",
    "ToolToggle",
]
