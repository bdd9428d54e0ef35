"""``memvault rekey --fields`` on the graph stores: every sealed field not yet under the
current key (or written before content was sealed) is sealed under it, in batches.

Each batch reads values, seals them and writes them back only where the node still holds
what was read (compare and set), so a concurrent update is never overwritten: a skipped node
is found again by the next batch. Rewriting a memory's metadata also rewrites its filter
tokens and empties its analysed text (:mod:`memvault.stores.graph.sealing`); a memory
written before content was sealed also gets its idempotency key's token and its sealed
request hash (one sealed under an old key keeps its token, which lookups still try while
that key is configured, and has its request hash re-sealed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from memvault.stores.crypto import check_sealed
from memvault.stores.graph.dialect import metadata_pairs
from memvault.stores.graph.sealing import Sealer, open_plain

__all__ = ["SealedRekeying"]

_STALE = ("NOT (%(n)s.content STARTS WITH $prefix AND %(n)s.metadata STARTS WITH $prefix"
          " AND (%(n)s.data IS NULL OR %(n)s.data STARTS WITH $prefix))")

_MEMORIES = f"""
MATCH (m:Memory) WHERE {_STALE % {"n": "m"}}
RETURN m.id, m.user_id, m.content, m.metadata, m.idempotency_key, m.request_hash, m.data
LIMIT $limit
"""
_SET_MEMORIES = """
UNWIND $rows AS row
MATCH (m:Memory {id: row.id})
WHERE m.content = row.was_content AND m.metadata = row.was_metadata
    AND coalesce(m.data, '') = coalesce(row.was_data, '')
SET m.content = row.content, m.metadata = row.metadata, m.metadata_pairs = row.pairs,
    m.text = '', m.idempotency_key = row.idempotency_key, m.request_hash = row.request_hash,
    m.data = row.data, m.data_pairs = row.data_pairs
RETURN count(m)
"""
_VERSIONS = f"""
MATCH (m:Memory)-[:VERSION]->(v:MemoryVersion) WHERE {_STALE % {"n": "v"}}
RETURN m.id, m.user_id, v.version, v.content, v.metadata, v.data LIMIT $limit
"""
_SET_VERSIONS = """
UNWIND $rows AS row
MATCH (m:Memory {id: row.id})-[:VERSION]->(v:MemoryVersion {version: row.version})
WHERE v.content = row.was_content AND v.metadata = row.was_metadata
    AND coalesce(v.data, '') = coalesce(row.was_data, '')
SET v.content = row.content, v.metadata = row.metadata, v.data = row.data
RETURN count(v)
"""
_PENDING = """
MATCH (p:Pending) WHERE NOT p.facts STARTS WITH $prefix
RETURN p.memory_id, p.user_id, p.facts LIMIT $limit
"""
_SET_PENDING = """
UNWIND $rows AS row
MATCH (p:Pending {memory_id: row.id})
WHERE p.user_id = row.user_id AND p.facts = row.was
SET p.facts = row.facts
RETURN count(p)
"""
_COUNT = "MATCH (n:%(label)s) WHERE %(stale)s RETURN count(n)"
_SEALED_SAMPLE = """
MATCH (m:Memory) WHERE m.content STARTS WITH 'mv1:' RETURN m.content LIMIT 100
"""


def _resealed(sealer: Sealer, user_id: str, memory_id: str, data: object) -> str | None:
    """A typed memory's data sealed under the current key (``None`` for an untyped one)."""
    if data is None:
        return None
    return sealer.seal(user_id, memory_id, "data", str(sealer.open(user_id, memory_id, "data",
                                                                    data)))


class SealedRekeying:
    """The :class:`memvault.core.encryption.FieldRekeying` methods of a graph store; with no
    sealer (``encrypt_content`` off) there is nothing to re-seal."""

    _sealer: Sealer | None

    async def _rows(self, template: str, params: dict[str, Any], *, write: bool = False,
                    **fragments: str) -> list[list[Any]]:
        raise NotImplementedError

    async def check_keys(self) -> None:
        """Refuse (:class:`~memvault.errors.EncryptionError`) a store whose sealed memories
        the configured keys do not open, from a sample of them."""
        sealed = [str(row[0]) for row in await self._rows(_SEALED_SAMPLE, {})]
        if self._sealer is None:
            for value in sealed[:1]:
                open_plain(value)
            return
        check_sealed(sealed, self._sealer.cipher.keys, "the memories in the graph store")

    async def fields_to_rekey(self) -> int:
        if self._sealer is None:
            return 0
        prefix = {"prefix": self._sealer.current_prefix}
        total = 0
        for label, stale in (("Memory", _STALE % {"n": "n"}),
                             ("MemoryVersion", _STALE % {"n": "n"}),
                             ("Pending", "NOT n.facts STARTS WITH $prefix")):
            rows = await self._rows(_COUNT % {"label": label, "stale": stale}, prefix)
            total += int(rows[0][0]) if rows else 0
        return total

    async def rekey_fields(self, *, batch: int, progress: Callable[[int], None]) -> int:
        sealer = self._sealer
        if sealer is None:
            return 0
        done = 0
        for step in (self._memories, self._versions, self._pending):
            while True:
                written = await step(sealer, batch)
                if written:
                    done += written
                    progress(written)
                if not written:  # nothing left, or only nodes changed meanwhile: next run
                    break
        return done

    async def _memories(self, sealer: Sealer, batch: int) -> int:
        params = {"prefix": sealer.current_prefix, "limit": batch}
        rows = []
        for (memory_id, user_id, content, metadata, key, digest,
             data) in await self._rows(_MEMORIES, params):
            plain = sealer.open(user_id, memory_id, "metadata", metadata)
            fields = _resealed(sealer, user_id, memory_id, data)
            if key is not None and not sealer.cipher.is_sealed(content):
                key = sealer.idempotency_token(user_id, key)  # it was the caller's own key
            if digest is not None:
                digest = sealer.seal(user_id, memory_id, "request_hash",
                                     sealer.open(user_id, memory_id, "request_hash", digest))
            rows.append({
                "idempotency_key": key, "request_hash": digest,
                "id": memory_id, "was_content": content, "was_metadata": metadata,
                "was_data": data, "data": fields,
                "data_pairs": sealer.pairs(metadata_pairs(json.loads(
                    sealer.open(user_id, memory_id, "data", data) or "{}"))),
                "content": sealer.seal(user_id, memory_id, "content",
                                       sealer.open(user_id, memory_id, "content", content)),
                "metadata": sealer.seal(user_id, memory_id, "metadata", plain),
                "pairs": sealer.pairs(metadata_pairs(json.loads(plain))),
            })
        return await self._write(_SET_MEMORIES, rows)

    async def _versions(self, sealer: Sealer, batch: int) -> int:
        params = {"prefix": sealer.current_prefix, "limit": batch}
        rows = []
        for memory_id, user_id, version, content, metadata, data in await self._rows(
                _VERSIONS, params):
            rows.append({
                "id": memory_id, "version": version, "was_content": content,
                "was_metadata": metadata, "was_data": data,
                "data": _resealed(sealer, user_id, memory_id, data),
                "content": sealer.seal(user_id, memory_id, "content",
                                       sealer.open(user_id, memory_id, "content", content)),
                "metadata": sealer.seal(user_id, memory_id, "metadata",
                                        sealer.open(user_id, memory_id, "metadata", metadata)),
            })
        return await self._write(_SET_VERSIONS, rows)

    async def _pending(self, sealer: Sealer, batch: int) -> int:
        params = {"prefix": sealer.current_prefix, "limit": batch}
        rows = [
            {"id": memory_id, "user_id": user_id, "was": facts,
             "facts": sealer.seal(user_id, memory_id, "pending",
                                  sealer.open(user_id, memory_id, "pending", facts))}
            for memory_id, user_id, facts in await self._rows(_PENDING, params)
        ]
        return await self._write(_SET_PENDING, rows)

    async def _write(self, template: str, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        result = await self._rows(template, {"rows": rows}, write=True)
        return int(result[0][0]) if result else 0
