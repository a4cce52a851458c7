"""Benchmark 5: filtered hybrid retrieval on the embedded store, and the ONNX embedder's rate.

Target (issue 4): search with the access filter p95 <= 10 ms at 100,000 chunks on the embedded
store (p50 and p95 recorded at 10k and 100k). The store is seeded with random unit 384-d dense
vectors and Zipf-distributed sparse term weights (like BM25 over real text), 50 owners and 20
groups, then queried through the public async API (`EdgeVectorStore.search`, worker thread
included) as a user who owns some documents and belongs to 2 groups.

    .venv/bin/python -m bench.retrieval [--out PATH] [--quick] [--optimize]

`--quick` seeds 10,000 chunks only (so the 100,000-chunk target is not measured), with fewer
queries and sentences. `--optimize` also builds the HNSW index at the largest size and measures
again (~80 s more; the runner never passes it). `run()` returns the raw figures as a dict;
`main()` is the runner's entry point (BenchResult JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import BenchResult, bench_main, quiet_app_logs

SIZES = (10_000, 100_000)
QUICK_SIZES = (10_000,)
QUERIES = 200
QUICK_QUERIES = 50
WARMUP_QUERIES = 20
SENTENCES = 2_000
QUICK_SENTENCES = 200
OWNERS = 50
GROUPS = 20
CHUNKS_PER_DOCUMENT = 20
UPSERT_BATCH = 1_000
DIMENSION = 384
VOCABULARY = 30_522  # MiniLM's WordPiece vocabulary: sparse indices are its token ids
TERMS_PER_CHUNK = 120
TARGET_P95_MS = 10.0
TARGET_POINTS = 100_000  # the p95 target applies at this size; smaller sizes are recorded only
KEY = "bench-384"

_FILLER = (
    "the customer contract was renewed after the quarterly review of service levels and "
    "pricing our security policy requires two factor authentication for every administrator "
    "account the storage quota of each workspace is fifty gigabytes unless the plan says "
    "otherwise invoices are issued on the first business day of the month and are due within "
    "thirty days backups run nightly and are kept for fourteen days in a separate region the "
    "project timeline moved because the vendor delivered the network equipment late employees "
    "accrue vacation days monthly and unused days expire at the end of march"
)
_WORDS = _FILLER.split()


def _percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 200 samples is the 190th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 28))]
    if rng.random() < 0.3:
        words.insert(rng.randint(1, len(words) - 1), f"{rng.randint(2, 9999):,}")
    return " ".join(words).capitalize() + rng.choice("...?!")


class _Corpus:
    """Synthetic chunks shaped like real ones; documents, owners and sharing drawn once."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.py_rng = random.Random(seed)  # noqa: S311 - reproducible filler, not a secret
        self.texts = [
            " ".join(_sentence(self.py_rng) for _ in range(12))[:1_600] for _ in range(500)
        ]
        self.documents: list[tuple[str, str, list[str]]] = []

    def document(self, number: int) -> tuple[str, str, list[str]]:
        """(document id, owner, groups) of document `number`: 60% private, 30% 1 group, 10% 2."""
        while len(self.documents) <= number:
            draw = self.py_rng.random()
            shared = 0 if draw < 0.6 else 1 if draw < 0.9 else 2
            groups = self.py_rng.sample(range(GROUPS), shared)
            self.documents.append(
                (
                    str(uuid.uuid4()),
                    f"user-{self.py_rng.randrange(OWNERS)}",
                    [f"group-{g}" for g in groups],
                )
            )
        return self.documents[number]

    def dense(self, count: int) -> list[list[float]]:
        vectors = self.rng.standard_normal((count, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.tolist()

    def terms(self, count: int) -> list[int]:
        # Zipf over the vocabulary: a few very common terms, a long tail of rare ones.
        draws = self.rng.zipf(1.2, count * 2) % (VOCABULARY - 1000) + 1000
        return sorted({int(x) for x in draws[:count]})

    def sparse(self, count: int) -> list[tuple[list[int], list[float]]]:
        """`count` chunk vectors of ~TERMS_PER_CHUNK distinct terms (drawn in one go: fast)."""
        draws = self.rng.zipf(1.2, (count, TERMS_PER_CHUNK)) % (VOCABULARY - 1000) + 1000
        weights = self.rng.uniform(0.8, 2.0, (count, TERMS_PER_CHUNK))
        out = []
        for row, row_weights in zip(draws, weights, strict=True):
            indices, first = np.unique(row, return_index=True)
            out.append((indices.tolist(), row_weights[first].tolist()))
        return out


async def _seed(store: Any, corpus: _Corpus, start: int, stop: int) -> float:
    from youworker.services.documents.vectorstore import ChunkPoint

    began = time.perf_counter()
    for batch_start in range(start, stop, UPSERT_BATCH):
        batch_stop = min(batch_start + UPSERT_BATCH, stop)
        dense = corpus.dense(batch_stop - batch_start)
        sparse = corpus.sparse(batch_stop - batch_start)
        points = []
        for offset, number in enumerate(range(batch_start, batch_stop)):
            document_id, owner, groups = corpus.document(number // CHUNKS_PER_DOCUMENT)
            payload = {
                "document_id": document_id,
                "owner_id": owner,
                "group_ids": groups,
                "page": 1 + (number % CHUNKS_PER_DOCUMENT) // 2,
                "heading": f"Section {number % 7 + 1}",
                "text": corpus.texts[number % len(corpus.texts)],
                "chunk_index": number % CHUNKS_PER_DOCUMENT,
                "document_name": f"report-{number // CHUNKS_PER_DOCUMENT}.pdf",
            }
            points.append(
                ChunkPoint(str(uuid.UUID(int=number + 1)), dense[offset], sparse[offset], payload)
            )
        await store.upsert(KEY, points)
    return time.perf_counter() - began


async def _latencies(store: Any, corpus: _Corpus, access: Any, queries: int) -> dict[str, Any]:
    dense = corpus.dense(queries + WARMUP_QUERIES)
    samples: list[float] = []
    hits = 0
    for number in range(queries + WARMUP_QUERIES):
        terms = corpus.terms(corpus.py_rng.randint(3, 8))
        sparse = (terms, [1.0] * len(terms))
        began = time.perf_counter()
        found = await store.search(KEY, dense[number], sparse, access, 10)
        elapsed = time.perf_counter() - began
        if number >= WARMUP_QUERIES:
            samples.append(elapsed * 1000)
            hits += len(found)
        for hit in found:  # the filter is the engine's job; check it did it
            payload = hit.payload
            assert payload["owner_id"] == access.user_id or set(payload["group_ids"]) & set(
                access.group_ids
            ), "a search returned a chunk the user may not read"
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(_percentile(samples, 95), 3),
        "max_ms": round(max(samples), 3),
        "mean_hits": round(hits / queries, 2),
    }


def _disk_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20, 1)


def _readable(corpus: _Corpus, points: int, access: Any) -> int:
    """How many of the first `points` chunks the user may read (from the seeding plan)."""
    readable = 0
    for number in range(points):
        _, owner, groups = corpus.document(number // CHUNKS_PER_DOCUMENT)
        readable += owner == access.user_id or bool(set(groups) & set(access.group_ids))
    return readable


async def _retrieval(
    sizes: tuple[int, ...], queries: int, seed: int, optimize: bool
) -> dict[str, Any]:
    from youworker.services.documents.vectorstore import AccessFilter, EdgeVectorStore

    corpus = _Corpus(seed)
    user = AccessFilter("user-0", ["group-0", "group-1"])
    broad = AccessFilter("user-1", [f"group-{g}" for g in range(GROUPS)])
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        root = Path(tmp)
        store = EdgeVectorStore(root)
        await store.ensure_collection(KEY, DIMENSION)
        seeded = 0
        for size in sizes:
            seconds = await _seed(store, corpus, seeded, size)
            entry: dict[str, Any] = {
                "seed_seconds": round(seconds, 2),
                "seed_points_per_second": round((size - seeded) / seconds),
            }
            seeded = size
            entry["points"] = await store.count(KEY)
            entry["readable_by_user"] = _readable(corpus, size, user)
            entry["user"] = await _latencies(store, corpus, user, queries)
            entry["readable_by_broad_user"] = _readable(corpus, size, broad)
            entry["broad_user"] = await _latencies(store, corpus, broad, queries)
            entry["passed"] = entry["user"]["p95_ms"] <= TARGET_P95_MS
            results[str(size)] = entry
        if optimize:
            # Not done by the app (it holds the GIL for the whole build): what HNSW would add.
            began = time.perf_counter()
            await store.optimize(KEY)
            results["optimized"] = {
                "points": seeded,
                "optimize_seconds": round(time.perf_counter() - began, 1),
                "user": await _latencies(store, corpus, user, queries),
                "broad_user": await _latencies(store, corpus, broad, queries),
            }
        began = time.perf_counter()
        await store.close()
        store = EdgeVectorStore(root)
        await store.count(KEY)
        results["reopen_seconds"] = round(time.perf_counter() - began, 3)
        results["disk_mb"] = _disk_mb(root)
        await store.close()
    return results


def _embedder_throughput(sentences: int, seed: int) -> dict[str, Any]:
    from youworker.services.documents.embedders import OnnxMiniLMEmbedder
    from youworker.services.documents.tokenizer import get_tokenizer

    rng = random.Random(seed)  # noqa: S311 - reproducible filler, not a secret
    texts = [_sentence(rng) for _ in range(sentences)]
    embedder = OnnxMiniLMEmbedder()
    began = time.perf_counter()
    embedder.load()
    load_seconds = time.perf_counter() - began
    embedder.encode(texts[:64])  # warm-up: first runs allocate
    began = time.perf_counter()
    embedder.encode(texts)
    raw = time.perf_counter() - began
    began = time.perf_counter()
    asyncio.run(embedder.embed(texts))
    through_async = time.perf_counter() - began
    tokens = sum(len(e.ids) for e in get_tokenizer().encode_batch(texts))
    return {
        "sentences": sentences,
        "mean_tokens": round(tokens / sentences, 1),
        "batch_size": embedder.batch_size,
        "threads": embedder.intra_op_threads,
        "load_seconds": round(load_seconds, 3),
        "sentences_per_second": round(sentences / raw, 1),
        "async_sentences_per_second": round(sentences / through_async, 1),
    }


def run(
    sizes: tuple[int, ...] = SIZES,
    queries: int = QUERIES,
    sentences: int = SENTENCES,
    seed: int = 7,
    optimize: bool = False,
) -> dict[str, Any]:
    """Seed and query the embedded store at each size, then time the ONNX embedder."""
    retrieval = asyncio.run(_retrieval(sizes, queries, seed, optimize))
    return {
        "target_p95_ms": TARGET_P95_MS,
        "queries": queries,
        "retrieval": retrieval,
        "embedder": _embedder_throughput(sentences, seed),
        "passed": all(retrieval[str(size)]["passed"] for size in sizes),
    }


def report(data: dict[str, Any]) -> BenchResult:
    """The runner's record of one `run()`."""
    result = BenchResult("retrieval", "5. Retrieval with the access filter")
    retrieval, embedder, queries = data["retrieval"], data["embedder"], data["queries"]
    sizes = sorted(int(key) for key in retrieval if key.isdigit())
    target = f"<= {TARGET_P95_MS:g} ms at {TARGET_POINTS:,} chunks"
    for size in sizes:
        entry = retrieval[str(size)]
        judged = size == TARGET_POINTS
        p95 = entry["user"]["p95_ms"]
        result.add(f"{size:,} chunks: filtered hybrid search, p50", entry["user"]["p50_ms"], "ms")
        result.add(
            f"{size:,} chunks: filtered hybrid search, p95 of {queries}",
            p95,
            "ms",
            target if judged else "",
            p95 <= TARGET_P95_MS if judged else None,
        )
        result.add(
            f"{size:,} chunks: p95 for a user in all {GROUPS} groups",
            entry["broad_user"]["p95_ms"],
            "ms",
        )
        result.details.append(
            f"{size:,} chunks: seeded in {entry['seed_seconds']:.1f} s "
            f"({entry['seed_points_per_second']:,} chunks/s for this step); the user may read "
            f"{entry['readable_by_user']:,} of them (p50 {entry['user']['p50_ms']:.2f} ms, max "
            f"{entry['user']['max_ms']:.2f} ms, {entry['user']['mean_hits']:g} hits per query), "
            f"the user in every group {entry['readable_by_broad_user']:,} (p50 "
            f"{entry['broad_user']['p50_ms']:.2f} ms, max {entry['broad_user']['max_ms']:.2f} ms)."
        )
    optimized = retrieval.get("optimized")
    if optimized:
        result.add(
            f"{optimized['points']:,} chunks after `optimize` (HNSW built), p95",
            optimized["user"]["p95_ms"],
            "ms",
        )
        result.details.append(
            f"`optimize` at {optimized['points']:,} chunks took "
            f"{optimized['optimize_seconds']:.0f} s (the app does not run it)."
        )
    result.details.append(
        f"Reopening the store took {retrieval['reopen_seconds'] * 1000:.0f} ms; it used "
        f"{retrieval['disk_mb']:,.0f} MiB on disk at {sizes[-1]:,} chunks."
    )
    result.add(
        "ONNX MiniLM embedder, raw batched `encode`",
        embedder["sentences_per_second"],
        "sentences/s",
    )
    result.add(
        "ONNX MiniLM embedder through async `embed`",
        embedder["async_sentences_per_second"],
        "sentences/s",
    )
    result.details.append(
        f"Embedder: {embedder['sentences']:,} filler sentences (mean {embedder['mean_tokens']:g} "
        f"tokens), batches of {embedder['batch_size']}, {embedder['threads']} ONNX Runtime "
        f"thread(s), model loaded in {embedder['load_seconds']:.2f} s; one warm-up batch first."
    )
    result.details.append(
        "These are short sentences; passages of a real document are up to 254 tokens, so "
        "ingestion runs at a small fraction of this rate (benchmark 6 measures it end to end)."
    )
    result.method.extend(
        [
            f"One embedded store (`EdgeVectorStore`, qdrant-edge) in a temporary directory, "
            f"seeded in batches of {UPSERT_BATCH:,} to each size in turn ("
            + ", ".join(f"{size:,}" for size in sizes)
            + f" chunks): random unit {DIMENSION}-d dense vectors, sparse vectors of about "
            f"{TERMS_PER_CHUNK} Zipf-distributed term ids (like BM25 over real text), "
            f"{CHUNKS_PER_DOCUMENT} chunks per document; each document has one of {OWNERS} "
            f"owners and is private (60 %), shared with 1 group (30 %) or 2 groups (10 %) of "
            f"{GROUPS}. No HNSW index is built (the app does not build one).",
            f"Each query (`EdgeVectorStore.search`, top 10, dense + sparse fused by RRF under "
            f"the access filter, worker thread included) uses a random dense vector and 3-8 "
            f"query terms; {WARMUP_QUERIES} warm-up queries, then {queries} timed, for a user "
            f"who owns some documents and is in 2 groups and for a user in all {GROUPS} groups. "
            "Every hit is checked against the filter.",
            f"The p95 target applies at {TARGET_POINTS:,} chunks; smaller sizes are recorded only.",
            "The embedder (`OnnxMiniLMEmbedder`, the int8 all-MiniLM-L6-v2 model) encodes "
            f"{embedder['sentences']:,} filler sentences once with `encode` (raw, batched) and "
            "once through the async `embed` the app calls.",
        ]
    )
    if TARGET_POINTS not in sizes:
        result.notes.append(
            f"Quick run: {', '.join(f'{size:,}' for size in sizes)} chunks only, so the target "
            f"at {TARGET_POINTS:,} chunks was not measured."
        )
    return result


def bench(args: argparse.Namespace) -> list[BenchResult]:
    quiet_app_logs()
    optimize = bool(getattr(args, "optimize", False))
    if args.quick:
        data = run(QUICK_SIZES, QUICK_QUERIES, QUICK_SENTENCES, optimize=optimize)
    else:
        data = run(optimize=optimize)
    return [report(data)]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="also build the HNSW index at the largest size and measure again (~80 s more)",
    )


def main() -> None:
    bench_main(bench, (__doc__ or "").splitlines()[0], _options)


if __name__ == "__main__":
    main()
