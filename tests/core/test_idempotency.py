"""Retries never duplicate: the SDK's idempotency key.

Contract: ``add(..., idempotency_key=KEY)`` stores the memory once per ``(user, KEY)``.
Called again with the same key and the same request (content, session, agent, metadata,
occurred_at, source, profile), it stores nothing and returns the memory the first call stored
(equal to it, same id); with the same key and any other request it raises
:class:`InvalidInput` naming ``idempotency_key`` and changes nothing. Keys are per user
(alice's ``k1`` and bob's ``k1`` are unrelated), survive closing and reopening the store, and
hold for retries that run at the same time as the first call. A blank key is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from memvault import IdempotencyConflict, InvalidInput, Memory, Memvault, SyncMemvault

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

BODY: dict[str, Any] = {
    "session_id": "chat-1",
    "metadata": {"topic": "travel"},
    "occurred_at": "2024-05-01T10:00:00+00:00",
    "profile": {"trip": "Lisbon"},
}


def _open(database: Path, user: str = "alice") -> Memvault:
    return Memvault.open(database, user_id=user, embedder="none")


async def _stored(mv: Memvault, user: str | None = None) -> list[Memory]:
    return (await mv.list(user_id=user, limit=100)).items


async def test_the_same_key_and_body_return_the_first_memory(tmp_path: Path) -> None:
    async with _open(tmp_path / "m.db") as mv:
        first = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
        second = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
        assert second.id == first.id
        assert second == first
        assert [m.id for m in await _stored(mv)] == [first.id]
        working = await mv.list(session_id="chat-1", memory_type="working", limit=100)
        assert [m.id for m in working.items] == [first.id]
        profile = await mv.get_profile(include_history=True)
        assert [(f.key, f.source_memory_ids) for f in profile.facts] == [("trip", [first.id])]
        assert profile.history == []


async def test_a_key_without_other_fields_is_replayed_too(tmp_path: Path) -> None:
    """Without occurred_at the first add is stamped with its own time; the retry, made
    later, is still the same request and gets the first memory back."""
    async with _open(tmp_path / "m.db") as mv:
        first = await mv.add("Anna likes tea", idempotency_key="tea")
        second = await mv.add("Anna likes tea", idempotency_key="tea")
        assert second == first
        assert len(await _stored(mv)) == 1


@pytest.mark.parametrize("change", [
    {"content": "Booked the Porto flight"},
    {"session_id": "chat-2"},
    {"metadata": {"topic": "work"}},
    {"occurred_at": "2024-05-02T10:00:00+00:00"},
    {"profile": {"trip": "Porto"}},
], ids=["content", "session_id", "metadata", "occurred_at", "profile"])
async def test_the_same_key_with_another_body_is_refused(
    tmp_path: Path, change: dict[str, Any]
) -> None:
    async with _open(tmp_path / "m.db") as mv:
        first = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
        other = {"content": "Booked the Lisbon flight", **BODY, **change}
        with pytest.raises(InvalidInput, match="idempotency_key"):
            await mv.add(idempotency_key="k1", **other)
        assert [m.id for m in await _stored(mv)] == [first.id]
        profile = await mv.get_profile(include_history=True)
        assert [(f.key, f.value) for f in [*profile.facts, *profile.history]] == [
            ("trip", "Lisbon")]


async def test_keys_are_per_user(tmp_path: Path) -> None:
    async with _open(tmp_path / "m.db") as mv:
        alice = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
        bob = await mv.add("Booked the Lisbon flight", idempotency_key="k1", user_id="bob",
                           **BODY)
        assert bob.id != alice.id
        assert bob.user_id == "bob"
        assert [m.id for m in await _stored(mv)] == [alice.id]
        assert [m.id for m in await _stored(mv, "bob")] == [bob.id]
        # Bob's key with another body is bob's business: refused for him, alice untouched.
        with pytest.raises(InvalidInput, match="idempotency_key"):
            await mv.add("something else", idempotency_key="k1", user_id="bob")
        assert await mv.add("Booked the Lisbon flight", idempotency_key="k1",
                            **BODY) == alice


async def test_a_key_is_remembered_after_reopening(tmp_path: Path) -> None:
    database = tmp_path / "m.db"
    async with _open(database) as mv:
        first = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
    async with _open(database) as mv:
        again = await mv.add("Booked the Lisbon flight", idempotency_key="k1", **BODY)
        assert again == first
        assert len(await _stored(mv)) == 1


async def test_concurrent_retries_store_one_memory(tmp_path: Path) -> None:
    results: list[Memory] = []
    async with _open(tmp_path / "m.db") as mv:

        async def attempt() -> None:
            results.append(await mv.add("Booked the Lisbon flight", idempotency_key="k1",
                                        **BODY))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for _ in range(5):
                    group.start_soon(attempt)
        assert len(results) == 5
        assert len({m.id for m in results}) == 1
        assert len(await _stored(mv)) == 1
        profile = await mv.get_profile(include_history=True)
        assert [f.source_memory_ids for f in profile.facts] == [[results[0].id]]


@pytest.mark.parametrize("key", ["", "   "])
async def test_a_blank_key_is_refused(tmp_path: Path, key: str) -> None:
    async with _open(tmp_path / "m.db") as mv:
        with pytest.raises(InvalidInput, match="idempotency_key"):
            await mv.add("Anna likes tea", idempotency_key=key)
        assert await _stored(mv) == []


def test_the_blocking_sdk_takes_the_key(tmp_path: Path) -> None:
    with SyncMemvault.open(tmp_path / "m.db", user_id="alice", embedder="none") as mv:
        first = mv.add("Anna likes tea", idempotency_key="tea")
        assert mv.add("Anna likes tea", idempotency_key="tea") == first
        with pytest.raises(InvalidInput, match="idempotency_key"):
            mv.add("Anna likes coffee", idempotency_key="tea")
        assert [m.id for m in mv.list().items] == [first.id]


async def test_outcomes_say_which_items_were_replayed(tmp_path: Path) -> None:
    """For the REST door's ``Idempotent-Replayed``: a batch repeating a key, and a retry."""
    async with _open(tmp_path / "m.db") as mv:
        items = [{"content": "Anna likes tea", "idempotency_key": "tea"},
                 {"content": "Anna likes tea", "idempotency_key": "tea"},
                 {"content": "no key"}]
        first = await mv.add_outcomes(items)
        assert [o.replayed for o in first] == [False, True, False]
        assert first[1].memory == first[0].memory
        again = await mv.add_outcomes(items[:1])
        assert [(o.memory, o.replayed) for o in again] == [(first[0].memory, True)]
        with pytest.raises(IdempotencyConflict, match="item 1: idempotency_key"):
            await mv.add_many([{"content": "a", "idempotency_key": "x"},
                               {"content": "b", "idempotency_key": "x"}])
        assert len(await _stored(mv)) == 2
