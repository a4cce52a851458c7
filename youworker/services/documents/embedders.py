"""Text embedders (dense vectors) and BM25-style sparse term weights for hybrid retrieval.

Two dense embedders share one protocol: all-MiniLM-L6-v2 (int8 ONNX, on onnxruntime's CPU
provider, no network) and a user's Ollama `/api/embed`. Vectors of different embedders never
share a collection, so each embedder names its collections with `key` (embedder + dimension).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from youworker.logging import get_logger
from youworker.services.documents.minilm_model import (
    ModelMissing,
    packaged_model_path,
    prepared_model_path,
)
from youworker.services.documents.tokenizer import encode_batch, get_tokenizer, load_tokenizer
from youworker.services.llm.base import LLMError
from youworker.services.llm.hosts import has_model
from youworker.services.llm.ollama import OllamaBackend
from youworker.settings import LLMSettings, Settings

# numpy, onnxruntime and tokenizers are imported where vectors are computed: a backend that
# neither ingests nor searches never loads them.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from onnxruntime import InferenceSession
    from tokenizers import Encoding, Tokenizer

    from youworker.services.llm.provider import ProviderStatus

    FloatArray = npt.NDArray[np.float32]

logger = get_logger(__name__)

# (token ids ascending, weights): what ChunkPoint.sparse and the vector stores take.
SparseTerms = tuple[list[int], list[float]]

MINILM_NAME = "minilm-int8"
MINILM_DIMENSION = 384
# all-MiniLM-L6-v2 was trained on 128 tokens and sentence-transformers truncates at 256.
MINILM_MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 32
# Padded tokens per inference: long passages go 8 at a time, short ones up to the batch size.
# Measured on 600 manual passages: 56 passages/s at 426 MB for the whole process, where 32
# passages a batch whatever their length took 51/s at 1.4 GB (onnxruntime keeps the largest
# activations it has ever needed).
TOKENS_PER_BATCH = 2048
PROBE_TEXT = "dimension probe"

# BM25 document-side parameters. The IDF factor is applied by the vector store (Qdrant's
# `modifier=idf` on the sparse vector), so only term-frequency saturation happens here; the
# average length is fixed because the corpus-wide average is unknown when a chunk is embedded.
BM25_K1 = 1.2
BM25_B = 0.75
BM25_AVG_TOKENS = 256.0

# Function words that carry no topic; IDF would shrink them anyway, but in a small collection
# their IDF is not small yet and they would let "how do I ..." queries match everything.
_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_KEY_UNSAFE = re.compile(r"[^a-z0-9._-]+")


class EmbedderError(RuntimeError):
    """An embedder could not load or answer; the message is meant for the user."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into dense vectors of one fixed dimension."""

    @property
    def name(self) -> str:
        """Which model, e.g. "minilm-int8" or "ollama:embeddinggemma"."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    @property
    def key(self) -> str:
        """Collection key: embedder and dimension, safe as a directory or collection name."""
        ...

    @property
    def max_input_tokens(self) -> int | None:
        """Longest passage (MiniLM tokenizer tokens) read whole; None when no limit is known."""
        ...

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (batched internally)."""
        ...


def collection_key(name: str, dimension: int) -> str:
    """A key safe for paths and collection names; a hash keeps distinct names distinct."""
    lowered = name.lower()
    slug = _KEY_UNSAFE.sub("-", lowered).strip("-.") or "embedder"
    if slug != lowered:
        slug = f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return f"{slug}-{dimension}"


# -- ONNX all-MiniLM-L6-v2 ---------------------------------------------------------------------


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime; mean pooling + L2 norm as in sentence-transformers.

    With a `cache_dir` it runs the int8-quantized copy made by minilm_model (1.6x faster).
    Activations are quantized per batch, so a passage's vector varies slightly with its batch
    (cosine >= 0.97 to the one it gets alone).
    """

    name = MINILM_NAME
    dimension = MINILM_DIMENSION
    key = collection_key(MINILM_NAME, MINILM_DIMENSION)
    # [CLS] and [SEP] take two of the 256 positions.
    max_input_tokens: int | None = MINILM_MAX_TOKENS - 2

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        cache_dir: Path | None = None,
        intra_op_threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        tokens_per_batch: int = TOKENS_PER_BATCH,
    ) -> None:
        if batch_size < 1 or tokens_per_batch < MINILM_MAX_TOKENS:
            raise ValueError(f"batch_size must be >= 1 and tokens_per_batch >= {MINILM_MAX_TOKENS}")
        self.model_path = model_path
        self.cache_dir = cache_dir
        self.intra_op_threads = intra_op_threads or os.cpu_count() or 1
        self.batch_size = batch_size
        self.tokens_per_batch = tokens_per_batch
        self.model_file = ""  # the file loaded, once loaded
        self._session: InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._load_lock = threading.Lock()
        # One inference at a time: each run already uses every configured core, and parallel
        # runs would only oversubscribe them.
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        """Load the model and tokenizer (blocking; the first load ever also prepares the model)."""
        with self._load_lock:
            if self._session is not None:
                return
            if self.model_path is not None:
                path = self.model_path
            else:
                try:
                    packaged = packaged_model_path()
                except ModelMissing as exc:
                    raise EmbedderError(str(exc)) from exc
                path = packaged
                if self.cache_dir is not None:
                    path = prepared_model_path(packaged, self.cache_dir)
            try:
                session = self._open(path)
            except EmbedderError:
                if self.model_path is not None or path == packaged:
                    raise
                # A damaged cached copy: drop it (the next start prepares it again) and go on.
                logger.warning("embedder.prepared_unreadable", path=str(path))
                path.unlink(missing_ok=True)
                path = packaged
                session = self._open(path)
            tokenizer = load_tokenizer()
            tokenizer.enable_truncation(max_length=MINILM_MAX_TOKENS)
            self._tokenizer = tokenizer
            self._session = session
            self.model_file = path.name
            logger.info(
                "embedder loaded", embedder=self.name, path=str(path), threads=self.intra_op_threads
            )

    def _open(self, path: Path) -> InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Memory patterns are planned per input shape; passages come in every length, so the
        # plans only add up (1.4 GB -> 0.9 GB without them, at the same speed).
        options.enable_mem_pattern = False
        # Idle intra-op threads would otherwise spin for a while after every batch, taking
        # the cores that parsing, upserts and the web server need between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            return ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbedderError(f"Could not load the embedding model {path}: {exc}") from exc

    def _batches(self, texts: list[str]) -> list[list[tuple[int, Encoding]]]:
        """Texts tokenized once, grouped by length within the token and passage budgets."""
        assert self._tokenizer is not None
        encodings = self._tokenizer.encode_batch(texts)
        # Similar lengths in one batch waste little compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches: list[list[tuple[int, Encoding]]] = []
        current: list[tuple[int, Encoding]] = []
        for index in order:
            length = len(encodings[index].ids)
            fits = (len(current) + 1) * length <= self.tokens_per_batch
            if current and (len(current) == self.batch_size or not fits):
                batches.append(current)
                current = []
            current.append((index, encodings[index]))
        if current:
            batches.append(current)
        return batches

    def encode(self, texts: list[str]) -> FloatArray:
        """Blocking: unit vectors as a (len(texts), 384) array; run it in a worker thread."""
        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        self.load()
        for batch in self._batches(texts):
            out[[index for index, _ in batch]] = self._run([e for _, e in batch])
        return out

    def _run(self, encodings: list[Encoding]) -> FloatArray:
        import numpy as np

        assert self._session is not None
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        with self._run_lock:
            (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text; tokenizing and every batch run in a worker thread."""
        if not texts:
            return []
        if self._session is None:
            await asyncio.to_thread(self.load)
        vectors: list[list[float]] = [[] for _ in texts]
        for batch in await asyncio.to_thread(self._batches, texts):
            computed = await asyncio.to_thread(self._run, [e for _, e in batch])
            for (index, _), vector in zip(batch, computed.tolist(), strict=True):
                vectors[index] = vector
        return vectors


@lru_cache(maxsize=1)
def get_onnx_embedder() -> OnnxMiniLMEmbedder:
    """The process-wide built-in embedder (the model loads on first use)."""
    from youworker.settings import get_settings

    return OnnxMiniLMEmbedder(cache_dir=get_settings().model_cache_dir)


# -- Ollama ------------------------------------------------------------------------------------


class OllamaEmbedder:
    """A model on the user's Ollama server; the dimension is learned from one probe."""

    # Ollama's embedding models read 512 to 8k tokens; chunk size alone bounds passages.
    max_input_tokens: int | None = None

    def __init__(self, backend: OllamaBackend, model: str, dimension: int | None = None) -> None:
        # "name" and "name:latest" are the same model: one collection for both spellings.
        self.model = model.removesuffix(":latest")
        self.backend = backend
        self._dimension = dimension
        self._probe_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return f"ollama:{self.model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise EmbedderError(f"{self.name}: dimension unknown until probe() or embed() ran")
        return self._dimension

    @property
    def key(self) -> str:
        return collection_key(self.name, self.dimension)

    async def probe(self) -> int:
        """Embed one probe string (once) and return the dimension."""
        async with self._probe_lock:
            if self._dimension is None:
                await self.embed([PROBE_TEXT])
        return self.dimension

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, through OllamaBackend.embed (batched there)."""
        if not texts:
            return []
        try:
            vectors = await self.backend.embed(self.model, texts)
        except LLMError as exc:
            raise EmbedderError(exc.message) from exc
        sizes = {len(vector) for vector in vectors}
        expected = self._dimension or (sizes.pop() if len(sizes) == 1 else None)
        if expected is None or any(len(vector) != expected for vector in vectors):
            raise EmbedderError(
                f"{self.name} returned vectors of sizes {sorted({len(v) for v in vectors})}"
                + (f", expected {self._dimension}" if self._dimension else "")
            )
        self._dimension = expected
        return vectors


# -- selection ---------------------------------------------------------------------------------


def embed_model_served(status: ProviderStatus, model: str) -> bool | None:
    """Whether a reachable host has `model` (None: no host was probed, only reachability)."""
    if not status.ollama_reachable:
        return False
    probed = [host for host in status.hosts if host.reachable is not None]
    return any(host.up and host.has_model(model) for host in probed) if probed else None


async def choose_embedder(
    settings: Settings | LLMSettings,
    provider_status: ProviderStatus,
    *,
    ollama: OllamaBackend | None = None,
    fallback: Embedder | None = None,
    probe_seconds: float = 30.0,
) -> Embedder:
    """Ollama's LLM__EMBED_MODEL when a reachable Ollama host has it, else the built-in model.

    `ollama` is the provider's pooled backend in the app, so the embeddings come from a healthy
    host that has the model. Collections are keyed by embedder, so callers should choose once
    (at start-up or when the hosts change) rather than per request: documents embedded by one
    embedder are not searchable with the other until they are re-indexed.
    """
    llm = settings.llm if isinstance(settings, Settings) else settings
    builtin = fallback or get_onnx_embedder()
    if llm.provider == "embedded" or embed_model_served(provider_status, llm.embed_model) is False:
        return builtin
    backend = ollama or OllamaBackend(llm.ollama_hosts[0])
    try:
        # Generous: the probe embedding may have to load the model into Ollama first.
        async with asyncio.timeout(probe_seconds):
            names = [model.name for model in await backend.list_models()]
            if not has_model(names, llm.embed_model):
                logger.info(
                    "ollama embed model not pulled; using built-in embedder",
                    embed_model=llm.embed_model,
                    embedder=builtin.name,
                )
                return builtin
            embedder = OllamaEmbedder(backend, llm.embed_model)
            await embedder.probe()
    except (LLMError, EmbedderError, TimeoutError) as exc:
        logger.warning(
            "ollama embedder unavailable; using built-in embedder",
            embed_model=llm.embed_model,
            error=str(exc) or exc.__class__.__name__,
        )
        return builtin
    logger.info("embedder selected", embedder=embedder.name, dimension=embedder.dimension)
    return embedder


# -- sparse (BM25-style) -----------------------------------------------------------------------


@lru_cache(maxsize=1)
def _indexable_tokens() -> npt.NDArray[np.bool_]:
    """Per token id: does it carry meaning (not special, punctuation or a stopword)?"""
    import numpy as np

    tokenizer = get_tokenizer()
    keep = np.zeros(tokenizer.get_vocab_size(), dtype=np.bool_)
    for token, token_id in tokenizer.get_vocab().items():
        word = token.removeprefix("##")
        keep[token_id] = (
            not (token.startswith("[") and token.endswith("]"))
            and any(ch.isalnum() for ch in word)
            and token not in STOPWORDS
        )
    return keep


def _weights(ids: list[int], query: bool) -> SparseTerms:
    keep = _indexable_tokens()
    counts = Counter(i for i in ids if 0 <= i < keep.shape[0] and keep[i])
    if not counts:
        return [], []
    indices = sorted(counts)
    if query:
        # Each query term counts once; Qdrant multiplies it by the term's IDF.
        return indices, [1.0] * len(indices)
    length = sum(counts.values())
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / BM25_AVG_TOKENS)
    values = [counts[i] * (BM25_K1 + 1.0) / (counts[i] + norm) for i in indices]
    return indices, values


def sparse_vector(text: str, *, query: bool = False) -> SparseTerms:
    """BM25 term weights of `text` over MiniLM token ids (IDF is left to the vector store).

    Documents get saturated term frequencies, `tf*(k1+1) / (tf + k1*(1-b+b*len/256))`; queries
    (`query=True`) weigh each distinct term 1.0. The whole text counts (no 256-token cut).
    """
    return sparse_vectors([text], query=query)[0]


def sparse_vectors(texts: list[str], *, query: bool = False) -> list[SparseTerms]:
    """sparse_vector() for many texts at once (the tokenizer batches in native threads)."""
    if not texts:
        return []
    return [_weights(encoding.ids, query) for encoding in encode_batch(texts)]


class EmbedderSelector:
    """The embedder to use now: chosen once, and again whenever the Ollama hosts that could
    serve it come or go."""

    def __init__(
        self,
        settings: Settings | LLMSettings,
        status: Callable[[], ProviderStatus],
        ollama: OllamaBackend,
    ) -> None:
        self.settings = settings
        self._llm = settings.llm if isinstance(settings, Settings) else settings
        self._status = status
        self._ollama = ollama
        self._chosen: Embedder | None = None
        self._served: bool | None = None
        self._lock = asyncio.Lock()

    def _serving(self) -> tuple[ProviderStatus, bool | None]:
        status = self._status()
        return status, embed_model_served(status, self._llm.embed_model)

    def known(self) -> Embedder | None:
        """The choice for the hosts' current state, if already made (never waits)."""
        if self._chosen is not None and self._serving()[1] == self._served:
            return self._chosen
        return None

    async def current(self) -> Embedder:
        chosen = self.known()
        if chosen is not None:
            return chosen
        async with self._lock:
            status, served = self._serving()
            if self._chosen is None or served != self._served:
                self._chosen = await choose_embedder(self.settings, status, ollama=self._ollama)
                self._served = served
            return self._chosen
