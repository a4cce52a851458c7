"""Benchmark 5b: does search find the page of a real manual that answers a user's question?

The manual is Debian's `postgresql-doc-15` (1,173 HTML pages; `make bench` installs it) and the
questions are bench/retrieval_eval/postgresql15.json, written before any tuning (its `how_made`
says how). Every page goes through the app's own parser and chunker and is embedded by the
built-in embedder exactly as ingestion embeds it (`ingest.passage_text`); the vectors are cached
under bench/results/, so only the first run pays for embedding the manual.

Three searches are compared at the page level (a page counts once, at its best passage):
plain BM25 over whole pages, dense vectors only, and YouWorker's pipeline (the embedded Qdrant
store's hybrid search, as `search_passages` runs it). Figures: hit@1, hit@5, hit@10 and MRR.
The relevance floor is checked too: how many answerable questions it would turn away and how
many unanswerable ones it lets through.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import BenchResult, bench_main, quiet_app_logs
from bench.launcher import REPO_ROOT, RESULTS_DIR

QUESTIONS = REPO_ROOT / "bench" / "retrieval_eval" / "postgresql15.json"
CACHE_DIR = RESULTS_DIR / "cache"
OWNER = "00000000-0000-0000-0000-0000000000aa"
DEPTH = 50  # passages read per question; pages below this rank count as missed
TARGET_HIT5 = 90.0
TARGET_HIT1 = 65.0
_WORD = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class Passage:
    page: str  # the manual's file name, e.g. "functions-admin.html"
    text: str  # as embedded


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    pages: frozenset[str]


def load_questions(path: Path = QUESTIONS) -> tuple[dict[str, Any], list[Question], list[str]]:
    data = json.loads(path.read_text())
    asked = [Question(q["id"], q["question"], frozenset(q["pages"])) for q in data["questions"]]
    return data, asked, [u["question"] for u in data.get("unanswerable", [])]


def read_manual(root: Path) -> tuple[dict[str, str], list[Passage], float]:
    """Each page's text and passages, through the app's parser and chunker; parse seconds."""
    from youworker.services.documents.chunking import chunk_document
    from youworker.services.documents.embedders import get_onnx_embedder
    from youworker.services.documents.ingest import chunking_options, passage_text
    from youworker.services.documents.parsing import parse_as
    from youworker.settings import DocumentSettings

    options = chunking_options(DocumentSettings(), get_onnx_embedder())
    pages: dict[str, str] = {}
    passages: list[Passage] = []
    began = time.perf_counter()
    for path in sorted(root.glob("*.html")):
        parsed = parse_as("html", path.read_bytes(), path.name)
        pages[path.name] = "\n".join(page.text for page in parsed.pages)
        for chunk in chunk_document(parsed, options):
            passages.append(Passage(path.name, passage_text(chunk, parsed.title)))
    return pages, passages, time.perf_counter() - began


def embed_cached(texts: list[str]) -> tuple[npt.NDArray[np.float32], float | None]:
    """Unit vectors of `texts` by the built-in embedder; seconds spent (None: from the cache)."""
    from youworker.services.documents.embedders import get_onnx_embedder

    embedder = get_onnx_embedder()
    embedder.load()  # the model file it runs (packaged or prepared) is part of the cache key
    identity = [embedder.key, embedder.model_file]
    digest = hashlib.sha256("\x00".join([*identity, *texts]).encode()).hexdigest()[:16]
    cached = CACHE_DIR / f"manual-{digest}.npy"
    if cached.exists():
        return np.load(cached), None
    began = time.perf_counter()
    vectors = np.asarray(asyncio.run(embedder.embed(texts)), dtype=np.float32)
    seconds = time.perf_counter() - began
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    return vectors, seconds


# -- the three searches, each answering with pages best first ------------------------------------


def bm25_pages(pages: dict[str, str]) -> Callable[[str], list[str]]:
    """Plain BM25 (k1 1.2, b 0.75) over whole pages, lower-cased word tokens."""
    names = list(pages)
    counts = [Counter(_WORD.findall(pages[name].lower())) for name in names]
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
    average = float(lengths.mean())
    frequency: Counter[str] = Counter()
    for c in counts:
        frequency.update(c.keys())
    total = len(names)

    def search(question: str) -> list[str]:
        scores = np.zeros(total)
        for term in set(_WORD.findall(question.lower())):
            if term not in frequency:
                continue
            idf = math.log(1 + (total - frequency[term] + 0.5) / (frequency[term] + 0.5))
            tf = np.array([c.get(term, 0) for c in counts], dtype=np.float64)
            scores += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * lengths / average))
        order = np.argsort(-scores)[:DEPTH]
        return [names[i] for i in order if scores[i] > 0]

    return search


def first_pages(ranked_pages: Sequence[str]) -> list[str]:
    """Pages in the order of their best passage."""
    return list(dict.fromkeys(ranked_pages))


def dense_pages(
    passages: list[Passage], vectors: npt.NDArray[np.float32], asked: npt.NDArray[np.float32]
) -> list[list[str]]:
    scores = asked @ vectors.T
    best = np.argsort(-scores, axis=1)[:, :DEPTH]
    return [first_pages([passages[i].page for i in row]) for row in best]


async def pipeline_pages(
    passages: list[Passage],
    vectors: npt.NDArray[np.float32],
    questions: list[str],
    asked: npt.NDArray[np.float32],
) -> tuple[list[list[str]], list[float]]:
    """YouWorker's hybrid search over the embedded store: pages, and each question's closest
    passage similarity (what the relevance floor reads)."""
    from youworker.services.documents.embedders import get_onnx_embedder, sparse_vectors
    from youworker.services.documents.vectorstore import AccessFilter, ChunkPoint, EdgeVectorStore

    key = get_onnx_embedder().key
    sparse = sparse_vectors([p.text for p in passages])
    queries = sparse_vectors(questions, query=True)
    ranked: list[list[str]] = []
    closest: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        store = EdgeVectorStore(Path(tmp))
        await store.ensure_collection(key, vectors.shape[1])
        points = [
            ChunkPoint(
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"{i}")),
                vectors[i].tolist(),
                sparse[i],
                {"document_id": p.page, "owner_id": OWNER, "group_ids": [], "text": p.text},
            )
            for i, p in enumerate(passages)
        ]
        for start in range(0, len(points), 1000):
            await store.upsert(key, points[start : start + 1000])
        for vector, terms in zip(asked, queries, strict=True):
            hits = await store.search(key, vector.tolist(), terms, AccessFilter(OWNER), DEPTH)
            ranked.append(first_pages([str(hit.payload["document_id"]) for hit in hits]))
            closest.append(max((hit.similarity for hit in hits), default=0.0))
        await store.close()
    return ranked, closest


# -- scoring -----------------------------------------------------------------------------------


def scores(ranked: list[list[str]], questions: list[Question]) -> dict[str, Any]:
    """hit@1/5/10 (% of questions) and MRR over the page rankings; ids missed at 5."""
    ranks = []
    for pages, question in zip(ranked, questions, strict=True):
        rank = next((i + 1 for i, page in enumerate(pages) if page in question.pages), None)
        ranks.append(rank)
    total = len(questions)

    def hit(k: int) -> float:
        return round(100.0 * sum(1 for r in ranks if r is not None and r <= k) / total, 1)

    return {
        "hit1": hit(1),
        "hit5": hit(5),
        "hit10": hit(10),
        "mrr": round(sum(1.0 / r for r in ranks if r is not None) / total, 3),
        "missed_at_5": [q.id for q, r in zip(questions, ranks, strict=True) if r is None or r > 5],
    }


def run(root: Path, questions_path: Path = QUESTIONS) -> dict[str, Any]:
    from youworker.services.documents.embedders import MINILM_NAME, get_onnx_embedder
    from youworker.services.documents.retrieval import RELEVANCE_FLOORS

    data, questions, unanswerable = load_questions(questions_path)
    pages, passages, parse_seconds = read_manual(root)
    vectors, embed_seconds = embed_cached([p.text for p in passages])
    texts = [q.text for q in questions] + unanswerable
    asked = np.asarray(asyncio.run(get_onnx_embedder().embed(texts)), dtype=np.float32)
    asked /= np.linalg.norm(asked, axis=1, keepdims=True)
    answerable = asked[: len(questions)]
    bm25 = bm25_pages(pages)
    pipeline, closest = asyncio.run(pipeline_pages(passages, vectors, texts, asked))
    floor = RELEVANCE_FLOORS[MINILM_NAME]
    return {
        "manual": data["manual"],
        "pages": len(pages),
        "passages": len(passages),
        "questions": len(questions),
        "unanswerable": len(unanswerable),
        "parse_seconds": round(parse_seconds, 1),
        "embed_seconds": None if embed_seconds is None else round(embed_seconds, 1),
        "bm25": scores([bm25(q.text) for q in questions], questions),
        "dense": scores(dense_pages(passages, vectors, answerable), questions),
        "pipeline": scores(pipeline[: len(questions)], questions),
        "floor": floor,
        "answerable_under_floor": sum(1 for c in closest[: len(questions)] if c < floor),
        "unanswerable_over_floor": sum(1 for c in closest[len(questions) :] if c >= floor),
    }


def report(data: dict[str, Any]) -> BenchResult:
    result = BenchResult("retrieval_quality", "5b. Finding the right page of a real manual")
    for name, label in (("bm25", "Plain BM25 over pages"), ("dense", "Dense only")):
        row = data[name]
        result.add(f"{label}: hit@1", row["hit1"], "%")
        result.add(f"{label}: hit@5", row["hit5"], "%")
        result.add(f"{label}: hit@10", row["hit10"], "%")
        result.add(f"{label}: MRR", row["mrr"], "")
    row = data["pipeline"]
    hit1, hit5 = row["hit1"], row["hit5"]
    result.add("YouWorker: hit@1", hit1, "%", f">= {TARGET_HIT1:g} %", hit1 >= TARGET_HIT1)
    result.add("YouWorker: hit@5", hit5, "%", f">= {TARGET_HIT5:g} %", hit5 >= TARGET_HIT5)
    result.add("YouWorker: hit@10", row["hit10"], "%")
    result.add("YouWorker: MRR", row["mrr"], "")
    result.method.extend(
        [
            f"Manual: Debian's `{data['manual']}`, {data['pages']:,} HTML pages parsed and cut "
            f"into {data['passages']:,} passages by the app's parser and chunker "
            f"({data['parse_seconds']:.0f} s); passages embedded by the built-in embedder as "
            "ingestion embeds them.",
            f"{data['questions']} questions in everyday words, each with the page(s) that "
            "answer it, and "
            f"{data['unanswerable']} questions the manual does not answer: "
            "bench/retrieval_eval/postgresql15.json (its `how_made` says how they were made; "
            "written before tuning).",
            "A page counts once, at its best passage; a page below rank "
            f"{DEPTH} counts as missed (MRR 0). BM25: k1 1.2, b 0.75 over each page's whole "
            "text. Dense only: cosine over every passage. YouWorker: the embedded store's hybrid "
            "search (dense + sparse, RRF) as `search_passages` runs it.",
        ]
    )
    for name, label in (("bm25", "BM25"), ("dense", "Dense"), ("pipeline", "YouWorker")):
        row = data[name]
        result.details.append(
            f"{label}: hit@1 {row['hit1']:.1f} %, hit@5 {row['hit5']:.1f} %, hit@10 "
            f"{row['hit10']:.1f} %, MRR {row['mrr']:.3f}; missed at 5: "
            + (", ".join(row["missed_at_5"]) or "none")
        )
    result.details.append(
        f"Relevance floor {data['floor']:g}: {data['answerable_under_floor']} of "
        f'{data["questions"]} answerable questions fall under it (they would get "no source"), '
        f"{data['unanswerable_over_floor']} of {data['unanswerable']} unanswerable ones clear it."
    )
    if data["embed_seconds"] is not None:
        rate = data["passages"] / data["embed_seconds"]
        result.details.append(
            f"Embedding the manual took {data['embed_seconds']:.0f} s ({rate:.1f} passages/s)."
        )
    return result


def bench(args: argparse.Namespace) -> list[BenchResult]:
    quiet_app_logs()
    root = Path(args.manual)
    if not root.is_dir():
        result = BenchResult("retrieval_quality", "5b. Finding the right page of a real manual")
        result.error = f"{root} is missing: install Debian's postgresql-doc-15 (make bench does)"
        return [result]
    return [report(run(root))]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manual",
        default=str(json.loads(QUESTIONS.read_text())["root"]),
        help="the manual's HTML directory",
    )


def main() -> None:
    bench_main(bench, (__doc__ or "").splitlines()[0], _options)


if __name__ == "__main__":
    main()
