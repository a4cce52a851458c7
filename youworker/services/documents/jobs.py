"""The durable ingestion queue: job rows claimed by leases that live workers keep renewing.

A claim is a compare-and-set UPDATE on the row (status and lease as read), so two workers,
in one process or many, on SQLite or PostgreSQL, never hold the same job. A worker that dies
stops renewing; once its lease runs out (or at once, when it was a process on this machine
that no longer exists) the job is claimed again and starts over.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.db import rows_affected
from youworker.logging import get_logger
from youworker.models import Document, DocumentStatus, IngestionJob, JobStatus
from youworker.models.base import utcnow
from youworker.models.document import ERROR_MAX

log = get_logger(__name__)

CLAIM_CANDIDATES = 10
_HOST = socket.gethostname()[:40]


class Signal:
    """Wakes every waiter in this process; take `waiter()` before checking, then wait on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def waiter(self) -> asyncio.Event:
        return self._event


# New jobs (wakes idle workers) and document status changes (wakes pages showing them).
# Other processes' jobs and changes are found by polling.
jobs_queued = Signal()
status_changed = Signal()


def new_worker_id() -> str:
    """host:pid:random, so a worker on this host can tell a dead peer's jobs from a live one's."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_gone(worker_id: str | None) -> bool:
    if not worker_id:
        return False
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def notify() -> None:
    """Wake this process's idle workers and pages: a job was queued."""
    jobs_queued.fire()
    status_changed.fire()


async def claim(
    session: AsyncSession, worker_id: str, lease_seconds: float, max_attempts: int
) -> IngestionJob | None:
    """Take the oldest claimable job: queued, or running under an expired or orphaned lease."""
    now = utcnow()
    candidates = list(
        await session.scalars(
            select(IngestionJob)
            .where(
                or_(
                    and_(
                        col(IngestionJob.status) == JobStatus.QUEUED,
                        or_(
                            col(IngestionJob.not_before).is_(None),
                            col(IngestionJob.not_before) <= now,
                        ),
                    ),
                    col(IngestionJob.status) == JobStatus.RUNNING,
                )
            )
            .order_by(col(IngestionJob.created_at), col(IngestionJob.id))
            .limit(CLAIM_CANDIDATES * 5)
        )
    )
    for job in candidates:
        if job.status == JobStatus.RUNNING:
            expired = job.lease_until is None or job.lease_until < now
            if not expired and not _process_gone(job.worker_id):
                continue
            if job.attempts >= max_attempts:
                await _give_up(session, job, max_attempts)
                continue
        taken = await session.execute(
            update(IngestionJob)
            .where(
                col(IngestionJob.id) == job.id,
                col(IngestionJob.status) == job.status,
                _same_lease(job),
            )
            .values(
                status=JobStatus.RUNNING,
                worker_id=worker_id,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=job.attempts + 1,
                started_at=now,
            )
        )
        await session.commit()
        if rows_affected(taken) == 1:
            await session.refresh(job)
            if job.attempts > 1:
                log.info("ingest.job_resumed", job=str(job.id), attempt=job.attempts)
            return job
    return None


def _same_lease(job: IngestionJob) -> ColumnElement[bool]:
    if job.lease_until is None:
        return col(IngestionJob.lease_until).is_(None)
    return and_(
        col(IngestionJob.lease_until) == job.lease_until,
        col(IngestionJob.worker_id) == job.worker_id,
    )


async def _give_up(session: AsyncSession, job: IngestionJob, max_attempts: int) -> None:
    reason = (
        f"Indexing stopped {max_attempts} times before it could finish "
        "(the worker crashed or was restarted). Retry to try again."
    )
    changed = await session.execute(
        update(IngestionJob)
        .where(col(IngestionJob.id) == job.id, _same_lease(job))
        .values(status=JobStatus.FAILED, error=reason, finished_at=utcnow(), lease_until=None)
    )
    if rows_affected(changed) == 1:
        await _set_document_status(session, job.document_id, DocumentStatus.FAILED, reason)
    await session.commit()
    status_changed.fire()
    log.warning("ingest.job_abandoned", job=str(job.id), attempts=job.attempts)


async def renew(
    session: AsyncSession, job_id: uuid.UUID, worker_id: str, lease_seconds: float
) -> bool:
    """Extend the lease; False when this worker no longer holds the job."""
    result = await session.execute(
        update(IngestionJob)
        .where(
            col(IngestionJob.id) == job_id,
            col(IngestionJob.worker_id) == worker_id,
            col(IngestionJob.status) == JobStatus.RUNNING,
        )
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
    )
    await session.commit()
    return rows_affected(result) == 1


async def finish(session: AsyncSession, job_id: uuid.UUID, worker_id: str) -> bool:
    """Mark done inside the caller's transaction; False when the job was lost meanwhile."""
    result = await session.execute(
        update(IngestionJob)
        .where(
            col(IngestionJob.id) == job_id,
            col(IngestionJob.worker_id) == worker_id,
            col(IngestionJob.status) == JobStatus.RUNNING,
        )
        .values(status=JobStatus.DONE, finished_at=utcnow(), lease_until=None, error=None)
    )
    return rows_affected(result) == 1


async def postpone(
    session: AsyncSession, job_id: uuid.UUID, worker_id: str, reason: str, delay: timedelta
) -> bool:
    """Put the job back in the queue until `delay` has passed; False when it was lost meanwhile.

    A wait is not a crash: the attempt it used is given back, so waiting out an outage never
    exhausts `job_max_attempts`.
    """
    return await _release(
        session,
        job_id,
        worker_id,
        reason,
        DocumentStatus.QUEUED,
        status=JobStatus.QUEUED,
        worker_id=None,
        not_before=utcnow() + delay,
        waits=IngestionJob.waits + 1,
        attempts=IngestionJob.attempts - 1,  # the claim counted one
    )


async def fail(session: AsyncSession, job_id: uuid.UUID, worker_id: str, reason: str) -> bool:
    """Record the reason on the job and its document; False when the job was lost meanwhile."""
    return await _release(
        session,
        job_id,
        worker_id,
        reason,
        DocumentStatus.FAILED,
        status=JobStatus.FAILED,
        finished_at=utcnow(),
    )


async def _release(
    session: AsyncSession,
    job_id: uuid.UUID,
    holder: str,
    reason: str,
    document_status: str,
    **job_values: object,
) -> bool:
    """End `holder`'s hold on a running job with `job_values`; the document shows `reason`."""
    reason = reason[:ERROR_MAX]
    result = await session.execute(
        update(IngestionJob)
        .where(
            col(IngestionJob.id) == job_id,
            col(IngestionJob.worker_id) == holder,
            col(IngestionJob.status) == JobStatus.RUNNING,
        )
        .values(lease_until=None, error=reason, **job_values)
    )
    held = rows_affected(result) == 1
    if held:
        job = await session.get(IngestionJob, job_id)
        if job is not None:
            await _set_document_status(session, job.document_id, document_status, reason)
    await session.commit()
    status_changed.fire()
    return held


async def _set_document_status(
    session: AsyncSession, document_id: uuid.UUID, status: str, reason: str
) -> None:
    await session.execute(
        update(Document)
        .where(col(Document.id) == document_id)
        .values(status=status, error=reason[:ERROR_MAX], updated_at=utcnow())
    )


@dataclass(frozen=True)
class Backlog:
    queued: int
    running: int
    oldest_wait_s: float


async def backlog(session: AsyncSession) -> Backlog:
    """Jobs waiting and running, and how long the oldest waiting one has waited (for health)."""
    rows = await session.execute(
        select(IngestionJob.status, func.count(), func.min(IngestionJob.created_at))
        .where(col(IngestionJob.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .group_by(col(IngestionJob.status))
    )
    counts = {status: (count, oldest) for status, count, oldest in rows.all()}
    queued, oldest = counts.get(JobStatus.QUEUED, (0, None))
    running = counts.get(JobStatus.RUNNING, (0, None))[0]
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite's MIN() returns the raw stored value
    wait = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return Backlog(int(queued), int(running), max(wait, 0.0))
