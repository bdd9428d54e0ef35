"""The memory core through its public async API."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from memvault import Config, EmbedderMismatch, InvalidInput, Memvault, NotFound
from memvault.embedders.base import Matrix
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


def _config(path: Path, **extra: object) -> Config:
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none", **extra})


@pytest.fixture
async def mv(tmp_path: Path) -> AsyncIterator[Memvault]:
    async with Memvault(_config(tmp_path)) as memvault:
        yield memvault


async def test_add_stores_verbatim_and_is_searchable_at_once(mv: Memvault) -> None:
    text = "  Caroline's   birthday is on 12 March — she loves 🎂  "
    memory = await mv.add(text, session_id="chat-1", metadata={"topic": "people"},
                          occurred_at="2024-03-01T10:00:00+02:00", source="claude")
    assert memory.content == text
    assert memory.occurred_at == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert "caroline" in memory.entities
    result = await mv.search("when is Caroline's birthday")
    assert [h.memory.id for h in result.hits] == [memory.id]
    assert result.hits[0].memory == memory


async def test_naive_dates_are_utc(mv: Memvault) -> None:
    memory = await mv.add("x", occurred_at="2024-05-08 13:56")
    assert memory.occurred_at == datetime(2024, 5, 8, 13, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content": ""}, "content is empty"),
        ({"content": "   "}, "content is empty"),
        ({"content": 42}, "content must be a string"),
        ({"content": "x" * 2001}, "over the limit"),
        ({"content": "ok", "occurred_at": "yesterday-ish"}, "occurred_at is not an ISO 8601"),
        ({"content": "ok", "metadata": "nope"}, "metadata must be a JSON object"),
        ({"content": "ok", "metadata": {"x": object()}}, "JSON-serialisable"),
        ({"content": "ok", "profile": {"": "x"}}, "profile key"),
        ({"content": "ok", "profile": {"k": {"nested": 1}}}, "profile['k']"),
        ({"content": "ok", "profile": "risky"}, "profile must be an object"),
        ({"content": "ok", "session_id": ""}, "session_id is empty"),
    ],
)
async def test_bad_input_is_refused_and_stores_nothing(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    async with Memvault(_config(tmp_path, max_content_bytes=2000)) as mv:
        await mv.add("keep me", profile={"city": "Berlin"})
        with pytest.raises(InvalidInput, match=re.escape(message)):
            await mv.add(**kwargs)  # type: ignore[arg-type]
        page = await mv.list()
        assert [m.content for m in page.items] == ["keep me"]
        assert [f.value for f in (await mv.get_profile()).facts] == ["Berlin"]


async def test_add_many_is_all_or_nothing_on_bad_input(mv: Memvault) -> None:
    with pytest.raises(InvalidInput, match="item 1"):
        await mv.add_many([{"content": "fine"}, {"content": ""}])
    assert (await mv.list()).items == []
    stored = await mv.add_many([{"content": "one", "session_id": "s"},
                                {"content": "two", "session_id": "s"}])
    assert [m.content for m in stored] == ["one", "two"]


async def test_search_input_errors(mv: Memvault) -> None:
    with pytest.raises(InvalidInput, match="query is empty"):
        await mv.search(" ")
    with pytest.raises(InvalidInput, match="unknown filter 'colour'"):
        await mv.search("x", filters={"colour": "red"})
    with pytest.raises(InvalidInput, match="since must be earlier"):
        await mv.search("x", since="2024-02-01", until="2024-01-01")
    with pytest.raises(InvalidInput, match="limit must be between"):
        await mv.search("x", limit=0)
    with pytest.raises(InvalidInput, match="context"):
        await mv.search("x", context=9)


async def test_search_filters_and_time_range(mv: Memvault) -> None:
    await mv.add("trip to Paris in spring", occurred_at="2023-04-01", metadata={"t": "travel"})
    await mv.add("trip to Rome in autumn", occurred_at="2023-10-01", session_id="s2")
    await mv.add("work trip to Paris", occurred_at="2024-01-01", metadata={"t": "work"})

    async def found(**kwargs: object) -> list[str]:
        result = await mv.search("trip", **kwargs)  # type: ignore[arg-type]
        return sorted(h.memory.content for h in result.hits)

    assert len(await found()) == 3
    assert await found(since="2023-06-01", until="2023-12-31") == ["trip to Rome in autumn"]
    assert await found(filters={"metadata": {"t": "travel"}}) == ["trip to Paris in spring"]
    assert await found(filters={"session_id": "s2"}) == ["trip to Rome in autumn"]
    assert await found(filters={"entity": "Paris"}) == [
        "trip to Paris in spring", "work trip to Paris"]


async def test_session_turns_come_first_as_working_memory(mv: Memvault) -> None:
    await mv.add("the hotel in Lisbon was great", session_id="old")
    recent = await mv.add("book a hotel near the station", session_id="now")
    result = await mv.search("hotel", session_id="now")
    assert result.hits[0].memory.id == recent.id
    assert result.hits[0].memory_type == "working"
    assert [h.memory_type for h in result.hits] == ["working", "episodic"]
    listed = await mv.list(session_id="now", memory_type="working")
    assert [m.id for m in listed.items] == [recent.id]
    with pytest.raises(InvalidInput, match="needs a session_id"):
        await mv.list(memory_type="working")


async def test_context_and_budget(tmp_path: Path) -> None:
    async with Memvault(_config(tmp_path, max_result_chars=100)) as mv:
        turns = [await mv.add(f"turn {i} " + "x" * 20, session_id="s") for i in range(5)]
        await mv.add("needle " + "y" * 300, session_id="t")
        result = await mv.search("turn 2", context=1, max_chars=10_000)
        hit = next(h for h in result.hits if h.memory.id == turns[2].id)
        assert [m.id for m in hit.context] == [turns[1].id, turns[3].id]
        small = await mv.search("needle")
        assert small.truncated
        assert len(small.hits) == 1
        assert small.hits[0].memory.content.endswith("…")
        assert len(small.hits[0].memory.content) <= 100


async def test_list_paginates_newest_first(mv: Memvault) -> None:
    for day in range(1, 6):
        await mv.add(f"day {day}", occurred_at=f"2024-01-0{day}")
    first = await mv.list(limit=2)
    assert [m.content for m in first.items] == ["day 5", "day 4"]
    second = await mv.list(limit=2, cursor=first.next_cursor)
    third = await mv.list(limit=2, cursor=second.next_cursor)
    assert [m.content for m in second.items + third.items] == ["day 3", "day 2", "day 1"]
    assert third.next_cursor is None
    with pytest.raises(InvalidInput, match="cursor"):
        await mv.list(cursor="garbage!")


async def test_users_never_see_each_other(mv: Memvault) -> None:
    secret = await mv.add("alice's bank PIN is 1234", user_id="alice")
    await mv.add("bob likes jazz", user_id="bob", profile={"music": "jazz"})
    assert (await mv.search("PIN bank", user_id="bob")).hits == []
    assert (await mv.list(user_id="bob")).items[0].content == "bob likes jazz"
    with pytest.raises(NotFound):
        await mv.get(secret.id, user_id="bob")
    with pytest.raises(NotFound):
        await mv.delete(secret.id, user_id="bob")
    report = await mv.delete_all(user_id="bob")
    assert (report.memories, report.profile_facts) == (1, 1)
    assert (await mv.get(secret.id, user_id="alice")).content == secret.content


async def test_delete_one_and_delete_all_scoped(mv: Memvault) -> None:
    one = await mv.add("one", session_id="a")
    await mv.add("two", session_id="a", profile={"k": "v"})
    await mv.add("three", session_id="b")
    await mv.delete(one.id)
    with pytest.raises(NotFound, match=one.id):
        await mv.delete(one.id)
    assert (await mv.list(session_id="a", memory_type="working")).items[0].content == "two"
    report = await mv.delete_all(session_id="a")
    assert (report.memories, report.working, report.profile_facts) == (1, 1, 0)
    report = await mv.delete_all()
    assert (report.memories, report.profile_facts) == (1, 1)
    assert (await mv.list()).items == []


async def test_profile_from_add_supersedes_with_history(mv: Memvault) -> None:
    first = await mv.add("I like taking risks", profile={"risk_tolerance": "aggressive"})
    second = await mv.add("After the crash I want safety", profile={
        "risk_tolerance": {"value": "conservative", "category": "finance"}})
    profile = await mv.get_profile(include_history=True)
    [current] = profile.facts
    assert (current.value, current.category, current.source_memory_ids) == (
        "conservative", "finance", [second.id])
    [old] = profile.history
    assert (old.value, old.source_memory_ids) == ("aggressive", [first.id])
    assert old.valid_to == current.valid_from
    assert (await mv.get_profile()).history == []
    with pytest.raises(InvalidInput, match="profile is empty"):
        await mv.set_profile({})


async def test_export_import_reproduces_everything(tmp_path: Path) -> None:
    source = tmp_path / "a"
    target = tmp_path / "b"
    source.mkdir()
    target.mkdir()
    async with Memvault(_config(source)) as mv:
        for i in range(3):
            await mv.add(f"turn {i}", session_id="s", metadata={"i": i},
                         occurred_at=f"2024-01-0{i + 1}T10:00:00")
        await mv.add("fact", profile={"city": "Berlin"})
        await mv.add("fact again", profile={"city": "Paris"})
        await mv.add("bob's", user_id="bob")
        lines = [line async for line in mv.export()]
        everyone = [line async for line in mv.export(all_users=True)]
        original = (await mv.list(limit=100)).items
        original_profile = await mv.get_profile(include_history=True)
        context = (await mv.search("turn 1", context=1)).hits[0].context
    assert json.loads(lines[0])["format"] == "memvault-export"
    assert sum('"bob"' in line and '"audit"' not in line for line in everyone) == 1
    async with Memvault(_config(target)) as mv:
        report = await mv.import_lines(lines)
        assert (report.memories, report.profile_facts, report.skipped) == (5, 2, 0)
        again = await mv.import_lines(lines)
        assert (again.memories, again.skipped) == (0, 7)
        assert (await mv.list(limit=100)).items == original
        assert await mv.get_profile(include_history=True) == original_profile
        assert (await mv.search("turn 1", context=1)).hits[0].context == context
        assert (await mv.list(user_id="bob")).items == []
        with pytest.raises(InvalidInput, match="line 2"):
            await mv.import_lines(['{"type": "header", "format": "memvault-export", '
                                   '"version": 1}', "not json"])


async def test_vectors_load_in_background_and_backfill(tmp_path: Path) -> None:
    gate = anyio.Event()
    embedder = HashEmbedder(gate=gate)
    async with Memvault(_config(tmp_path), embedder=embedder) as mv:
        early = await mv.add("the quarterly revenue figures")
        assert mv.embedding.state == "loading"
        lexical = await mv.search("quarterly revenue")
        assert lexical.retrievers == ["lexical"]
        assert [h.memory.id for h in lexical.hits] == [early.id]
        gate.set()
        assert await mv.wait_until_ready(timeout=10) == "ready"
        with anyio.fail_after(10):
            while await mv.episodic.count_embeddings() < 1:
                await anyio.wait_all_tasks_blocked()
        late = await mv.add("the revenue of the quarter")
        assert await mv.wait_for_vectors(timeout=10)
        assert await mv.episodic.count_embeddings() == 2
        result = await mv.search("quarter revenues")
        assert result.retrievers == ["lexical", "vector"]
        assert {h.memory.id for h in result.hits} == {early.id, late.id}


async def test_another_embedder_is_refused_until_reembed(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with Memvault(config, embedder=HashEmbedder("one")) as mv:
        await mv.wait_until_ready(timeout=10)
        await mv.add("something")
    with pytest.raises(EmbedderMismatch, match="memvault reembed"):
        async with Memvault(config, embedder=HashEmbedder("two")):
            pass
    async with Memvault(config, embedder=HashEmbedder("two", dimensions=32),
                        check_embedder=False) as mv:
        assert await mv.reembed() == 1
    async with Memvault(config, embedder=HashEmbedder("two", dimensions=32)) as mv:
        assert await mv.wait_until_ready(timeout=10) == "ready"
        assert (await mv.search("something")).retrievers == ["lexical", "vector"]
    async with Memvault(config) as mv:  # no embedder: lexical search, vectors kept
        assert (await mv.search("something")).hits
        assert await mv.episodic.count_embeddings() == 1


async def test_adds_do_not_wait_for_the_model(tmp_path: Path) -> None:
    """An add returns before its vector exists; it is found by its words at once and by
    meaning once the background embedder has stored the vector."""
    embedder = HashEmbedder()
    async with Memvault(_config(tmp_path), embedder=embedder) as mv:
        assert await mv.wait_until_ready(timeout=10) == "ready"
        gate = anyio.Event()
        original = embedder.embed

        async def held(texts: Sequence[str]) -> Matrix:
            if "the quarterly revenue figures" in texts:  # the memory, not a query
                await gate.wait()
            return await original(texts)

        embedder.embed = held  # type: ignore[method-assign]
        memory = await mv.add("the quarterly revenue figures")
        assert await mv.episodic.count_embeddings() == 0
        assert not await mv.wait_for_vectors(timeout=0.05)
        assert [h.memory.id for h in (await mv.search("revenue")).hits] == [memory.id]
        gate.set()
        assert await mv.wait_for_vectors(timeout=10)
        assert await mv.episodic.count_embeddings() == 1
        result = await mv.search("quarterly figures?")
        assert result.retrievers == ["lexical", "vector"]


async def test_imported_memories_get_their_vectors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with Memvault(_config(tmp_path / "a"), embedder=None) as source:
        for text in ("first memory", "second memory", "third memory"):
            await source.add(text, user_id="alice")
        lines = [line async for line in source.export(user_id="alice")]
    async with Memvault(_config(tmp_path / "b"), embedder=HashEmbedder()) as mv:
        assert await mv.wait_until_ready(timeout=10) == "ready"
        report = await mv.import_lines(lines)
        assert report.memories == 3
        assert await mv.wait_for_vectors(timeout=10)
        assert await mv.episodic.count_embeddings() == 3
