"""The built-in embedder's relevance floor separates questions about a text from the rest.

Below `RELEVANCE_FLOORS` the search finds nothing, so "Use my documents" says it has no source
instead of citing unrelated passages. Measured with the real model on the test handbook's pages
and two unrelated ones; a new built-in embedder fails here until its floor is measured.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.files import PAGE_ONE, PAGE_TWO
from youworker.services.documents.embedders import MINILM_NAME, get_onnx_embedder
from youworker.services.documents.retrieval import RELEVANCE_FLOORS
from youworker.services.documents.vectorstore import cosine

PASSAGES = [
    PAGE_ONE,
    PAGE_TWO,
    "To install the package run pip install youworker, then start the server with make run.",
    "Quarterly revenue grew 12 percent, driven by strong sales in the northern region.",
]
ABOUT_THEM = [
    "How much is the meal allowance on business trips?",
    "What are the office hours?",
    "per diem for travel",
    "can I book a room for a meeting",
    "How do I install it?",
    "how did sales do last quarter",
    "What does the document say?",
    "Summarize my documents",
]
UNRELATED = [
    "Hello! What can you do?",
    "What is the capital of France?",
    "Write me a poem about the sea",
    "What is 2+2?",
    "Explain quantum entanglement",
    "Who won the world cup in 2018?",
]


async def _closest() -> dict[str, float]:
    embedder = get_onnx_embedder()
    stored = await embedder.embed(PASSAGES)
    norms = [float(np.linalg.norm(v)) for v in stored]
    unit = [[x / n for x in v] for v, n in zip(stored, norms, strict=True)]
    questions = ABOUT_THEM + UNRELATED
    asked = await embedder.embed(questions)
    return {q: max(cosine(a, v) for v in unit) for q, a in zip(questions, asked, strict=True)}


@pytest.fixture(scope="module")
def closest() -> dict[str, float]:
    """Each question's cosine to its closest passage."""
    return asyncio.run(_closest())


@pytest.mark.parametrize("question", ABOUT_THEM)
def test_a_question_about_the_passages_clears_the_floor(
    closest: dict[str, float], question: str
) -> None:
    assert closest[question] >= RELEVANCE_FLOORS[MINILM_NAME]


@pytest.mark.parametrize("question", UNRELATED)
def test_an_unrelated_question_stays_under_the_floor(
    closest: dict[str, float], question: str
) -> None:
    assert closest[question] < RELEVANCE_FLOORS[MINILM_NAME]


def test_cosine_reads_named_and_plain_vectors() -> None:
    assert cosine([2.0, 0.0], {"dense": [1.0, 0.0]}) == pytest.approx(1.0)
    assert cosine([0.0, 3.0], [1.0, 0.0]) == pytest.approx(0.0)
    assert cosine([1.0, 0.0], None) == 0.0
