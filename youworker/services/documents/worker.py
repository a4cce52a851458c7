"""A worker loop: claim a job, run it while renewing its lease, repeat; idle until woken or polled.

The app runs one in-process; `python -m youworker worker` runs the same loop as its own process.
"""

from __future__ import annotations

import asyncio
import contextlib

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import IngestionJob
from youworker.services.documents import jobs
from youworker.services.documents.ingest import IngestContext, run_job

log = get_logger(__name__)

# New jobs from this process wake the worker at once; jobs queued by other processes are
# found by polling this often.
POLL_SECONDS = 2.0


class IngestionWorker:
    def __init__(self, context: IngestContext, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.context = context
        self.poll_seconds = poll_seconds
        self.worker_id = jobs.new_worker_id()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def lease_seconds(self) -> float:
        return self.context.settings.job_lease_seconds

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self.run(), name="ingestion-worker")

    async def stop(self) -> None:
        """Stop after cancelling the current job; its lease lapses and another worker resumes it."""
        self._stopping.set()
        jobs.notify()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        log.info("ingest.worker_started", worker=self.worker_id)
        try:
            while not self._stopping.is_set():
                wake = jobs.jobs_queued.waiter()
                try:
                    worked = await self.run_once()
                except Exception:
                    # A database hiccup must not end the worker: log it and poll again.
                    log.exception("ingest.worker_error", worker=self.worker_id)
                    worked = False
                if worked:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_seconds)
        finally:
            log.info("ingest.worker_stopped", worker=self.worker_id)

    async def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        settings = self.context.settings
        async with session_scope() as session:
            job = await jobs.claim(
                session, self.worker_id, self.lease_seconds, settings.job_max_attempts
            )
        if job is None:
            return False
        await self._run_with_lease(job)
        return True

    async def run_until_idle(self) -> int:
        """Run jobs until none is claimable; how many ran (for tests and the CLI's --once)."""
        done = 0
        while await self.run_once():
            done += 1
        return done

    async def _run_with_lease(self, job: IngestionJob) -> None:
        work = asyncio.create_task(run_job(job, self.worker_id, self.context))
        renewal = asyncio.create_task(self._keep_lease(job, work))
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            log.warning("ingest.lease_lost", job=str(job.id), worker=self.worker_id)
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work

    async def _keep_lease(self, job: IngestionJob, work: asyncio.Task[None]) -> None:
        interval = max(self.lease_seconds / 3, 0.2)
        while not work.done():
            await asyncio.sleep(interval)
            try:
                async with session_scope() as session:
                    held = await jobs.renew(session, job.id, self.worker_id, self.lease_seconds)
            except Exception:
                log.exception("ingest.renew_failed", job=str(job.id))
                continue
            if not held:
                work.cancel()
                return
