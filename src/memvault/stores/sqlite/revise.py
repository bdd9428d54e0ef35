"""Updates of stored memories in the embedded episodic store, and their earlier versions.

An update keeps the memory's row (its rowid, id, session link and ``created_at``), copies the
stored version into ``memory_versions`` and rewrites what depends on the content: the
passages of the full-text index, the mentions of entities and the vectors (dropped, with a
bump of the user's vector generation, so caches forget them and the sweep embeds it again).
"""

from __future__ import annotations

import json
import sqlite3

from memvault.models import JsonValue, Memory, MemoryVersion
from memvault.stores.base import Revision
from memvault.stores.codec import from_micros, load_json, to_micros
from memvault.stores.sqlite import lexical
from memvault.stores.sqlite.summaries import COLUMNS, read_memory

__all__ = ["revise", "versions"]


def revise(conn: sqlite3.Connection, revision: Revision) -> Memory | None:
    """The body of :meth:`SqliteEpisodicStore.update`, in the caller's write transaction."""
    row = conn.execute(
        f"SELECT {COLUMNS}, m.rowid FROM memories m WHERE m.user_id = ? AND m.id = ?",
        (revision.user_id, revision.memory_id),
    ).fetchone()
    if row is None:
        return None
    old, rowid = read_memory(row), int(row["rowid"])
    (last,) = conn.execute(
        "SELECT coalesce(max(version), 0) FROM memory_versions WHERE memory_rowid = ?",
        (rowid,),
    ).fetchone()
    conn.execute(
        "INSERT INTO memory_versions (memory_rowid, version, content, metadata, occurred_at,"
        " replaced_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (rowid, int(last) + 1, old.content, json.dumps(old.metadata),
         to_micros(old.occurred_at), to_micros(revision.at),
         None if old.data is None else json.dumps(old.data)),
    )
    changes: dict[str, object] = {}
    if revision.metadata is not None:
        changes["metadata"] = dict(revision.metadata)
    if revision.occurred_at is not None:
        changes["occurred_at"] = revision.occurred_at
    if revision.data is not None:
        changes["data"] = dict(revision.data)
    if revision.content is not None:
        changes["content"] = revision.content
        changes["entities"] = list(revision.entities or ())
    new = old.model_copy(update=changes)
    if revision.content is not None:
        _unindex(conn, rowid, old)
        lexical.index_memory(conn, rowid, new.user_id, new.content)
        _mention(conn, rowid, new)
        conn.execute("DELETE FROM embeddings WHERE memory_rowid = ?", (rowid,))
        conn.execute(
            "INSERT INTO vector_generations (user_id, generation) VALUES (?, 1)"
            " ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1",
            (new.user_id,),
        )
    conn.execute(
        "UPDATE memories SET content = ?, metadata = ?, occurred_at = ?, entities = ?,"
        " data = ? WHERE rowid = ?",
        (new.content, json.dumps(new.metadata), to_micros(new.occurred_at),
         json.dumps(new.entities), None if new.data is None else json.dumps(new.data), rowid),
    )
    return new


def versions(conn: sqlite3.Connection, user_id: str, memory_id: str) -> list[MemoryVersion]:
    rows = conn.execute(
        "SELECT v.version, v.content, v.metadata, v.occurred_at, v.replaced_at, v.data"
        " FROM memory_versions v JOIN memories m ON m.rowid = v.memory_rowid"
        " WHERE m.user_id = ? AND m.id = ? ORDER BY v.version",
        (user_id, memory_id),
    )
    return [MemoryVersion(version=r[0], content=r[1], metadata=load_json(r[2], {}),
                          occurred_at=from_micros(r[3]), replaced_at=from_micros(r[4]),
                          data=_object(load_json(r[5], None)))
            for r in rows]


def _object(value: object) -> dict[str, JsonValue] | None:
    return value if isinstance(value, dict) else None


def _unindex(conn: sqlite3.Connection, rowid: int, old: Memory) -> None:
    """Take the old content's passages out of the index and the user's statistics (what the
    ``passages_unindex`` trigger does when a memory is deleted)."""
    conn.execute(
        "INSERT INTO passages_fts (passages_fts, rowid, content)"
        " SELECT 'delete', p.rowid, p.analysed FROM passages p WHERE p.memory_rowid = ?",
        (rowid,),
    )
    conn.execute(
        "UPDATE lexical_users SET"
        " passages = passages - (SELECT count(*) FROM passages WHERE memory_rowid = ?),"
        " tokens = tokens"
        " - (SELECT coalesce(sum(length), 0) FROM passages WHERE memory_rowid = ?)"
        " WHERE user_id = ?",
        (rowid, rowid, old.user_id),
    )
    conn.execute("DELETE FROM passages WHERE memory_rowid = ?", (rowid,))


def _mention(conn: sqlite3.Connection, rowid: int, memory: Memory) -> None:
    conn.execute("DELETE FROM mentions WHERE memory_rowid = ?", (rowid,))
    for name in memory.entities:
        conn.execute("INSERT OR IGNORE INTO entities (user_id, name) VALUES (?, ?)",
                     (memory.user_id, name))
        conn.execute(
            "INSERT OR IGNORE INTO mentions (memory_rowid, entity_id)"
            " SELECT ?, id FROM entities WHERE user_id = ? AND name = ?",
            (rowid, memory.user_id, name),
        )
    conn.execute(
        "DELETE FROM entities WHERE user_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM mentions WHERE entity_id = entities.id)",
        (memory.user_id,),
    )
