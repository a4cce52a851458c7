"""`youworker worker` as its own process: it ingests, refuses an unsafe store, and survives a kill.

A worker killed with SIGKILL mid-job leaves its job claimed by a process that no longer exists;
the next worker takes it over and finishes it, and the vectors are not duplicated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from tests.conftest import count_rows
from youworker.db import session_scope
from youworker.models import Document, DocumentStatus, IngestionJob, JobStatus, User
from youworker.services.documents import library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.ingest import IngestContext
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.settings import DocumentSettings

ROOT = Path(__file__).resolve().parents[2]
KEY = get_onnx_embedder().key
DEADLINE_SECONDS = 120


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


def worker_process(database_url: str, data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATA_DIR": str(data_dir),
        "DATABASE__URL": database_url,
        "LLM__PROVIDER": "embedded",
        "DOCUMENTS__JOB_LEASE_SECONDS": "600",
        "API__LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "youworker", "worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def status_of(document_id: str) -> str:
    async with session_scope() as session:
        document = await session.get(Document, uuid.UUID(document_id))
        assert document is not None
        return document.status


def long_text(paragraphs: int) -> bytes:
    sentence = "Section {n} explains how invoices are approved, paid and archived by the team. "
    return "\n\n".join(sentence.format(n=n) * 12 for n in range(paragraphs)).encode()


async def test_worker_process_refuses_the_embedded_store_by_default(
    database_url: str, data_dir: Path
) -> None:
    process = worker_process(database_url, data_dir)
    output, _ = process.communicate(timeout=DEADLINE_SECONDS)
    assert process.returncode == 2
    assert "LLM__QDRANT_URL" in output


async def test_worker_process_ingests_queued_documents(
    db: AsyncSession, alice: User, database_url: str, data_dir: Path, files: FileStore
) -> None:
    result = await library.upload(
        db, alice, files, "notes.txt", b"The office opens at nine.", max_bytes=10**6
    )
    process = worker_process(database_url, data_dir, "--once", "--embedded-store")
    output, _ = process.communicate(timeout=DEADLINE_SECONDS)
    assert process.returncode == 0, output
    assert "processed 1 job(s)" in output
    assert await status_of(result.document.id) == DocumentStatus.READY


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
    process = worker_process(database_url, data_dir, "--embedded-store")
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        # Polls the database for the state to reach; the kill must land mid-job.
        while await status_of(document_id) != DocumentStatus.EMBEDDING:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the worker never started embedding"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    async with session_scope() as session:
        job = (await session.scalars(select(IngestionJob))).one()
        assert job.status == JobStatus.RUNNING and job.attempts == 1
        assert job.worker_id and f":{process.pid}:" in job.worker_id

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
        document = await session.get(Document, uuid.UUID(document_id))
    assert job.status == JobStatus.DONE and job.attempts == 2
    assert document is not None and document.chunk_count
    assert await store.count(KEY) == document.chunk_count
    assert await count_rows(db, "document_chunks") == document.chunk_count


async def _builtin_embedder():
    return get_onnx_embedder()
