"""Reads never fail because of what is stored, through the SDK.

Hostile values are written straight into each store, past the API that would refuse them
(see :mod:`tests.hostile_data`): lone surrogates as JSON escapes and as raw bytes, NUL, U+FFFF,
2 MB strings, metadata and profile values nested 5,000 levels deep, NaN and infinity, 1,500
profile keys more than an add may create. Then every read of the SDK must succeed:
``list`` (episodic and working), ``get``, ``search`` (with and without the session, whose
working memory it reads), ``get_profile`` with history and ``export``. What comes back is
pinned: bad characters replaced by U+FFFD, valid ones (NUL, U+FFFF) as stored, no lone
surrogate and no non-finite number anywhere, every planted memory and fact present.

Each test runs every read and reports all that failed at once. SQLite holds all three roles;
the PostgreSQL (profile), Redis (working) and FalkorDB (episodic) cases put only that role on
the server. A missing service skips, and fails under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from memvault import Memvault
from tests.hostile_data import (
    BACKENDS,
    SESSION,
    USER,
    Backend,
    assert_clean,
    hostile_stores,
    plant,
    strict_json,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def _attempt(problems: list[str], name: str, action: Callable[[], Awaitable[None]]
                   ) -> None:
    try:
        await action()
    except Exception as exc:
        problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sdk_reads_hostile_stored_data(backend: Backend, tmp_path: Path) -> None:
    async with hostile_stores(backend, tmp_path) as stores:
        hostile = await plant(stores, backend)
        problems: list[str] = []
        async with Memvault.open(**stores.settings(), user_id=USER, embedder="none") as mv:

            async def listed() -> None:
                page = await mv.list(limit=100)
                hostile.check_memories([m.model_dump() for m in page.items], complete=True)

            async def got() -> None:
                for memory_id in hostile.memories:
                    memory = await mv.get(memory_id)
                    hostile.check_memories([memory.model_dump()], complete=False)

            async def searched() -> None:
                result = await mv.search("tea", limit=100, max_chars=50_000_000)
                hostile.check_memories([h.memory.model_dump() for h in result.hits],
                                       complete=True)

            async def searched_in_session() -> None:
                result = await mv.search("turn tea", session_id=SESSION, limit=100,
                                         max_chars=50_000_000, context=2)
                assert_clean([h.model_dump() for h in result.hits], "search hits")
                working = [h.memory.model_dump() for h in result.hits
                           if h.memory_type == "working"]
                hostile.check_working(working)

            async def working() -> None:
                page = await mv.list(memory_type="working", session_id=SESSION, limit=100)
                hostile.check_working([m.model_dump() for m in page.items])

            async def profile() -> None:
                found = await mv.get_profile(include_history=True)
                hostile.check_profile([f.model_dump() for f in [*found.facts, *found.history]])

            async def exported() -> None:
                lines = [line async for line in mv.export()]
                records = [strict_json(line) for line in lines]
                assert_clean(records, "export")
                memories = [r for r in records if r["type"] == "memory"]
                hostile.check_memories(memories, complete=True)
                hostile.check_profile([r for r in records if r["type"] == "profile_fact"])

            for name, action in [("list", listed), ("get", got), ("search", searched),
                                 ("search in session", searched_in_session),
                                 ("list working", working), ("get_profile", profile),
                                 ("export", exported)]:
                await _attempt(problems, name, action)
        if problems:
            pytest.fail(f"reads failed on hostile data in {backend}:\n" + "\n".join(problems),
                        pytrace=False)
