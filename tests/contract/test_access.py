"""The key and audit contracts of the profile stores (see memvault.stores.base.KeyStore and
AuditStore): every profile backend keeps both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memvault.errors import InvalidInput
from memvault.models import ApiKey, AuditEntry
from memvault.stores.base import AuditStore, KeyStore, ProfileStore
from tests.contract.conftest import Factory

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _key(key_id: str, user: str = "alice", **fields: object) -> ApiKey:
    return ApiKey.model_validate({"id": key_id, "user_id": user, "scope": "write",
                                  "created_at": T0, **fields})


def _entry(entry_id: str, user: str = "alice", **fields: object) -> AuditEntry:
    return AuditEntry.model_validate({"id": entry_id, "at": T0, "user_id": user,
                                      "subject": "key_a", "action": "add", **fields})


def _access(store: ProfileStore) -> KeyStore:
    assert isinstance(store, KeyStore)
    assert isinstance(store, AuditStore)
    return store


async def test_keys_are_stored_listed_and_found_with_their_hash(profile: ProfileStore) -> None:
    keys = _access(profile)
    first = _key("key_1", name="crm", agent_id="crm-bot", scope="read",
                 expires_at=T0 + timedelta(days=30))
    await keys.add_key(first, "sha256$salt$digest")
    await keys.add_key(_key("key_2", user="bob", created_at=T0 + timedelta(seconds=1)), "h2")
    assert await keys.find_key("key_1") == (first, "sha256$salt$digest")
    assert await keys.find_key("key_nope") is None
    assert [k.id for k in await keys.list_keys()] == ["key_1", "key_2"]
    assert await keys.list_keys("alice") == [first]
    assert await keys.list_keys("carol") == []
    with pytest.raises(InvalidInput, match="key_1"):
        await keys.add_key(_key("key_1", user="mallory"), "other")
    assert await keys.find_key("key_1") == (first, "sha256$salt$digest")


async def test_revoking_keeps_the_first_time_and_touching_only_moves_forward(
    profile: ProfileStore,
) -> None:
    keys = _access(profile)
    await keys.add_key(_key("key_1"), "h")
    revoked = await keys.revoke_key("key_1", T0 + timedelta(hours=1))
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(hours=1)
    again = await keys.revoke_key("key_1", T0 + timedelta(hours=2))
    assert again is not None
    assert again.revoked_at == T0 + timedelta(hours=1)
    assert await keys.revoke_key("key_nope", T0) is None
    await keys.touch_key("key_1", T0 + timedelta(minutes=5))
    await keys.touch_key("key_1", T0 + timedelta(minutes=1))
    found = await keys.find_key("key_1")
    assert found is not None
    assert found[0].last_used_at == T0 + timedelta(minutes=5)


async def test_a_revocation_is_seen_at_once_by_another_handle(
    profile_factory: Factory, tmp_path: Path,
) -> None:
    async with profile_factory(tmp_path) as one, profile_factory(tmp_path) as two:
        await _access(one).add_key(_key("key_1"), "h")
        found = await _access(two).find_key("key_1")
        assert found is not None
        assert found[0].revoked_at is None
        await _access(one).revoke_key("key_1", T0)
        found = await _access(two).find_key("key_1")
        assert found is not None
        assert found[0].revoked_at == T0


async def test_the_audit_trail_pages_per_user_either_way(profile: ProfileStore) -> None:
    audit = _access(profile)
    assert isinstance(audit, AuditStore)
    entries = [_entry(f"A{i:02d}", memory_ids=[f"m{i}"], keys=["diet"] if i == 1 else [],
                      detail={"memories": i}, agent_id="crm-bot" if i else None,
                      at=T0 + timedelta(seconds=i)) for i in range(5)]
    await audit.record(entries)
    await audit.record([entries[0], _entry("B00", user="bob")])  # a repeated id is skipped
    newest = await audit.audit_trail("alice", limit=2)
    assert [e.id for e in newest] == ["A04", "A03"]
    more = await audit.audit_trail("alice", limit=10, beyond="A03")
    assert [e.id for e in more] == ["A02", "A01", "A00"]
    oldest = await audit.audit_trail("alice", limit=10, newest_first=False, beyond="A02")
    assert [e.id for e in oldest] == ["A03", "A04"]
    assert more[1] == entries[1]
    assert [e.id for e in await audit.audit_trail("bob", limit=10)] == ["B00"]
    await profile.delete_all("alice")  # deleting a user's profile leaves the trail
    assert len(await audit.audit_trail("alice", limit=10)) == 5
