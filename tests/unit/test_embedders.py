"""Embedders: the built-in ONNX MiniLM, Ollama's /api/embed, the selector and sparse weights."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tests.ollama_server import OllamaTestServer, ServerConfig, embed_vector
from youworker.services.documents.embedders import (
    BM25_AVG_TOKENS,
    MINILM_DIMENSION,
    Embedder,
    EmbedderError,
    OllamaEmbedder,
    OnnxMiniLMEmbedder,
    choose_embedder,
    collection_key,
    get_onnx_embedder,
    sparse_vector,
    sparse_vectors,
)
from youworker.services.documents.minilm_model import packaged_model_path
from youworker.services.documents.tokenizer import get_tokenizer
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.llm.provider import ProviderStatus
from youworker.settings import LLMSettings

SENTENCES = [
    "How do I reset my password?",
    "Forgot your password? Use the reset link on the sign-in page.",
    "The quarterly revenue grew by twelve percent.",
    "Cats are small domesticated carnivorous mammals.",
    "",
    "A much longer sentence about the storage quota of the workspace. " * 40,
]
EMBED_DIM = 12


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def onnx() -> OnnxMiniLMEmbedder:
    return get_onnx_embedder()


# -- ONNX --------------------------------------------------------------------------------------


async def test_onnx_vectors_are_384_d_unit_vectors(onnx: OnnxMiniLMEmbedder) -> None:
    vectors = await onnx.embed(SENTENCES)
    assert len(vectors) == len(SENTENCES)
    assert {len(v) for v in vectors} == {MINILM_DIMENSION} == {onnx.dimension}
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.name == "minilm-int8"
    assert onnx.key == "minilm-int8-384"
    assert isinstance(onnx, Embedder)
    assert await onnx.embed([]) == []


async def test_onnx_similar_texts_are_closer_than_unrelated_ones(
    onnx: OnnxMiniLMEmbedder,
) -> None:
    question, answer, revenue, cats = await onnx.embed(SENTENCES[:4])
    assert cosine(question, answer) > 0.5
    assert cosine(question, answer) > cosine(question, revenue) + 0.3
    assert cosine(question, answer) > cosine(question, cats) + 0.3


async def test_packaged_model_batches_match_one_by_one() -> None:
    packaged = OnnxMiniLMEmbedder()  # no cache folder: the float32 packaged model
    batched = await packaged.embed(SENTENCES)
    single = [(await packaged.embed([text]))[0] for text in SENTENCES]
    assert np.allclose(batched, single, atol=1e-4)
    small_batches = OnnxMiniLMEmbedder(batch_size=2, tokens_per_batch=256)
    assert np.allclose(await small_batches.embed(SENTENCES), batched, atol=1e-4)
    assert np.allclose(packaged.encode(SENTENCES), batched, atol=1e-6)
    assert packaged.model_file == "model.onnx"


async def test_prepared_model_vectors_barely_depend_on_the_batch(
    onnx: OnnxMiniLMEmbedder,
) -> None:
    batched = np.asarray(await onnx.embed(SENTENCES))
    single = np.asarray([(await onnx.embed([text]))[0] for text in SENTENCES])
    assert onnx.model_file.endswith(".onnx") and onnx.model_file != "model.onnx"
    assert (batched * single).sum(axis=1).min() > 0.96  # activations are quantized per batch
    assert np.allclose(onnx.encode(SENTENCES), batched, atol=1e-6)


def test_batches_keep_to_the_token_and_passage_budgets() -> None:
    embedder = OnnxMiniLMEmbedder(batch_size=4, tokens_per_batch=512)
    embedder.load()
    texts = ["short one"] * 9 + ["a long passage about quotas " * 60] * 5
    batches = embedder._batches(texts)
    assert sorted(index for batch in batches for index, _ in batch) == list(range(len(texts)))
    for batch in batches:
        width = max(len(encoding.ids) for _, encoding in batch)
        assert len(batch) <= 4 and len(batch) * width <= 512
    assert [len(batch) for batch in batches] == [4, 4, 2, 2, 2]


async def test_onnx_runs_off_the_event_loop(
    onnx: OnnxMiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []
    run_batch = onnx._run

    def recording(encodings: list[Any]) -> np.ndarray:
        threads.append(threading.get_ident())
        return run_batch(encodings)

    monkeypatch.setattr(onnx, "_run", recording)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    texts = [f"{sentence} ({n})" for n in range(16) for sentence in SENTENCES[:4]]
    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        await onnx.embed(texts)
    finally:
        task.cancel()
    assert threads and loop_thread not in threads
    assert len(threads) == len(onnx._batches(texts))  # one worker call per batch
    gaps = np.diff(ticks)
    assert len(ticks) > 3 and gaps.max() < 0.25


def test_onnx_truncates_at_256_tokens(onnx: OnnxMiniLMEmbedder) -> None:
    head = "Passwords are reset from the sign-in page. " * 40  # well over 256 tokens
    same_head = onnx.encode([head, head + "Unrelated tail about cats and revenue. " * 20])
    assert np.allclose(same_head[0], same_head[1], atol=1e-5)


def test_the_model_file_ships_in_the_wheel() -> None:
    path = packaged_model_path()
    assert path.name == "model.onnx" and path.stat().st_size > 10_000_000


def test_onnx_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        OnnxMiniLMEmbedder(batch_size=0)
    with pytest.raises(ValueError):
        OnnxMiniLMEmbedder(tokens_per_batch=100)  # one whole passage must fit
    assert OnnxMiniLMEmbedder(intra_op_threads=1).intra_op_threads == 1
    assert not OnnxMiniLMEmbedder().loaded  # lazy: nothing loads before the first embed


# -- sparse ------------------------------------------------------------------------------------


def token_id(token: str) -> int:
    found = get_tokenizer().token_to_id(token)
    assert found is not None, token
    return found


def test_sparse_vector_is_deterministic_with_positive_weights() -> None:
    text = "Reset your password from the sign-in page; the password reset link expires."
    indices, values = sparse_vector(text)
    assert (indices, values) == sparse_vector(text)
    assert indices == sorted(set(indices))
    assert len(indices) == len(values) and all(v > 0 for v in values)
    weights = dict(zip(indices, values, strict=True))
    password, reset, page = token_id("password"), token_id("reset"), token_id("page")
    # Repeated terms weigh more, but saturate (BM25's k1): twice is less than double.
    assert weights[page] < weights[password] < 2 * weights[page]
    assert weights[reset] == pytest.approx(weights[password])
    # Stopwords and punctuation carry no weight.
    for dropped in ("the", "your", ";", ".", "[CLS]", "[SEP]"):
        assert token_id(dropped) not in weights


def test_sparse_query_weights_are_flat_and_documents_saturate() -> None:
    indices, values = sparse_vector("reset reset reset password", query=True)
    assert values == [1.0, 1.0] and len(indices) == 2
    short = dict(zip(*sparse_vector("password"), strict=True))
    long = dict(
        zip(*sparse_vector("password " + "filler " * int(BM25_AVG_TOKENS * 2)), strict=True)
    )
    assert (
        long[token_id("password")] < short[token_id("password")]
    )  # length normalisation (BM25's b)


def test_sparse_vector_edge_cases() -> None:
    assert sparse_vector("") == ([], [])
    assert sparse_vector("... the, and; of!") == ([], [])
    # No 256-token cut: a term at the end of a long chunk still counts.
    long_text = "lorem ipsum dolor " * 300 + "zeppelin"
    assert token_id("zeppelin") in sparse_vector(long_text)[0]
    texts = ["Reset the password", "", "Quarterly revenue"]
    assert sparse_vectors(texts) == [sparse_vector(t) for t in texts]
    assert sparse_vectors(texts, query=True) == [sparse_vector(t, query=True) for t in texts]
    assert sparse_vectors([]) == []


def test_collection_keys_are_safe_and_distinct() -> None:
    assert collection_key("minilm-int8", 384) == "minilm-int8-384"
    colon = collection_key("ollama:embeddinggemma:300m", 768)
    dashed = collection_key("ollama-embeddinggemma-300m", 768)
    assert colon != dashed and colon.endswith("-768")
    for key in (colon, dashed, collection_key("../../etc/passwd", 8), collection_key("Ü/ä", 8)):
        assert "/" not in key and ".." not in key and key == key.lower()


# -- Ollama ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaTestServer]:
    with OllamaTestServer(config=ServerConfig(embed_dim=EMBED_DIM)) as srv:
        yield srv


@pytest.fixture
async def backend(server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    llm = OllamaBackend(server.url, timeout=10)
    yield llm
    await llm.aclose()


async def test_ollama_embedder_learns_the_servers_dimension(backend: OllamaBackend) -> None:
    embedder = OllamaEmbedder(backend, "test-embed:latest")
    with pytest.raises(EmbedderError, match="dimension"):
        _ = embedder.dimension
    assert await embedder.probe() == EMBED_DIM
    assert embedder.name == "ollama:test-embed"
    assert re.fullmatch(rf"ollama-test-embed-[0-9a-f]{{8}}-{EMBED_DIM}", embedder.key)
    texts = [f"text {n}" for n in range(70)]  # more than one Ollama batch
    vectors = await embedder.embed(texts)
    assert np.allclose(vectors, [embed_vector(t, EMBED_DIM) for t in texts])
    assert isinstance(embedder, Embedder)


async def test_ollama_embedder_errors_are_embedder_errors(backend: OllamaBackend) -> None:
    with pytest.raises(EmbedderError, match="not available"):
        await OllamaEmbedder(backend, "no-such-model").embed(["x"])
    wrong_size = OllamaEmbedder(backend, "test-embed", dimension=EMBED_DIM + 1)
    with pytest.raises(EmbedderError, match="expected"):
        await wrong_size.embed(["x"])


def status(reachable: bool) -> ProviderStatus:
    return ProviderStatus(
        "ollama" if reachable else "embedded", reachable, datetime.now(UTC), "test"
    )


def settings_for(url: str, embed_model: str, provider: str = "auto") -> LLMSettings:
    return LLMSettings.model_validate(
        {"ollama_base_url": url, "embed_model": embed_model, "provider": provider}
    )


async def test_choose_embedder_prefers_ollama_when_it_has_the_model(
    server: OllamaTestServer, backend: OllamaBackend
) -> None:
    builtin = OnnxMiniLMEmbedder()
    chosen = await choose_embedder(
        settings_for(server.url, "test-embed"), status(True), ollama=backend, fallback=builtin
    )
    assert isinstance(chosen, OllamaEmbedder)
    assert chosen.dimension == EMBED_DIM
    for settings, reachable in (
        (settings_for(server.url, "not-pulled"), True),
        (settings_for(server.url, "test-embed"), False),
        (settings_for(server.url, "test-embed", provider="embedded"), True),
        (settings_for("http://127.0.0.1:9", "test-embed"), True),  # went away since the probe
    ):
        other = OllamaBackend(str(settings.ollama_base_url), timeout=2)
        try:
            picked = await choose_embedder(
                settings, status(reachable), ollama=other, fallback=builtin
            )
        finally:
            await other.aclose()
        assert picked is builtin
    assert not builtin.loaded  # choosing never loads the model
