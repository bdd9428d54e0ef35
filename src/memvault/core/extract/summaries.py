"""Session summaries: the extraction worker also asks the model for a short summary of each
finished session, stored as a derived memory (:class:`~memvault.models.Derived`) linked to
its turns. Optional: ``llm.summaries`` (off by default).

A session is finished when it has had no new turn for ``llm.summary_idle_seconds``: each add
of a turn arms the session's job in the store (:class:`~memvault.stores.base.SummaryQueue`),
due that long after it, so nothing has to watch the clock and a crash loses nothing. A new
turn after the summary arms the job again, and the next summary replaces the old one. The
reply must be JSON ``{"summary": "..."}``; anything else (not JSON, another shape, empty, too
long) retries the job with backoff and then fails it with its reason, and the turns are
never touched. Summaries are never extracted into the profile, and never queued for it.
The lane yields to this process's writes as the extraction lanes do
(:mod:`memvault.core.extract.worker`): it claims a job, and writes its summary, only in a
pause of the adds, or once the job has waited the bound.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import anyio

from memvault.config import LLMConfig
from memvault.core.extract.client import ChatModel
from memvault.core.extract.schema import reply_json
from memvault.core.foreground import Foreground
from memvault.core.ids import new_id
from memvault.core.text.entities import extract_entities
from memvault.core.timeutil import utc_now
from memvault.errors import MemvaultError, ModelReplyInvalid
from memvault.models import Derived, Memory, QueueStats
from memvault.stores.base import EpisodicStore, SummaryJob, SummaryQueue

__all__ = ["MAX_SUMMARY_CHARS", "SOURCE", "Summaries", "read_summary", "summary_messages"]

log = logging.getLogger("memvault.extract")

#: A longer summary is a reply gone wrong: the job is retried.
MAX_SUMMARY_CHARS = 4_000
#: The answer's token budget: a small model may otherwise ramble until its context is full
#: (the reply is then cut, not JSON, and retried).
MAX_SUMMARY_TOKENS = 600
#: The ``source`` of a summary memory: memvault wrote it, no agent said it.
SOURCE = "memvault-summary"
_MAX_DELAY = 3600.0
POLL_SECONDS = 2.0

SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["summary"],
    "properties": {"summary": {"type": "string"}},
}

_SYSTEM = """You summarise one conversation for a memory index, so that later questions
about it find it. In two to five sentences say who talked about what: the topics, decisions,
plans, facts about the people, names, places and dates mentioned. Write in the third person;
do not invent anything. Answer with JSON only: {"summary": "..."}."""


def summary_messages(turns: Sequence[Memory], *, max_chars: int) -> list[dict[str, str]]:
    """The chat messages asking for a summary of ``turns`` (oldest first); at most
    ``max_chars`` of the turns are sent (the middle of a long session is left out)."""
    lines = [f"[{t.occurred_at.date().isoformat()}] {' '.join(t.content.split())}"
             for t in turns]
    text = "\n".join(lines)
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + "\n[...]\n" + text[-half:]
    return [{"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"Conversation:\n{text}"}]


def read_summary(answer: dict[str, Any], what: str) -> tuple[str, int]:
    """The summary in a chat-completions ``answer`` and the tokens it reports; raises
    :class:`~memvault.errors.ModelReplyInvalid` unless the message is JSON
    ``{"summary": text}`` (a fenced block accepted) with text of 1 to
    :data:`MAX_SUMMARY_CHARS` characters."""
    data, tokens = reply_json(answer, what)
    summary = data.get("summary") if isinstance(data, dict) else None
    if not isinstance(summary, str):
        raise ModelReplyInvalid(f"{what}: the message is not {{\"summary\": text}}")
    summary = " ".join(summary.split())
    if not summary or len(summary) > MAX_SUMMARY_CHARS:
        raise ModelReplyInvalid(
            f"{what}: the summary is {'empty' if not summary else 'too long'}")
    return summary, tokens


class Summaries:
    """The session-summary lane of the extraction worker (one per engine). ``on_written``
    is called with each summary stored (the engine queues its vectors); ``foreground`` is
    what the lane yields to."""

    def __init__(self, config: LLMConfig, episodic: EpisodicStore, foreground: Foreground,
                 on_written: Callable[[Memory], None] | None = None) -> None:
        self.config = config
        self.foreground = foreground
        self.queue = episodic if isinstance(episodic, SummaryQueue) else None
        self.on_written = on_written
        self._finished = anyio.Event()

    @property
    def active(self) -> bool:
        return self.config.summaries and self.config.enabled and self.queue is not None

    def after(self, user_id: str) -> float | None:
        """The idle seconds after which a new turn of ``user_id`` is summarised; ``None``
        when their sessions are not."""
        if self.queue is None or not self.config.summarises_for(user_id):
            return None
        return self.config.summary_idle_seconds

    async def lane(self, worker: str, model: ChatModel,
                   gate: Callable[[], Awaitable[bool]], sent: Callable[[], None]) -> None:
        """Work session jobs until cancelled: ``gate`` says whether the caps leave room for
        a request, ``sent`` counts one."""
        queue = self.queue
        assert queue is not None
        while True:
            try:
                started = anyio.current_time()
                await self.foreground.quiet()
                if not await gate():
                    await anyio.sleep(POLL_SECONDS * 5)
                    continue
                job = await queue.claim_summary(worker, lease_seconds=self.config.lease_seconds,
                                                now=utc_now())
                if job is None:
                    await anyio.sleep(POLL_SECONDS)
                    continue
                sent()
                await self.summarise(queue, worker, model, job, started)
            except MemvaultError as exc:  # the queue itself failed: try again later
                log.warning("session summaries paused: %s", exc)
                await anyio.sleep(POLL_SECONDS)

    async def summarise(self, queue: SummaryQueue, worker: str, model: ChatModel,
                        job: SummaryJob, started: float | None = None) -> None:
        """Summarise ``job`` (claimed); its writes wait for a quiet foreground, up to the
        bound counted from ``started`` (default now)."""
        started = anyio.current_time() if started is None else started
        turns = await queue.session_turns(job.user_id, job.session_id)
        summary: Memory | None = None
        tokens = 0
        if turns and self.config.summarises_for(job.user_id):
            try:
                answer = await model.ask(
                    summary_messages(turns, max_chars=self.config.summary_max_chars),
                    "session_summary", SCHEMA, max_tokens=MAX_SUMMARY_TOKENS)
                text, tokens = read_summary(answer, model.what)
            except MemvaultError as exc:
                delay = min(self.config.retry_seconds * 2 ** (job.attempts - 1), _MAX_DELAY)
                await self.foreground.quiet(started)
                now = utc_now()
                await queue.retry_summary(worker, job, error=str(exc),
                                          not_before=now + timedelta(seconds=delay),
                                          max_attempts=self.config.max_attempts, now=now)
                log.info("summary of session %s failed (attempt %d): %s", job.session_id,
                         job.attempts, exc)
                self._finished.set()
                return
            summary = summary_memory(turns, text)
        await self.foreground.quiet(started)
        written = await queue.write_summary(worker, job, summary, tokens=tokens, now=utc_now())
        if written and summary is not None and self.on_written is not None:
            self.on_written(summary)
        log.info("summary of session %s %s", job.session_id,
                 "written" if written else "dropped: the job was taken over")
        self._finished.set()

    async def tokens_24h(self) -> int:
        if not self.active:
            return 0
        assert self.queue is not None
        return (await self.queue.summary_stats(now=utc_now(), failures=0)).tokens_24h

    async def stats(self) -> QueueStats | None:
        if not self.active:
            return None
        assert self.queue is not None
        return await self.queue.summary_stats(now=utc_now())

    async def wait_until_done(self, timeout: float) -> bool:
        """Wait until no session job is queued (sessions not idle yet included: the wait
        covers their idle time), up to ``timeout`` seconds; whether it came to that."""
        if not self.active:
            return True
        assert self.queue is not None
        with anyio.move_on_after(timeout):
            while (await self.queue.summary_stats(now=utc_now(), failures=0)).queued:
                with anyio.move_on_after(POLL_SECONDS / 4):
                    await self._finished.wait()
                self._finished = anyio.Event()
            return True
        return False


def summary_memory(turns: Sequence[Memory], text: str) -> Memory:
    """The derived memory summarising ``turns`` (one session's, oldest first)."""
    last = turns[-1]
    return Memory(
        id=new_id(), user_id=last.user_id, agent_id=None, session_id=last.session_id,
        content=text, occurred_at=max(t.occurred_at for t in turns), created_at=utc_now(),
        metadata={}, source=SOURCE, entities=extract_entities(text),
        derived=Derived(kind="summary", source_ids=[t.id for t in turns]),
    )
