"""Query expansion: the chat model rewords a question in the words a document would use.

People ask "how do I stop a runaway query"; the manual says "cancel a backend". When a real chat
model serves the installation (the bundled 135M one cannot do this), it proposes a few search
queries, and retrieval searches with the question and each of them (retrieval.search_passages).
A slow or failing model costs at most the timeout: the search goes on with the question alone.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict

from youworker.logging import get_logger
from youworker.services.llm.base import ChatMessage, LLMBackend, LLMError

log = get_logger(__name__)

MAX_EXPANSIONS = 3
MAX_EXPANSION_CHARS = 200
QUESTION_MAX_CHARS = 2000
CACHE_SIZE = 256

INSTRUCTION = (
    "You write search queries for a document search. Given a question, write up to "
    f"{MAX_EXPANSIONS} short search queries that would find the passage answering it in a "
    "manual, handbook or report. Use the terms such a document would use (technical names, "
    "function and command names, formal wording), not the asker's words. One query per line, "
    "no numbering, no explanation."
)
# "1. ", "- ", "* ", "• ", "Query 2:" at the start of a line.
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.):]|query\s*\d*\s*:)\s*", re.IGNORECASE)

_cache: OrderedDict[tuple[str, str], list[str]] = OrderedDict()


def parse_expansions(reply: str, question: str) -> list[str]:
    """The model's distinct queries, list marks and quotes removed, the question itself left out."""
    seen = {_key(question)}
    queries: list[str] = []
    for line in reply.splitlines():
        query = _LIST_MARK.sub("", line).strip().strip("\"'`").strip()
        key = _key(query)
        if not query or len(query) > MAX_EXPANSION_CHARS or key in seen:
            continue
        seen.add(key)
        queries.append(query)
        if len(queries) == MAX_EXPANSIONS:
            break
    return queries


def _key(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?.!")


async def expand_query(
    backend: LLMBackend, model: str, question: str, timeout_s: float
) -> list[str]:
    """Up to MAX_EXPANSIONS rewordings of `question` by `model`; [] if it fails or is too slow."""
    question = " ".join(question.split())[:QUESTION_MAX_CHARS]
    cached = _cache.get((model, question))
    if cached is not None:
        _cache.move_to_end((model, question))
        return list(cached)
    messages = [ChatMessage("system", INSTRUCTION), ChatMessage("user", question)]
    parts: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in backend.stream_chat(model, messages):
                parts.append(chunk.content)
    except (LLMError, TimeoutError) as exc:
        log.info("documents.expansion_skipped", model=model, error=str(exc) or type(exc).__name__)
        return []
    queries = parse_expansions("".join(parts), question)
    _cache[(model, question)] = queries
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    log.info("documents.expanded", model=model, queries=len(queries))
    return list(queries)
