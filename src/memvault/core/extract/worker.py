"""The extraction service: the queue's consumer in the engine's background, bounded.

One :class:`Extraction` per engine. :meth:`Extraction.run` works ``concurrency`` lanes, each
claiming one job at a time under a lease (:class:`~memvault.stores.base.ExtractionQueue`),
until cancelled; on the way out the jobs it holds are given back. A job whose request or
reply fails is retried after ``retry_seconds · 2^(attempt-1)`` (capped at an hour) and failed
for good, with its reason, after ``max_attempts``; its memory is never touched. Requests per
minute are bounded per process; tokens per day across the store's processes (the queue sums
what the model reported). Adds wake the lanes (:meth:`notify`); other processes' jobs and
retries that come due are found by polling.

Background work yields to this process's writes (:class:`~memvault.core.foreground.Foreground`):
a lane claims a job, and writes its facts and its end, only when no write has run for
``llm.quiet_seconds``, or once the job has waited ``llm.max_yield_seconds`` in all (at most a
quarter of the lease, so the lease is still held when the results are written). A steady
stream of adds thus lets one job through per that bound; when the adds pause, the backlog
drains at the model's pace. The model's request itself is not held back: it is a wait on the
network, and its reply is read (a few hundred microseconds of this process) when it comes.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import deque
from collections.abc import Callable
from datetime import timedelta

import anyio

from memvault.config import LLMConfig
from memvault.core.extract.apply import apply_facts
from memvault.core.extract.client import ChatModel
from memvault.core.extract.prompt import messages
from memvault.core.extract.summaries import Summaries
from memvault.core.foreground import Foreground
from memvault.core.timeutil import utc_now
from memvault.errors import MemvaultError
from memvault.models import ExtractionReport, Memory
from memvault.stores.base import EpisodicStore, ExtractionQueue, Job, ProfileStore

__all__ = ["Extraction"]

log = logging.getLogger("memvault.extract")

POLL_SECONDS = 2.0
_MAX_DELAY = 3600.0


class Extraction:
    def __init__(self, config: LLMConfig, episodic: EpisodicStore, profile: ProfileStore, *,
                 max_value_bytes: int, max_keys: int,
                 on_summary: Callable[[Memory], None] | None = None) -> None:
        self.config = config
        #: The writes the lanes yield to: the engine marks each of its writes in it.
        self.foreground = Foreground(
            quiet_seconds=config.quiet_seconds,
            max_wait_seconds=min(config.max_yield_seconds, config.lease_seconds / 4))
        #: Session summaries, worked by the same worker when ``config.summaries`` is on.
        self.summaries = Summaries(config, episodic, self.foreground, on_summary)
        self.queue = episodic if isinstance(episodic, ExtractionQueue) else None
        self._episodic, self._profile = episodic, profile
        self._limits = {"max_value_bytes": max_value_bytes, "max_keys": max_keys}
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = anyio.Event()
        self._finished = anyio.Event()
        self._sent: deque[float] = deque()
        self._tokens_checked = (-POLL_SECONDS, True)  # (when, within the day's tokens)
        self._model: ChatModel | None = None
        self.running = False
        #: Set once :meth:`run` has made its model client and started its lanes.
        self.started = anyio.Event()
        self.last_error: str | None = None

    @property
    def active(self) -> bool:
        return self.config.enabled and self.queue is not None

    def wants(self, user_id: str) -> bool:
        """Whether a new memory of ``user_id`` is queued for extraction."""
        return self.queue is not None and self.config.extracts_for(user_id)

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        if not self.config.enabled or self.queue is None:
            return
        self._model = ChatModel(self.config)
        self.running = True
        self.started.set()
        try:
            async with anyio.create_task_group() as group:
                for _ in range(self.config.concurrency):
                    group.start_soon(self._lane, self.queue)
                if self.summaries.active:
                    group.start_soon(self.summaries.lane, self.worker_id, self._model,
                                     self._summary_gate, self._count_request)
        finally:
            self.running = False
            with anyio.CancelScope(shield=True):
                try:
                    await self.queue.release_jobs(self.worker_id)
                    if self.summaries.queue is not None and self.summaries.active:
                        await self.summaries.queue.release_summaries(self.worker_id)
                except MemvaultError as exc:
                    log.warning("could not give back claimed jobs (their lease ends): %s", exc)
                await self._model.aclose()

    async def _lane(self, queue: ExtractionQueue) -> None:
        while True:
            try:
                started = anyio.current_time()
                await self.foreground.quiet()
                if not await self._within_caps(queue):
                    await self._idle(POLL_SECONDS * 5)
                    continue
                jobs = await queue.claim_jobs(self.worker_id, limit=1,
                                              lease_seconds=self.config.lease_seconds,
                                              now=utc_now())
                if not jobs:
                    await self._idle(POLL_SECONDS)
                    continue
                await self._do(queue, jobs[0], started)
            except MemvaultError as exc:  # the queue itself failed: try again later
                self.last_error = str(exc)
                log.warning("profile extraction paused: %s", exc)
                await anyio.sleep(POLL_SECONDS)

    async def _idle(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self._wake.wait()
        self._wake = anyio.Event()

    async def _within_caps(self, queue: ExtractionQueue) -> bool:
        now = anyio.current_time()
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.config.requests_per_minute:
            await anyio.sleep(self._sent[0] + 60.0 - now)
            return False
        # The day's tokens are summed over the queues' rows: asked at most every
        # POLL_SECONDS, not once a job, so the lanes' reads stay off the adds' connection.
        checked, within = self._tokens_checked
        if now - checked >= POLL_SECONDS:
            stats = await queue.job_stats(now=utc_now(), failures=0)
            spent = stats.tokens_24h + await self.summaries.tokens_24h()
            within = spent < self.config.tokens_per_day
            self._tokens_checked = (now, within)
        return within

    async def _summary_gate(self) -> bool:
        assert self.queue is not None
        return await self._within_caps(self.queue)

    def _count_request(self) -> None:
        self._sent.append(anyio.current_time())

    async def _do(self, queue: ExtractionQueue, job: Job, started: float) -> None:
        """Extract ``job`` (claimed); its writes wait for a quiet foreground, up to the
        bound counted from ``started``."""
        assert self._model is not None
        found = await self._episodic.get(job.user_id, [job.memory_id])
        if not found or not self.config.extracts_for(job.user_id) or found[0].derived:
            await queue.finish_job(self.worker_id, job.memory_id, tokens=0, now=utc_now())
            self._finished.set()
            return
        memory = found[0]
        profile = await self._profile.get(memory.user_id)
        self._sent.append(anyio.current_time())
        try:
            facts, tokens = await self._model.extract(
                messages(memory, profile, max_chars=self.config.max_input_chars))
            await self.foreground.quiet(started)
            written = await apply_facts(self._profile, memory, facts, **self._limits)
        except MemvaultError as exc:
            self.last_error = f"memory {job.memory_id}: {exc}"
            delay = min(self.config.retry_seconds * 2 ** (job.attempts - 1), _MAX_DELAY)
            await self.foreground.quiet(started)
            now = utc_now()
            await queue.retry_job(self.worker_id, job.memory_id, error=str(exc), tokens=0,
                                  not_before=now + timedelta(seconds=delay),
                                  max_attempts=self.config.max_attempts, now=now)
            log.info("extraction of %s failed (attempt %d): %s", job.memory_id,
                     job.attempts, exc)
            self._finished.set()
            return
        await self.foreground.quiet(started)
        await queue.finish_job(self.worker_id, job.memory_id, tokens=tokens, now=utc_now())
        log.info("extraction of %s done: %d fact(s)", job.memory_id, len(written))
        self._finished.set()

    async def wait_until_done(self, timeout: float) -> bool:
        """Wait until no job of the store is queued (done or failed, by any process), up to
        ``timeout`` seconds; whether it came to that. Jobs finished here wake the wait;
        other processes' are seen by polling."""
        if self.queue is None:
            return True
        with anyio.move_on_after(timeout):
            while (await self.queue.job_stats(now=utc_now(), failures=0)).queued:
                with anyio.move_on_after(POLL_SECONDS):
                    await self._finished.wait()
                self._finished = anyio.Event()
            return True
        return False

    async def report(self, *, read_queue: bool = True) -> ExtractionReport:
        """The state for ``doctor``; without ``read_queue`` the queue is not asked."""
        if not self.config.enabled:
            return ExtractionReport(state="off")
        base = ExtractionReport(state="unsupported", model=self.config.model,
                                base_url=self.config.base_url, max_queue=self.config.max_queue)
        if self.queue is None:
            return base
        if not read_queue:
            return base.model_copy(update={"state": "running" if self.running else "stopped",
                                           "last_error": self.last_error})
        stats = await self.queue.job_stats(now=utc_now())
        deferred = max(0, stats.queued - self.config.max_queue)
        return base.model_copy(update={
            "state": "running" if self.running else "stopped", "queue": stats,
            "deferred": deferred, "last_error": self.last_error,
            "over_cap": deferred > 0 or stats.tokens_24h >= self.config.tokens_per_day,
            "summaries": await self.summaries.stats(),
        })
