"""Answers being written: one background task per conversation, followed by any number of tabs.

The task belongs to the process, not to a browser tab, so leaving the page does not lose the
answer; it is saved when it ends (and checkpointed while it streams: checkpoints.py).
Followers read snapshots; a follower that is slower than the stream simply sees the latest
text, so updates coalesce.

With several workers the broker carries the rest: the "one answer at a time" claim (renewed
while the answer runs, so a dead worker's claim expires and its answer is marked interrupted),
snapshots to followers on other workers, and stop requests to the worker writing the answer.

Starting is admit (ownership, rate limit, one at a time) -> create the rows (answers.py, the one
writer of answer rows) -> launch the agent loop. Over 400 lines on purpose: ChatRuns is one
state machine whose parts (start, publish, stop here or on another worker, finish, the sweep of
dead workers' answers) share its channels and claims; the rows and snapshots live elsewhere.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import Conversation, MessageStatus, User
from youworker.services import chat
from youworker.services.broker import Broker, MemoryBroker
from youworker.services.chat import answers
from youworker.services.chat import documents as chat_documents
from youworker.services.chat import interrupted as chat_interrupted
from youworker.services.chat import snapshots as run_snapshots
from youworker.services.chat.agent import (
    AgentConfig,
    TextDelta,
    ToolFinished,
    ToolRunner,
    ToolStarted,
    run_agent,
)
from youworker.services.chat.checkpoints import Checkpoints
from youworker.services.chat.events import answer_origin, conversation_events
from youworker.services.chat.run_state import Run, RunChannel, apply_event
from youworker.services.chat.snapshots import RunSnapshot as RunSnapshot
from youworker.services.chat.snapshots import ToolCard as ToolCard
from youworker.services.documents.access import has_readable_documents
from youworker.services.errors import Conflict, NotFound
from youworker.services.llm.base import ChatMessage, LLMBackend, LLMError
from youworker.services.llm.embedded import MODEL_NAME as EMBEDDED_MODEL_NAME
from youworker.services.rate_limits import get_rate_limits
from youworker.services.tools.base import ToolContext
from youworker.settings import get_settings

log = get_logger(__name__)

BUSY = "An answer is still being written in this conversation."
CHANNEL_IDLE_SECONDS = 600.0
# A worker renews its claim on a running answer this often; a dead worker's lapses after TTL.
CLAIM_TTL_SECONDS = 30.0
CLAIM_RENEW_SECONDS = CLAIM_TTL_SECONDS / 3
STOP_WAIT_SECONDS = 15.0
SNAPSHOTS = "runs"
STOPS = "stop"


def claim_key(conversation_id: uuid.UUID | str) -> str:
    return f"answer:{conversation_id}"


BackendResolver = Callable[[], Awaitable[tuple[LLMBackend, str]]]


class ChatRuns:
    """Starts, stops and broadcasts answers. One instance per backend process."""

    def __init__(
        self,
        resolve_backend: BackendResolver,
        tools: ToolRunner,
        broker: Broker | None = None,
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self._resolve_backend = resolve_backend
        self._tools = tools
        self._broker = broker or MemoryBroker()
        self._channels: dict[uuid.UUID, RunChannel] = {}
        self._starting: set[uuid.UUID] = set()  # conversations whose start() is saving
        self._background: set[asyncio.Task[object]] = set()
        self._checkpoints = checkpoints or Checkpoints()
        self._broker.subscribe(SNAPSHOTS, self._on_snapshot)
        self._broker.subscribe(STOPS, self._on_stop_request)

    def _channel(self, conversation_id: uuid.UUID) -> RunChannel:
        channel = self._channels.get(conversation_id)
        if channel is None:
            self._sweep()
            channel = self._channels[conversation_id] = RunChannel()
        return channel

    def _sweep(self) -> None:
        """Forget idle conversations so the process does not keep every answer it ever wrote."""
        cutoff = time.monotonic() - CHANNEL_IDLE_SECONDS
        for key in [k for k, c in self._channels.items() if c.run is None and c.touched < cutoff]:
            del self._channels[key]

    def is_running(self, conversation_id: uuid.UUID) -> bool:
        """An answer is being written here, or (its latest snapshot says) on another worker."""
        channel = self._channels.get(conversation_id)
        return channel is not None and (channel.run is not None or channel.remote_running)

    async def follow(self, conversation_id: uuid.UUID) -> None:
        """Before reading a conversation's snapshot: fetch another worker's latest one, if
        this worker has none yet (it had no follower when the answer started)."""
        channel = self._channels.get(conversation_id)
        if channel is not None and (channel.run is not None or channel.last is not None):
            return
        if not self._broker.shared:
            return
        kept = await self._broker.last(SNAPSHOTS, str(conversation_id))
        if kept is not None:
            self._on_snapshot(kept)

    def _on_snapshot(self, message: str) -> None:
        """A snapshot published by another worker."""
        key, body = run_snapshots.split(message)
        try:
            conversation_id = uuid.UUID(key)
        except ValueError:
            return
        channel = self._channel(conversation_id)
        if channel.run is not None:
            return  # this worker writes that answer now; the message is older
        channel.set_remote(body)
        channel.bump()

    async def start(
        self,
        actor: User,
        conversation_id: uuid.UUID,
        user_text: str | None,
        *,
        conversation: Conversation | None = None,
    ) -> uuid.UUID:
        """Save the user's message (if any), then start writing the answer. Returns its id.

        Admit (ownership, rate limit, one answer at a time), create the rows, launch the task.
        `conversation` is the caller's copy, just created or read, which spares reading it again.
        """
        backend, default_model = await self._resolve_backend()
        owned, claim, channel = await self._admit(actor, conversation_id, user_text, conversation)
        try:
            model = owned.model or default_model
            if backend.name == "ollama" and model == EMBEDDED_MODEL_NAME:
                model = default_model  # chosen while Ollama was away
            try:
                answer, history = await answers.open_answer(actor, owned, user_text, model)
            except BaseException:
                await self._broker.release(claim_key(conversation_id), claim)
                raise
            run = Run(
                conversation_id=conversation_id,
                owner_id=actor.id,
                message_id=answer.id,
                model=model,
                claim=claim,
            )
            channel.run = run
            self._checkpoints.track(run.message_id)
        finally:
            self._starting.discard(conversation_id)
        self._launch(actor, channel, run, backend, history, owned)
        log.info("chat.start", user=str(actor.id), conversation=str(conversation_id), model=model)
        return answer.id

    async def _admit(
        self,
        actor: User,
        conversation_id: uuid.UUID,
        user_text: str | None,
        conversation: Conversation | None,
    ) -> tuple[Conversation, str, RunChannel]:
        """The owned conversation, the claim on it and its channel. Once admitted, `_starting`
        holds the conversation until the caller has saved its rows (then discards it)."""
        # Ownership first: someone else's conversation reads as absent, never as busy.
        if conversation is None:
            async with session_scope() as db:
                conversation = await chat.get_owned(db, actor, conversation_id)
        else:
            chat.check_owned(actor, conversation_id, conversation)
        if user_text is not None:
            # Sends only: a regeneration has already removed the answer it replaces, and
            # one answer at a time per conversation bounds how fast it can repeat.
            await get_rate_limits().check_message(actor.id)
        channel = self._channel(conversation_id)
        # Checked and claimed with no await in between, so of two tabs starting at once
        # one saves its question and the other saves nothing.
        if channel.run is not None or conversation_id in self._starting:
            raise Conflict(BUSY)
        self._starting.add(conversation_id)
        try:
            # Across workers: only the holder of the claim writes an answer here.
            claim = await self._broker.claim(claim_key(conversation_id), CLAIM_TTL_SECONDS)
        except BaseException:
            self._starting.discard(conversation_id)
            raise
        if claim is None:
            self._starting.discard(conversation_id)
            raise Conflict(BUSY)
        return conversation, claim, channel

    def _launch(
        self,
        actor: User,
        channel: RunChannel,
        run: Run,
        backend: LLMBackend,
        history: list[ChatMessage],
        conversation: Conversation,
    ) -> None:
        """Run the agent loop in the background; followers see the empty answer at once."""
        settings = get_settings().chat
        run.heartbeat = asyncio.create_task(self._keep_claim(run))
        self._publish(channel, run)
        config = AgentConfig(
            model=run.model,
            max_steps=settings.max_steps,
            tool_timeout_s=settings.tool_timeout_seconds,
            model_timeout_s=settings.model_timeout_seconds,
        )
        ctx = ToolContext(
            user_id=str(actor.id),
            conversation_id=str(conversation.id),
            citations=run.citations,
            collection_ids=tuple(conversation.collection_ids),
        )

        async def has_documents() -> bool:
            async with session_scope() as db:
                return await has_readable_documents(db, actor)

        disabled = set(conversation.disabled_tools)
        run.task = asyncio.create_task(
            self._execute(
                channel,
                run,
                backend,
                history,
                disabled,
                ctx,
                config,
                conversation.use_documents,
                has_documents,
            )
        )

    async def stop(self, actor: User, conversation_id: uuid.UUID) -> bool:
        """Stop the answer being written; the text so far is kept as a stopped answer."""
        channel = self._channels.get(conversation_id)
        run = channel.run if channel else None
        if run is None:
            return await self._stop_elsewhere(actor, conversation_id)
        if run.owner_id != actor.id:
            raise NotFound("Conversation not found.")
        await self._stop_here(channel, run)
        return True

    async def _stop_elsewhere(self, actor: User, conversation_id: uuid.UUID) -> bool:
        """Ask the worker writing the answer (if any) to stop it; wait until it says it did."""
        if not self._broker.shared:
            return False
        async with session_scope() as db:
            await chat.get_owned(db, actor, conversation_id)  # NotFound for anyone else
        if await self._broker.holder(claim_key(conversation_id)) is None:
            return False
        await self.follow(conversation_id)
        self._broker.publish(STOPS, str(conversation_id))
        log.info("chat.stop_requested", conversation=str(conversation_id))

        async def stopped() -> None:
            while True:
                seen = self.version(conversation_id)
                snapshot = self.snapshot(conversation_id)
                if snapshot is None or snapshot.finished:
                    return
                await self.wait_for_change(conversation_id, seen, STOP_WAIT_SECONDS)

        try:
            await asyncio.wait_for(stopped(), STOP_WAIT_SECONDS)
        except TimeoutError:
            log.warning("chat.stop_unconfirmed", conversation=str(conversation_id))
        return True

    def _on_stop_request(self, message: str) -> None:
        """Another worker asks to stop an answer; only the one writing it acts."""
        try:
            channel = self._channels.get(uuid.UUID(message))
        except ValueError:
            return
        run = channel.run if channel else None
        if channel is not None and run is not None:
            self._spawn(self._stop_here(channel, run))

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _stop_here(self, channel: RunChannel | None, run: Run) -> None:
        run.stop_requested = True
        if run.task is not None:
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
        if channel is not None and channel.run is run:
            # Cancelled before its first step: _execute never ran, so save it as stopped here.
            run.status = MessageStatus.STOPPED
            await self._finish(channel, run)

    def snapshot(self, conversation_id: uuid.UUID) -> RunSnapshot | None:
        """The answer being written (or the one that just ended), if any."""
        channel = self._channels.get(conversation_id)
        if channel is None:
            return None
        return channel.last

    def version(self, conversation_id: uuid.UUID) -> int:
        return self._channel(conversation_id).version

    async def wait_for_change(
        self, conversation_id: uuid.UUID, seen_version: int, timeout_s: float
    ) -> int | None:
        """Block until the conversation changes; returns the new version, None on timeout."""
        channel = self._channel(conversation_id)
        if not await channel.wait(seen_version, timeout_s):
            return None
        return channel.version

    def _publish(self, channel: RunChannel, run: Run) -> None:
        channel.last = run.snapshot(channel.version + 1)
        channel.bump()
        self._share(channel.last)

    def _share(self, snapshot: RunSnapshot) -> None:
        """Followers on other workers get it too (encoded only when actually sent)."""
        if self._broker.shared:
            self._broker.publish(
                SNAPSHOTS,
                lambda: run_snapshots.encode(snapshot),
                coalesce=snapshot.conversation_id,
                keep_s=CHANNEL_IDLE_SECONDS,
            )

    async def _execute(
        self,
        channel: RunChannel,
        run: Run,
        backend: LLMBackend,
        history: list[ChatMessage],
        disabled: set[str],
        ctx: ToolContext,
        config: AgentConfig,
        use_documents: bool = False,
        has_documents: chat_documents.HasDocuments | None = None,
    ) -> None:
        try:
            if use_documents:
                history = await self._retrieve_first(channel, run, history, ctx, has_documents)
            async for event in run_agent(backend, history, self._tools, disabled, ctx, config):
                apply_event(run, event)
                self._publish(channel, run)
                if isinstance(event, TextDelta):
                    self._checkpoints.note(run.message_id, run.text)
            run.status = MessageStatus.COMPLETE
        except asyncio.CancelledError:
            run.status = MessageStatus.STOPPED
            if not run.stop_requested:
                # Cancelled by the process going down, not by its reader: "Interrupted".
                run.error_code = chat_interrupted.INTERRUPTED
                await self._finish(channel, run)
                raise
        except LLMError as exc:
            run.status, run.error_code, run.error_message = (
                MessageStatus.ERROR,
                exc.code,
                exc.message,
            )
        except Exception as exc:  # the answer must be saved whatever went wrong
            log.exception("chat.failed", conversation=str(run.conversation_id))
            run.status, run.error_code = MessageStatus.ERROR, "internal"
            run.error_message = f"Something went wrong while answering ({type(exc).__name__})."
        await self._finish(channel, run)

    async def _retrieve_first(
        self,
        channel: RunChannel,
        run: Run,
        history: list[ChatMessage],
        ctx: ToolContext,
        has_documents: chat_documents.HasDocuments | None,
    ) -> list[ChatMessage]:
        """ "Use my documents": the passages go before the question; none opens the answer
        with a "no source" note."""

        def report(event: ToolStarted | ToolFinished) -> None:
            apply_event(run, event)
            self._publish(channel, run)

        async def unknown() -> bool:
            return True  # then "no passage matches", which holds either way

        found = await chat_documents.retrieve_first(
            self._tools, history, ctx, report, has_documents or unknown
        )
        if found.notice:
            run.text = chat_documents.notice_markdown(found.notice)
            self._publish(channel, run)
        return found.history

    async def _finish(self, channel: RunChannel, run: Run) -> None:
        self._checkpoints.done(run.message_id)
        elapsed_ms = int((time.perf_counter() - run.started) * 1000)
        try:
            await answers.finish_answer(run, elapsed_ms)
        finally:
            if run.heartbeat is not None and run.heartbeat is not asyncio.current_task():
                run.heartbeat.cancel()
            # Released before the final snapshot, so whoever sees it may start the next answer.
            await self._broker.release(claim_key(run.conversation_id), run.claim)
            channel.run = None
            self._publish(channel, run)
            # The list order (and, for a first answer, the title) changed for every tab.
            conversation_events.changed(run.owner_id, answer_origin(run.conversation_id))
            log.info(
                "chat.end",
                user=str(run.owner_id),
                conversation=str(run.conversation_id),
                status=run.status,
                duration_ms=elapsed_ms,
                ttft_ms=run.first_token_ms,
                completion_tokens=run.usage.completion_tokens,
                tools=len(run.tools),
            )

    async def _keep_claim(self, run: Run) -> None:
        """Renew the claim while the answer runs: the heartbeat other workers rely on."""
        key = claim_key(run.conversation_id)
        while True:
            await asyncio.sleep(CLAIM_RENEW_SECONDS)  # the renewal period, not a wait on others
            if not await self._broker.renew(key, run.claim, CLAIM_TTL_SECONDS):
                log.warning("chat.claim_lost", conversation=str(run.conversation_id))
                return

    async def mark_interrupted(self) -> int:
        """Answers left streaming by a worker that died (its claim lapsed) are saved as stopped,
        and their followers on every worker are told."""
        count = 0
        for message_id, conversation_id, model in await answers.streaming_answers():
            channel = self._channels.get(conversation_id)
            if channel is not None and channel.run is not None:
                continue
            if await self._broker.holder(claim_key(conversation_id)) is not None:
                continue
            if await answers.mark_interrupted(message_id):
                count += 1
                channel = self._channel(conversation_id)
                channel.last = chat_interrupted.interrupted_snapshot(
                    conversation_id, message_id, model, channel.last, channel.version + 1
                )
                channel.bump()
                self._share(channel.last)
        if count:
            log.info("chat.interrupted_answers_saved", count=count)
        return count

    async def watch_interrupted(self, every_s: float = CLAIM_TTL_SECONDS) -> None:
        """With several workers: find answers of workers that died, for as long as this runs."""
        while True:
            await asyncio.sleep(every_s)  # the sweep period
            try:
                await self.mark_interrupted()
            except Exception:
                log.exception("chat.interrupted_sweep_failed")

    async def shutdown(self) -> None:
        """Stop every run (process exit); each is saved as interrupted."""
        tasks = [c.run.task for c in self._channels.values() if c.run and c.run.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._checkpoints.close()
        for background in list(self._background):
            background.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
