"""Export and import as JSONL: one JSON object a line.

The first line is a header, then one line per memory (oldest first, so importing rebuilds
each session's turn-to-turn links in order), then one line per profile fact, current,
superseded and retired (a fact line without ``retired_reason``, as older exports wrote them,
is a fact never retired)::

    {"type": "header", "format": "memvault-export", "version": 1, "exported_at": "..."}
    {"type": "memory", "id": "...", "user_id": "...", "content": "...", "occurred_at": "...", ...}
    {"type": "profile_fact", "id": "...", "user_id": "...", "key": "...", "value": ..., ...}

Fields are those of :class:`~memvault.models.Memory` and
:class:`~memvault.models.ProfileFact`. Vectors are not exported; they are rebuilt by the
importing store's embedder. Importing skips ids that already exist.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ValidationError

from memvault.core.timeutil import utc_now
from memvault.errors import InvalidInput
from memvault.models import Memory, MemoryFilter, ProfileFact
from memvault.stores.base import EpisodicStore, ProfileStore

__all__ = ["FORMAT", "VERSION", "ImportReport", "export_lines", "import_lines"]

FORMAT = "memvault-export"
VERSION = 1
_PAGE = 1_000
_BATCH = 500


class ImportReport(BaseModel):
    memories: int = 0
    profile_facts: int = 0
    skipped: int = 0


async def export_lines(
    episodic: EpisodicStore, profile: ProfileStore, users: Sequence[str] | None
) -> AsyncIterator[str]:
    header = {"type": "header", "format": FORMAT, "version": VERSION,
              "exported_at": utc_now().isoformat()}
    yield json.dumps(header)
    if users is None:
        users = sorted(set(await episodic.user_ids()) | set(await profile.user_ids()))
    for user in users:
        newest_first: list[Memory] = []
        before: tuple[datetime, str] | None = None
        while True:
            page = await episodic.list(MemoryFilter(user_id=user), limit=_PAGE, before=before)
            newest_first.extend(page)
            if len(page) < _PAGE:
                break
            before = (page[-1].occurred_at, page[-1].id)
        for memory in sorted(newest_first, key=lambda m: (m.created_at, m.id)):
            yield json.dumps({"type": "memory", **memory.model_dump(mode="json")})
        for fact in await profile.get(user, include_history=True):
            yield json.dumps({"type": "profile_fact", **fact.model_dump(mode="json")})


async def import_lines(
    episodic: EpisodicStore,
    profile: ProfileStore,
    lines: Iterable[str],
    *,
    progress: Callable[[int], None] | None = None,
    after_add: Callable[[Sequence[Memory]], Awaitable[None]] | None = None,
) -> ImportReport:
    """Import an export. Every line is checked before a batch is written; a malformed line
    raises :class:`InvalidInput` naming its line number (earlier batches stay imported, and
    importing again is safe)."""
    report = ImportReport()
    memories: list[Memory] = []
    facts: list[ProfileFact] = []

    async def flush() -> None:
        if memories:
            inserted = set(await episodic.add(memories))
            report.memories += len(inserted)
            report.skipped += len(memories) - len(inserted)
            if after_add is not None:
                await after_add([m for m in memories if m.id in inserted])
            if progress is not None:
                progress(len(memories))
            memories.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            kind = obj.pop("type")
        except (ValueError, KeyError, AttributeError, TypeError):
            raise InvalidInput(f"line {number}: not a memvault export object") from None
        try:
            if kind == "header":
                if obj.get("format") != FORMAT or obj.get("version") != VERSION:
                    raise InvalidInput(f"line {number}: not a {FORMAT} v{VERSION} file")
            elif kind == "memory":
                memories.append(Memory.model_validate(obj))
            elif kind == "profile_fact":
                facts.append(ProfileFact.model_validate(obj))
            else:
                raise InvalidInput(f"line {number}: unknown type {kind!r}")
        except ValidationError as exc:
            raise InvalidInput(f"line {number}: {exc.errors()[0]['msg']}") from None
        if len(memories) >= _BATCH:
            await flush()
    await flush()
    if facts:
        added = await profile.import_facts(facts)
        report.profile_facts += added
        report.skipped += len(facts) - added
    return report
