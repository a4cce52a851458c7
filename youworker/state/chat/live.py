"""The answer being written, in a state of its own."""

from __future__ import annotations

from youworker.services.chat.runs import RunSnapshot
from youworker.services.markdown import escape_raw_html
from youworker.state.chat.rows import ToolRow, tool_row_from_card
from youworker.state.session import SessionState


class LiveAnswerState(SessionState):
    """The answer being written. Apart from ChatState so that its updates (up to 25 a second)
    re-render only the live bubble, not the thread and sidebar that read ChatState."""

    text: str = ""
    thinking: str = ""
    tools: list[ToolRow] = []

    def _show(self, snapshot: RunSnapshot) -> None:
        self.text = escape_raw_html(snapshot.text)
        thinking = escape_raw_html(snapshot.thinking)
        if thinking != self.thinking:
            self.thinking = thinking
        if len(snapshot.tools) != len(self.tools) or any(
            card.status != row.status for card, row in zip(snapshot.tools, self.tools, strict=True)
        ):
            self.tools = [tool_row_from_card(card) for card in snapshot.tools]

    def _clear(self) -> None:
        if self.text or self.thinking or self.tools:
            self.text = self.thinking = ""
            self.tools = []
