"""A snapshot of an answer survives the trip to another worker unchanged."""

from __future__ import annotations

from youworker.services.chat.snapshots import RunSnapshot, ToolCard, decode, encode, split
from youworker.services.documents.citations import Citation


def test_a_snapshot_with_tools_and_citations_round_trips() -> None:
    snapshot = RunSnapshot(
        conversation_id="0b6c4d38-5d0e-4a52-9a31-2a0f8c1e9d11",
        message_id="7f1e2d3c-4b5a-4697-8877-665544332211",
        model="test-plain",
        text="Meals: 42 euros [1] — ünïcode",
        thinking="look it up",
        tools=(ToolCard("c1", 1, "search_documents", '{"query": "meal"}', "ok", "found", "", 12),),
        status="streaming",
        error_code=None,
        error_message=None,
        version=7,
        citations=(Citation(1, "chunk", "doc", "handbook.pdf", 2, None, "42 euros a day"),),
    )

    conversation_id, body = split(encode(snapshot))

    assert conversation_id == snapshot.conversation_id
    assert decode(body) == snapshot
    assert not decode(body).finished
