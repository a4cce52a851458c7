"""`youworker worker` as its own process: it ingests, refuses an unsafe store, survives a kill.

Several workers run at once and never take the same job. A worker killed with SIGKILL mid-job
leaves its job claimed by a process that no longer exists: another worker takes it over and
finishes it, and the vectors are not duplicated. Separate workers on the embedded vector store
take turns on it (a file lock per call, vectorstore/turns.py); a test that holds that lock
stops every worker at the same point of its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col, select

from tests.conftest import count_rows
from youworker.db import session_scope
from youworker.models import (
    Document,
    DocumentChunk,
    DocumentStatus,
    IngestionJob,
    JobStatus,
    User,
)
from youworker.services.documents import library
from youworker.services.documents.embedders import Embedder, get_onnx_embedder
from youworker.services.documents.ingest import IngestContext
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.vectorstore.turns import LOCK_FILE
from youworker.services.documents.worker import IngestionWorker
from youworker.settings import DocumentSettings

ROOT = Path(__file__).resolve().parents[2]
KEY = get_onnx_embedder().key
DEADLINE_SECONDS = 120
POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def files(data_dir: Path) -> FileStore:
    return FileStore(data_dir / "documents")


@pytest.fixture
async def store(data_dir: Path) -> AsyncIterator[EdgeVectorStore]:
    vectors = EdgeVectorStore(data_dir / "vectors")
    yield vectors
    await vectors.close()


@pytest.fixture
async def shared_store(data_dir: Path) -> AsyncIterator[EdgeVectorStore]:
    """The store as the workers use it: readable while they run."""
    vectors = EdgeVectorStore(data_dir / "vectors", shared=True)
    yield vectors
    await vectors.close()


@dataclass
class Worker:
    """A `youworker worker` process; its output goes to a file (an unread pipe would fill)."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text()[-4000:]


def start_worker(
    database_url: str, data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Worker:
    log = data_dir.parent / f"worker-{uuid.uuid4().hex[:8]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "youworker", "worker", *args],
            cwd=ROOT,
            env={
                **os.environ,
                "APP_ENV": "test",
                "DATA_DIR": str(data_dir),
                "DATABASE__URL": database_url,
                "LLM__PROVIDER": "embedded",
                # Long, so a live worker slowed down by its peers keeps its job; a killed worker's
                # job is taken over as soon as its process is gone, not at lease expiry.
                "DOCUMENTS__JOB_LEASE_SECONDS": "600",
                "API__LOG_LEVEL": "INFO",
                **(env or {}),
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Worker(process, log)


def run_worker(database_url: str, data_dir: Path, *args: str) -> tuple[int, str]:
    """Run a worker to its end: its exit code and output."""
    worker = start_worker(database_url, data_dir, *args)
    returncode = worker.process.wait(timeout=DEADLINE_SECONDS)
    return returncode, worker.output()


@contextlib.contextmanager
def running_workers(
    count: int, database_url: str, data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[list[Worker]]:
    """`count` workers started at once; on exit each must stop cleanly on SIGTERM."""
    workers = [start_worker(database_url, data_dir, *args, env=env) for _ in range(count)]
    try:
        yield workers
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.process.wait(timeout=DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()


@contextlib.contextmanager
def vector_store_held(data_dir: Path) -> Iterator[None]:
    """Hold the embedded store's lock: every worker stops at the first vector write of its job."""
    root = data_dir / "vectors"
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, workers: Sequence[Worker] = ()
) -> None:
    """Poll the database (or store) until `condition` holds; fail if a worker dies or time is up."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        for worker in workers:
            assert worker.process.poll() is None, worker.output()
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


def pid_of(worker_id: str | None) -> int:
    """The process id inside a worker id (host:pid:random)."""
    assert worker_id
    return int(worker_id.split(":")[1])


async def status_of(document_id: str) -> str:
    async with session_scope() as session:
        document = await session.get(Document, uuid.UUID(document_id))
        assert document is not None
        return document.status


async def all_jobs() -> list[IngestionJob]:
    async with session_scope() as session:
        return list(await session.scalars(select(IngestionJob)))


async def all_documents() -> list[Document]:
    async with session_scope() as session:
        return list(await session.scalars(select(Document)))


async def all_ready() -> bool:
    return all(d.status == DocumentStatus.READY for d in await all_documents())


def long_text(paragraphs: int, topic: str = "invoices") -> bytes:
    sentence = "Section {n} explains how {topic} are approved, paid and archived by the team. "
    return "\n\n".join(sentence.format(n=n, topic=topic) * 12 for n in range(paragraphs)).encode()


async def upload_many(
    db: AsyncSession, owner: User, files: FileStore, count: int, paragraphs: int
) -> list[str]:
    """`count` documents of different content (the library recognises a repeated upload)."""
    ids = []
    for number in range(count):
        text = long_text(paragraphs, topic=f"invoices of batch {number}")
        result = await library.upload(db, owner, files, f"doc-{number}.txt", text, max_bytes=10**7)
        ids.append(result.document.id)
    return ids


async def assert_indexed_once(db: AsyncSession, vectors: EdgeVectorStore) -> None:
    """Every document ready with its passages recorded once and as many vectors, no more."""
    documents = await all_documents()
    assert documents and all(d.status == DocumentStatus.READY and d.chunk_count for d in documents)
    rows = dict(
        (
            await db.execute(
                select(DocumentChunk.document_id, func.count()).group_by(
                    col(DocumentChunk.document_id)
                )
            )
        ).all()
    )
    assert rows == {d.id: d.chunk_count for d in documents}
    total = sum(d.chunk_count or 0 for d in documents)
    assert await count_rows(db, "document_chunks") == total
    assert await vectors.count(KEY) == total


async def test_worker_process_refuses_the_embedded_store_by_default(
    database_url: str, data_dir: Path
) -> None:
    returncode, output = run_worker(database_url, data_dir)
    assert returncode == 2
    assert "LLM__QDRANT_URL" in output


async def test_worker_process_ingests_queued_documents(
    db: AsyncSession, alice: User, database_url: str, data_dir: Path, files: FileStore
) -> None:
    result = await library.upload(
        db, alice, files, "notes.txt", b"The office opens at nine.", max_bytes=10**6
    )
    returncode, output = run_worker(database_url, data_dir, "--once", "--embedded-store")
    assert returncode == 0, output
    assert "processed 1 job(s)" in output
    assert await status_of(result.document.id) == DocumentStatus.READY


async def test_three_workers_at_once_never_take_the_same_job(
    db: AsyncSession,
    alice: User,
    database_url: str,
    data_dir: Path,
    files: FileStore,
    shared_store: EdgeVectorStore,
) -> None:
    await upload_many(db, alice, files, count=9, paragraphs=6)

    with running_workers(3, database_url, data_dir, "--embedded-store") as workers:
        with vector_store_held(data_dir):
            # Each worker holds one job at a time: three jobs running means three workers.
            async def three_embedding() -> bool:
                documents = await all_documents()
                return sum(d.status == DocumentStatus.EMBEDDING for d in documents) == 3

            await wait_until(three_embedding, "three jobs reach their vectors", workers)
            jobs = await all_jobs()
            running = [job for job in jobs if job.status == JobStatus.RUNNING]
            assert len(running) == 3
            assert {pid_of(job.worker_id) for job in running} == {
                worker.process.pid for worker in workers
            }
            assert all(
                job.status == JobStatus.QUEUED and job.attempts == 0
                for job in jobs
                if job not in running
            )
        await wait_until(all_ready, "every document is ready", workers)

    assert all(worker.process.returncode == 0 for worker in workers)
    pids = {worker.process.pid for worker in workers}
    jobs = await all_jobs()
    assert len(jobs) == 9
    assert all(job.status == JobStatus.DONE and job.attempts == 1 for job in jobs)
    assert {pid_of(job.worker_id) for job in jobs} <= pids
    await assert_indexed_once(db, shared_store)


@POSTGRES_ONLY
async def test_three_claims_of_the_same_job_at_the_same_instant_take_three_jobs(
    db: AsyncSession,
    alice: User,
    engine: AsyncEngine,
    database_url: str,
    data_dir: Path,
    files: FileStore,
) -> None:
    """Writes to the queue are held until every worker has read the same oldest job and waits
    to take it: then exactly one gets it, and each other one takes another job."""
    await upload_many(db, alice, files, count=4, paragraphs=2)

    async def claims_waiting() -> bool:
        # A new transaction each time: pg_stat_activity is a snapshot per transaction.
        async with session_scope() as session:
            waiting = await session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE 'UPDATE ingestion_jobs%'"
                )
            )
            return int(waiting.scalar_one()) == 3

    async def three_embedding() -> bool:
        documents = await all_documents()
        return sum(d.status == DocumentStatus.EMBEDDING for d in documents) == 3

    with running_workers(3, database_url, data_dir, "--embedded-store") as workers:
        with vector_store_held(data_dir):
            async with engine.connect() as holder:
                # Reads go on; every UPDATE of the queue waits until this transaction ends.
                await holder.execute(text("LOCK TABLE ingestion_jobs IN EXCLUSIVE MODE"))
                await wait_until(claims_waiting, "three claims wait on the queue", workers)
                await holder.commit()
            await wait_until(three_embedding, "three jobs reach their vectors", workers)
            jobs = await all_jobs()
            running = [job for job in jobs if job.status == JobStatus.RUNNING]
            assert len(running) == 3 and all(job.attempts == 1 for job in running)
            assert {pid_of(job.worker_id) for job in running} == {
                worker.process.pid for worker in workers
            }
        await wait_until(all_ready, "every document is ready", workers)
    assert all(job.attempts == 1 for job in await all_jobs())


@POSTGRES_ONLY
async def test_killing_one_of_three_workers_loses_nothing(
    db: AsyncSession,
    alice: User,
    database_url: str,
    data_dir: Path,
    files: FileStore,
    shared_store: EdgeVectorStore,
) -> None:
    """Without a Qdrant server but with REDIS__URL (the app's workers take turns on the
    embedded store), separate workers need no flag: they take turns with the app."""
    big = await library.upload(db, alice, files, "big.txt", long_text(120), max_bytes=10**7)
    big_id = big.document.id
    await upload_many(db, alice, files, count=6, paragraphs=4)
    redis = {"REDIS__URL": "redis://127.0.0.1:6379/0"}

    with running_workers(3, database_url, data_dir, env=redis) as workers:
        # The oldest job goes first: the big document; the kill must land while it embeds.
        async def big_embedding() -> bool:
            return await status_of(big_id) == DocumentStatus.EMBEDDING

        await wait_until(big_embedding, "the big document is being embedded", workers)
        async with session_scope() as session:
            job = (
                await session.scalars(
                    select(IngestionJob).where(col(IngestionJob.document_id) == uuid.UUID(big_id))
                )
            ).one()
        victim = next(w for w in workers if w.process.pid == pid_of(job.worker_id))
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=DEADLINE_SECONDS)  # reaped: its pid no longer exists
        async with session_scope() as session:
            held = await session.get(IngestionJob, job.id)
            assert held is not None
            assert held.status == JobStatus.RUNNING and held.attempts == 1
            assert pid_of(held.worker_id) == victim.process.pid, "the kill landed after the job"

        survivors = [w for w in workers if w is not victim]
        await wait_until(all_ready, "the survivors finish every document", survivors)

    assert all(worker.process.returncode == 0 for worker in survivors)
    survivor_pids = {worker.process.pid for worker in survivors}
    jobs = await all_jobs()
    assert len(jobs) == 7 and all(job.status == JobStatus.DONE for job in jobs)
    taken_over = next(j for j in jobs if j.id == job.id)
    assert taken_over.attempts == 2 and pid_of(taken_over.worker_id) in survivor_pids
    assert all(j.attempts == 1 for j in jobs if j.id != job.id)
    await assert_indexed_once(db, shared_store)


async def test_a_killed_worker_leaves_a_job_the_next_worker_finishes(
    db: AsyncSession,
    alice: User,
    database_url: str,
    data_dir: Path,
    files: FileStore,
    store: EdgeVectorStore,
) -> None:
    result = await library.upload(db, alice, files, "big.txt", long_text(100), max_bytes=10**7)
    document_id = result.document.id
    with running_workers(1, database_url, data_dir, "--embedded-store") as workers:
        process = workers[0].process

        async def embedding() -> bool:
            return await status_of(document_id) == DocumentStatus.EMBEDDING

        # The kill must land mid-job.
        await wait_until(embedding, "the worker starts embedding", workers)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE_SECONDS)
    async with session_scope() as session:
        job = (await session.scalars(select(IngestionJob))).one()
        assert job.status == JobStatus.RUNNING and job.attempts == 1
        assert pid_of(job.worker_id) == process.pid

    context = IngestContext(
        files=files,
        store=store,
        embedder=_builtin_embedder,
        settings=DocumentSettings(job_lease_seconds=600),
    )
    assert await IngestionWorker(context).run_until_idle() == 1

    assert await status_of(document_id) == DocumentStatus.READY
    async with session_scope() as session:
        job = (await session.scalars(select(IngestionJob))).one()
    assert job.status == JobStatus.DONE and job.attempts == 2
    await assert_indexed_once(db, store)


async def _builtin_embedder() -> Embedder:
    return get_onnx_embedder()
