"""Correcting through the core: update a memory (its history, index, entities and vectors),
set profile facts directly and forget one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest

from memvault import Config, InvalidInput, Memvault, NotFound
from memvault.embedders.base import Matrix
from memvault.models import MemoryFilter
from tests.core.fakes import HashEmbedder

pytestmark = pytest.mark.anyio


def _config(path: Path) -> Config:
    return Config.from_flat({"database": str(path / "m.db"), "user_id": "alice",
                             "embedder": "none"})


@pytest.fixture
async def mv(tmp_path: Path) -> AsyncIterator[Memvault]:
    async with Memvault(_config(tmp_path), embedder=HashEmbedder()) as memvault:
        yield memvault


async def test_update_keeps_the_id_and_the_old_version(mv: Memvault) -> None:
    first = await mv.add("I live in Paris", session_id="s1", metadata={"topic": "home"})
    updated = await mv.update(first.id, content="I live in Lisbon, near Alfama")
    assert (updated.id, updated.content, updated.metadata) == (
        first.id, "I live in Lisbon, near Alfama", {"topic": "home"})
    assert "lisbon" in updated.entities
    assert "paris" not in updated.entities
    assert await mv.get(first.id) == updated
    [old] = await mv.history(first.id)
    assert (old.version, old.content, old.metadata) == (1, "I live in Paris", {"topic": "home"})
    result = await mv.search("Alfama", wait_for_model=1)
    assert [h.memory.id for h in result.hits] == [first.id]
    assert all(not h.explanation.lexical or not h.explanation.lexical.matched
               for h in (await mv.search("Paris")).hits)  # by meaning only, not its words
    # The working copy (the old text) is gone; the episodic memory is found instead.
    assert (await mv.list(session_id="s1", memory_type="working")).items == []


async def test_update_of_nothing_new_stores_no_version(mv: Memvault) -> None:
    first = await mv.add("same", metadata={"a": 1})
    assert await mv.update(first.id, content="same", metadata={"a": 1}) == first
    assert await mv.history(first.id) == []


@pytest.mark.parametrize(("fields", "named"), [
    ({}, "nothing to update"),
    ({"content": "  "}, "content"),
    ({"content": 5}, "content"),
    ({"metadata": [1]}, "metadata"),
    ({"occurred_at": "yesterday-ish"}, "occurred_at"),
])
async def test_bad_input_names_the_field_and_changes_nothing(
    mv: Memvault, fields: dict[str, object], named: str,
) -> None:
    first = await mv.add("keep me", metadata={"a": 1})
    with pytest.raises(InvalidInput, match=named):
        await mv.update(first.id, **fields)  # type: ignore[arg-type]
    assert await mv.get(first.id) == first
    assert await mv.history(first.id) == []


async def test_update_of_an_unknown_or_foreign_memory_is_not_found(mv: Memvault) -> None:
    bobs = await mv.add("bob's", user_id="bob")
    with pytest.raises(NotFound):
        await mv.update(bobs.id, content="mine now")
    with pytest.raises(NotFound):
        await mv.history(bobs.id)
    with pytest.raises(NotFound):
        await mv.update("01NOPE", content="x")
    assert (await mv.get(bobs.id, user_id="bob")).content == "bob's"


class _HeldEmbedder(HashEmbedder):
    """Holds its first batch until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.started = anyio.Event()
        self.release = anyio.Event()

    async def embed(self, texts: Sequence[str]) -> Matrix:
        if not self.started.is_set():
            self.started.set()
            await self.release.wait()
        return self.vectors(texts)


async def test_a_vector_of_the_old_content_never_lands(tmp_path: Path) -> None:
    embedder = _HeldEmbedder()
    async with Memvault(_config(tmp_path), embedder=embedder) as mv:
        await mv.wait_until_ready(10)
        first = await mv.add("old words about gardening")
        with anyio.fail_after(10):
            await embedder.started.wait()
        await mv.update(first.id, content="new words about volcanoes")
        embedder.release.set()
        assert await mv.wait_for_vectors(10)
        [best] = await mv.episodic.vector_search(
            MemoryFilter(user_id="alice"), embedder.vectors(["new words about volcanoes"])[0],
            limit=1)
        assert best.memory_id == first.id
        assert best.score == pytest.approx(1.0, abs=1e-4)


async def test_set_profile_with_null_forgets_the_key(mv: Memvault) -> None:
    await mv.set_profile({"diet": "vegan", "city": "Berlin"})
    result = await mv.set_profile({"diet": None, "city": "Lisbon"})
    assert [(f.key, f.value, f.retired_reason) for f in result] == [
        ("city", "Lisbon", None), ("diet", "vegan", "forgotten")]
    profile = await mv.get_profile(include_history=True)
    assert [(f.key, f.value) for f in profile.facts] == [("city", "Lisbon")]
    assert {(f.key, f.value, f.retired_reason) for f in profile.history} == {
        ("diet", "vegan", "forgotten"), ("city", "Berlin", None)}
    assert await mv.set_profile({"diet": None}) == []  # already forgotten: nothing changes


async def test_forget_profile(mv: Memvault) -> None:
    await mv.add("I am vegan", profile={"diet": "vegan"})
    forgotten = await mv.forget_profile("diet")
    assert forgotten is not None
    assert forgotten.retired_reason == "forgotten"
    assert forgotten.valid_to is not None
    assert await mv.forget_profile("diet") is None
    assert (await mv.get_profile()).facts == []
    with pytest.raises(InvalidInput, match="key"):
        await mv.forget_profile("")
    with pytest.raises(InvalidInput, match="profile"):
        await mv.set_profile({"": None})
    with pytest.raises(InvalidInput, match="empty"):
        await mv.set_profile({})
